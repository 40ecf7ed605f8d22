"""The default rule set: holidays, outages, new stores, resets, DST, dirty rows, detection, determinism."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from store_anomaly.spc import SpcConfig, compute_spc
from store_anomaly.spc.checks import flags_in_warmup, flags_without_baseline, invalid_flags, malformed_limits
from store_anomaly.spc.simulate import Anomaly, Chain, StoreSpec, simulate_stores
from store_anomaly_tests.spc.helpers import frame_from_series, weekly_series

SERIES_START = date(2024, 1, 1)
SERIES_END = date(2025, 12, 31)
DEFAULT = SpcConfig.default()
# the engine's mechanics on a revenue-only series: revenue is published, not tested, by default (orders are)
TESTING_REVENUE = DEFAULT.replace(
    metric_specs={**DEFAULT.metric_specs, "revenue": dataclasses.replace(DEFAULT.metric_specs["revenue"], tested=True)}
)

# One worker builds this module's shared fixture once (`make test` runs the suite on two workers).
pytestmark = pytest.mark.xdist_group("test_default_rules")


@pytest.fixture(scope="module")
def battery() -> pl.DataFrame:
    stores = [StoreSpec(f"S{i:02d}") for i in range(16)] + [
        StoreSpec("STEP", anomaly=Anomaly("traffic", "step", -0.30, date(2025, 5, 14))),
        StoreSpec("RAMP", anomaly=Anomaly("traffic", "ramp", -0.50, date(2025, 6, 2))),
        StoreSpec("AOV", anomaly=Anomaly("ticket", "step", 0.25, date(2025, 7, 9))),
        StoreSpec("OUT", anomaly=Anomaly("outage", "outage", -1.0, date(2025, 8, 13))),
        StoreSpec("NEW", first_day=date(2025, 6, 20)),
    ]
    # every store shares a +-6% season, a 2% daily wobble and a few weather days (none is a store anomaly)
    chain = Chain(
        seasonality=0.06,
        peak_day_of_year=20,
        noise=0.02,
        events=((date(2025, 2, 12), 0.65), (date(2025, 7, 23), 0.75), (date(2025, 10, 8), 1.15)),
    )
    return simulate_stores(stores, SERIES_START, SERIES_END, seed=3, chain=chain)


@pytest.fixture(scope="module")
def result(battery: pl.DataFrame):
    return compute_spc(battery, date(2025, 1, 1), SERIES_END, DEFAULT)


def _serious(flags: pl.DataFrame) -> pl.DataFrame:
    return flags.filter(pl.col("severity").is_in(["WARNING", "CRITICAL"]))


def test_outputs_are_well_formed(result) -> None:
    assert malformed_limits(result.limits).height == 0
    assert flags_without_baseline(result.flags, result.limits).height == 0
    assert invalid_flags(result.flags).height == 0
    assert set(result.flags["rule_set"].unique()) <= {"default"}
    assert result.flags["metric_date"].min() >= date(2025, 1, 1)


def test_stable_stores_are_quiet(result) -> None:
    stable = _serious(result.flags).filter(pl.col("shop_no").str.contains(r"^S\d\d$"))
    months = 16 * 365 / 30.44
    assert stable.height / months <= 0.5
    assert stable.filter(pl.col("severity") == "CRITICAL").height == 0
    # the chain's weather days are not store anomalies
    weather = [date(2025, 2, 12), date(2025, 7, 23), date(2025, 10, 8)]
    assert stable.filter(pl.col("metric_date").is_in(weather)).height == 0


def test_step_is_flagged_within_two_days(result) -> None:
    f = _serious(result.flags).filter(
        pl.col("shop_no") == "STEP", pl.col("metric_date") >= date(2025, 5, 14), pl.col("metric_name") == "order_count"
    )
    assert (f["metric_date"].min() - date(2025, 5, 14)).days <= 2
    assert f.filter(pl.col("metric_date") == f["metric_date"].min())["direction"].to_list()[0] == "down"


def test_slow_decline_is_flagged_by_the_drift_cusum(result) -> None:
    onset = date(2025, 6, 2)
    f = _serious(result.flags).filter(
        pl.col("shop_no") == "RAMP",
        pl.col("metric_date") >= onset,
        pl.col("metric_name").is_in(["revenue", "order_count"]),
    )
    first = f["metric_date"].min()
    assert (first - onset).days <= 28
    assert "anchored_drift" in f["rule"].to_list()
    assert set(f.filter(pl.col("rule") == "anchored_drift")["direction"]) == {"down"}


def test_aov_shift_flagged_on_first_day(result) -> None:
    f = _serious(result.flags).filter(
        pl.col("shop_no") == "AOV", pl.col("metric_date") == date(2025, 7, 9), pl.col("metric_name") == "aov"
    )
    assert f.filter(pl.col("rule") == "robust_z")["direction"].to_list() == ["up"]


def test_outage_on_a_trading_day_is_critical(result) -> None:
    f = result.flags.filter(
        pl.col("shop_no") == "OUT",
        pl.col("metric_date") == date(2025, 8, 13),
        pl.col("metric_name") == "order_count",
        pl.col("rule") == "robust_z",
    )
    assert f["severity"].to_list() == ["CRITICAL"] and f["direction"].to_list() == ["down"]
    # and the outage does not enter later baselines: a week later the centre is unchanged
    lim = result.limits.filter(pl.col("shop_no") == "OUT", pl.col("metric_name") == "revenue")
    before = lim.filter(pl.col("metric_date") == date(2025, 8, 13))["center_line"][0]
    after = lim.filter(pl.col("metric_date") == date(2025, 8, 20))["center_line"][0]
    assert abs(after / before - 1) < 0.1


def test_closed_holidays_are_never_flagged_nor_in_baselines(battery, result) -> None:
    closed_days = battery.filter(pl.col("is_closed") & pl.col("holiday_name").is_not_null())
    assert closed_days.height > 0
    hit = result.flags.join(closed_days.select("shop_no", "metric_date"), on=["shop_no", "metric_date"])
    assert hit.height == 0
    # Christmas 2025 (Thursday) closed: the next Thursday's expected revenue is not dragged down by the zero
    lim = result.limits.filter(pl.col("metric_name") == "revenue", pl.col("shop_no") == "S00")
    c_before = lim.filter(pl.col("metric_date") == date(2025, 12, 18))["center_line"][0]
    c_after = lim.filter(pl.col("metric_date") == date(2026 - 1, 12, 31))  # Wed, New Year's Eve
    assert c_after.height == 1
    jan = lim.filter(pl.col("metric_date").is_between(date(2025, 12, 26), date(2025, 12, 31)))
    assert jan["center_line"].min() > 0.7 * c_before


def test_new_store_quiet_for_its_first_28_days(battery, result) -> None:
    first = battery.filter(pl.col("shop_no") == "NEW")["metric_date"].min()
    firsts = pl.DataFrame({"shop_no": ["NEW"], "first_date": [first]})
    assert flags_in_warmup(result.flags, firsts, 28).height == 0
    lim = result.limits.filter(pl.col("shop_no") == "NEW")
    assert (lim["metric_date"].min() - first).days >= 28
    # a spike on its 10th day is not flagged either
    spiked = battery.with_columns(
        pl.when((pl.col("shop_no") == "NEW") & (pl.col("metric_date") == first + timedelta(days=10)))
        .then(pl.col("revenue") * 3)
        .otherwise(pl.col("revenue"))
        .alias("revenue")
    )
    res = compute_spc(spiked.filter(pl.col("shop_no") == "NEW"), first, first + timedelta(days=40), DEFAULT)
    assert res.flags.filter(pl.col("metric_date") < first + timedelta(days=28)).height == 0


def test_full_range_and_late_sub_range_are_byte_identical(battery) -> None:
    resets = pl.DataFrame(
        {"shop_no": ["STEP"], "metric_name": [None], "reset_date": [date(2025, 6, 1)]},
        schema={"shop_no": pl.String, "metric_name": pl.String, "reset_date": pl.Date},
    )
    for config in (DEFAULT, SpcConfig.seed()):
        full = compute_spc(battery, date(2025, 1, 1), SERIES_END, config, resets)
        lo = date(2025, 9, 1)
        part_input = battery.filter(pl.col("metric_date") >= lo - timedelta(days=config.lookback_days))
        part = compute_spc(part_input, lo, date(2025, 10, 31), config, resets)

        def sub(df: pl.DataFrame, lo: date = lo) -> pl.DataFrame:
            return df.filter(pl.col("metric_date").is_between(lo, date(2025, 10, 31)))

        assert part.limits.height > 0 and part.flags.height > 0
        assert sub(full.limits).equals(part.limits), config.rule_set
        assert sub(full.flags).equals(part.flags), config.rule_set
        # and extra rows older than the lookback are ignored
        again = compute_spc(battery, lo, date(2025, 10, 31), config, resets)
        assert again.limits.equals(part.limits) and again.flags.equals(part.flags)
        # and a daily run's few days (one chunk of every store, the KPIs scored in threads)
        short = compute_spc(battery, date(2025, 10, 28), date(2025, 10, 31), config, resets)
        assert short.limits.height > 0
        assert sub(full.limits, date(2025, 10, 28)).equals(short.limits), config.rule_set
        assert sub(full.flags, date(2025, 10, 28)).equals(short.flags), config.rule_set


def test_scoring_stores_in_chunks_changes_nothing(battery) -> None:
    """The chain effects see every store; the rest is per store: any slicing gives the same rows."""
    resets = pl.DataFrame(
        {"shop_no": ["STEP"], "metric_name": [None], "reset_date": [date(2025, 6, 1)]},
        schema={"shop_no": pl.String, "metric_name": pl.String, "reset_date": pl.Date},
    )
    whole = compute_spc(battery, date(2025, 1, 1), SERIES_END, DEFAULT, resets, chunk_stores=1_000)
    for size in (1, 4):
        sliced = compute_spc(battery, date(2025, 1, 1), SERIES_END, DEFAULT, resets, chunk_stores=size)
        assert sliced.limits.equals(whole.limits) and sliced.flags.equals(whole.flags), size
    assert whole.limits.height > 0 and whole.flags.filter(pl.col("rule") == "anchored_drift").height > 0


def test_input_row_order_and_duplicates_do_not_matter(battery) -> None:
    one = battery.filter(pl.col("shop_no").is_in(["S00", "STEP"]))
    dirty = pl.concat([one, one.filter(pl.col("metric_date") == date(2025, 3, 3))]).sample(
        fraction=1.0, seed=1, shuffle=True
    )
    a = compute_spc(one, date(2025, 1, 1), SERIES_END, DEFAULT)
    b = compute_spc(dirty, date(2025, 1, 1), SERIES_END, DEFAULT)
    assert a.limits.equals(b.limits) and a.flags.equals(b.flags)


def test_dirty_values_do_not_break_a_run(battery) -> None:
    one = battery.filter(pl.col("shop_no") == "S01")
    dirty = one.with_columns(
        pl.when(pl.col("metric_date") == date(2025, 4, 1))
        .then(float("nan"))
        .otherwise(pl.col("revenue"))
        .alias("revenue"),
        pl.when(pl.col("metric_date") == date(2025, 4, 2)).then(-50.0).otherwise(pl.col("aov")).alias("aov"),
        pl.when(pl.col("metric_date") == date(2025, 4, 3))
        .then(None)
        .otherwise(pl.col("staff_hours"))
        .alias("staff_hours"),
    ).filter(pl.col("metric_date") != date(2025, 4, 10))  # a missing day
    dirty = pl.concat([dirty, dirty.head(1).with_columns(pl.lit(None, pl.String).alias("shop_no"))])
    res = compute_spc(dirty, date(2025, 1, 1), SERIES_END, DEFAULT)
    assert (
        res.flags.filter(
            pl.col("metric_date").is_between(date(2025, 4, 1), date(2025, 4, 3))
            & pl.col("metric_name").is_in(["revenue", "aov", "staff_hours"])
            & pl.col("rule").eq("robust_z")
        ).height
        == 0
    )
    missing = res.limits.filter(pl.col("metric_date") == date(2025, 4, 10))  # limits in force, no value
    assert missing["observed_value"].null_count() == missing.height
    assert res.flags.filter(pl.col("metric_date") == date(2025, 4, 10)).height == 0
    assert malformed_limits(res.limits).height == 0


def test_baseline_reset_starts_a_new_normal(battery) -> None:
    onset = date(2025, 5, 14)
    reset = date(2025, 5, 20)
    resets = pl.DataFrame({"shop_no": ["STEP"], "metric_name": ["order_count"], "reset_date": [reset]})
    res = compute_spc(battery.filter(pl.col("shop_no") == "STEP"), onset, date(2025, 9, 30), TESTING_REVENUE, resets)
    oc = res.flags.filter(pl.col("metric_name") == "order_count")
    rev = _serious(res.flags.filter(pl.col("metric_name") == "revenue"))
    # order_count: quiet and without limits during the warm-up after the reset, then quiet at the new level
    assert oc.filter(pl.col("metric_date") >= reset).filter(pl.col("severity") != "INFO").height == 0
    lim = res.limits.filter(pl.col("metric_name") == "order_count", pl.col("metric_date") >= reset)
    assert (lim["metric_date"].min() - reset).days >= DEFAULT.warmup_days
    # revenue (not reset) keeps signalling the shift after the reset date
    assert rev.filter(pl.col("metric_date") > reset).height > 0


def test_dst_week_is_seven_ordinary_days() -> None:
    # US DST starts Sunday 2025-03-09 (a 23-hour business day): hours-based KPIs dip ~4%, no flag
    start = date(2024, 6, 3)
    n = (date(2025, 3, 31) - start).days + 1
    rev = weekly_series(n, 3000, 0.04, 1, start)
    hours = weekly_series(n, 80, 0.03, 2, start)
    dst = (date(2025, 3, 9) - start).days
    rev[dst] *= 23 / 24
    hours[dst] *= 23 / 24
    df = frame_from_series("US00002", start, {"revenue": rev, "staff_hours": hours})
    res = compute_spc(df, date(2025, 3, 3), date(2025, 3, 16), DEFAULT)
    week = res.limits.filter(pl.col("metric_name") == "revenue")
    assert week.height == 14 and week["metric_date"].n_unique() == 14
    assert _serious(res.flags).height == 0
    # weekday alignment: Saturday's expected value carries the Saturday uplift of the weekly profile
    sat = week.filter(pl.col("metric_date") == date(2025, 3, 8))["center_line"][0]
    tue = week.filter(pl.col("metric_date") == date(2025, 3, 11))["center_line"][0]
    assert sat / tue == pytest.approx(1.15 / 0.95, rel=0.05)


def test_holiday_dip_without_closure_is_not_flagged() -> None:
    start = date(2024, 3, 4)
    n = (date(2024, 7, 10) - start).days + 1
    rev = weekly_series(n, 3000, 0.03, 5, start)
    j4 = (date(2024, 7, 4) - start).days
    rev[j4] *= 0.5
    hol = [None] * n
    hol[j4] = "Independence Day"
    df = frame_from_series("US00003", start, {"revenue": rev}, holiday=hol)
    res = compute_spc(df, date(2024, 7, 1), date(2024, 7, 10), DEFAULT)
    assert res.flags.filter(pl.col("metric_date") == date(2024, 7, 4)).height == 0


def test_one_past_anomaly_does_not_blind_the_chart() -> None:
    start = date(2024, 1, 1)
    n = 300
    rev = weekly_series(n, 3000, 0.03, 9, start)
    rev[200] *= 3.0  # a huge spike
    rev[207] *= 0.6  # a week later (same weekday): a 40% drop must still be seen
    df = frame_from_series("US00004", start, {"revenue": rev})
    res = compute_spc(df, start + timedelta(days=150), start + timedelta(days=n - 1), TESTING_REVENUE)
    f = _serious(res.flags).filter(pl.col("metric_name") == "revenue", pl.col("rule") == "robust_z")
    assert start + timedelta(days=200) in f["metric_date"].to_list()
    assert start + timedelta(days=207) in f["metric_date"].to_list()
    lim = res.limits.filter(pl.col("metric_name") == "revenue")
    assert lim.filter(pl.col("metric_date") == start + timedelta(days=200))["is_outlier"][0]


def test_every_flag_names_rule_direction_and_detail(result) -> None:
    f = result.flags
    assert f["rule"].null_count() == 0 and f["direction"].null_count() == 0 and f["detail"].null_count() == 0
    assert set(f["rule"].unique()) <= {"robust_z", "cusum_shift", "anchored_drift"}


def test_empty_input() -> None:
    empty = frame_from_series("X", date(2025, 1, 1), {"revenue": [1.0]}).head(0)
    res = compute_spc(empty, date(2025, 1, 1), date(2025, 1, 31), DEFAULT)
    assert res.limits.height == 0 and res.flags.height == 0
    assert np.all([c in res.flags.columns for c in ("rule", "severity", "direction")])


def _staffing_store(n: int, start: date) -> dict[str, np.ndarray]:
    """A roster of 10 people (an eleventh on 3% of days, a call-out on 5%), shifts of ~7.5 h."""
    rng = np.random.default_rng(21)
    heads = 10 + (rng.random(n) < 0.03).astype(int) - (rng.random(n) < 0.05).astype(int)
    hours = np.round(heads * 7.5 + rng.normal(0, 0.9 * np.sqrt(heads)), 2)
    return {"headcount": heads.astype(float), "staff_hours": hours}


def test_per_metric_point_tiers() -> None:
    def tiers(info: float, warning: float, critical: float, up: float | None = None) -> dict[str, float]:
        up = warning if up is None else up
        return {"info": info, "warning": warning, "critical": critical, "info_up": min(info, up), "warning_up": up}

    assert DEFAULT.severity_thresholds("headcount") == tiers(3.0, 3.0, 8.0)
    assert DEFAULT.severity_thresholds("staff_hours") == tiers(3.0, 4.0, 8.0)
    assert DEFAULT.severity_thresholds("revenue") == tiers(3.0, 4.0, 6.0)
    # orders: the lighter upper tail of a log count gets its own, lower WARNING tier (the same share of budget)
    assert DEFAULT.severity_thresholds("order_count") == tiers(3.0, 3.5, 6.0, up=3.25)
    # the ucl / lcl of a metric are its own WARNING limits
    start = date(2024, 1, 1)
    n = 200
    df = frame_from_series("US00007", start, _staffing_store(n, start))
    lim = compute_spc(df, start + timedelta(days=150), start + timedelta(days=n - 1), DEFAULT).limits
    hc = lim.filter(pl.col("metric_name") == "headcount").row(0, named=True)
    assert hc["ucl"] == pytest.approx(np.exp(hc["center_transformed"] + 3.0 * hc["sigma_transformed"]) - 1.0)


def test_staffing_is_flagged_only_when_about_a_third_of_the_rota_is_missing() -> None:
    start = date(2024, 1, 1)
    n = 260
    values = _staffing_store(n, start)
    day_two, day_three = 200, 230
    for day, missing in ((day_two, 2), (day_three, 4)):  # two people short (-20%); four call-outs (-40%)
        values["headcount"][day] = 10 - missing
        values["staff_hours"][day] = round((10 - missing) * 7.5, 2)
    revenue = weekly_series(n, 3000, 0.04, 4, start)
    closed = [False] * n
    closed[243] = True  # an outage on a trading day: still CRITICAL on the sales KPIs
    revenue[243] = 0.0
    orders = weekly_series(n, 500, 0.04, 5, start)
    orders[243] = 0.0
    values["order_count"] = orders
    values["headcount"][243] = 0.0
    values["staff_hours"][243] = 0.0
    df = frame_from_series("US00008", start, {**values, "revenue": revenue}, closed=closed)
    res = compute_spc(df, start + timedelta(days=150), start + timedelta(days=n - 1), DEFAULT)
    f = res.flags.filter(pl.col("rule") == "robust_z")

    def sev(day: int, metric: str) -> list[str]:
        return f.filter(pl.col("metric_date") == start + timedelta(days=day), pl.col("metric_name") == metric)[
            "severity"
        ].to_list()

    assert "WARNING" not in sev(day_two, "headcount")  # operationally not material: a fifth of the rota
    assert sev(day_three, "headcount") in (["WARNING"], ["CRITICAL"])
    assert sev(day_three, "staff_hours") in (["WARNING"], ["CRITICAL"])
    assert sev(243, "order_count") == ["CRITICAL"]
    assert sev(243, "headcount") == ["CRITICAL"]  # nobody at work is beyond 8 sigma
    # stable days of the same roster: no WARNING on staffing KPIs beyond the two injected days and the outage
    staffing = _serious(res.flags).filter(pl.col("metric_name").is_in(["headcount", "staff_hours"]))
    injected = {start + timedelta(days=d) for d in (day_three, 243)}
    assert set(staffing["metric_date"].to_list()) <= injected


def test_the_anchored_reference_does_not_follow_a_slide(result, battery) -> None:
    onset = date(2025, 6, 2)  # RAMP: -50% over 100 days
    limits = result.limits.filter(pl.col("shop_no") == "RAMP", pl.col("metric_name") == "order_count")
    day = limits.filter(pl.col("metric_date") == onset + timedelta(days=90)).row(0, named=True)
    before = battery.filter(
        pl.col("shop_no") == "RAMP",
        pl.col("metric_date").is_between(onset - timedelta(days=56), onset - timedelta(days=1)),
        ~pl.col("is_closed"),
    )["order_count"]
    level_before = float(np.exp(np.log(before.to_numpy() + 1.0).mean()) - 1.0)
    assert abs(day["anchor_value"] / level_before - 1) < 0.10  # the level before the slide, not today's
    assert abs((day["anchor_since"] - onset).days) <= 7
    assert day["anchor_change"] < np.log(0.85)  # the mean since the onset: about half of the drop so far
    assert day["recent_level"] < 0.65 * day["anchor_value"]  # ~-45% by day 90
    assert day["center_line"] < 0.75 * day["anchor_value"]  # while the moving centre line has followed it down
    # the slide is flagged against the anchor, a stable store's anchor is usually not held at all
    drift = result.flags.filter(
        pl.col("shop_no") == "RAMP",
        pl.col("rule") == "anchored_drift",
        pl.col("metric_name") == "order_count",
        pl.col("metric_date") >= onset,
    )
    assert (drift["metric_date"].min() - onset).days <= 30 and set(drift["direction"]) == {"down"}
    stable = result.limits.filter(pl.col("shop_no") == "S00", pl.col("metric_name") == "order_count")
    assert stable["anchor_value"].null_count() > 0.8 * stable.height


def test_sustained_rises_are_warnings_never_critical(result) -> None:
    rises = result.flags.filter(
        pl.col("rule") == "anchored_drift",
        pl.col("direction") == "up",
        pl.col("metric_name").is_in(["order_count", "aov"]),
    )
    aov = rises.filter(pl.col("shop_no") == "AOV", pl.col("metric_name") == "aov")
    assert aov.height > 0 and set(rises["severity"]) == {"WARNING"}
    assert result.flags.filter(pl.col("shop_no").str.contains(r"^S\d\d$"), pl.col("severity") == "CRITICAL").height == 0


def test_a_daily_window_equals_the_full_run_rows(battery, result) -> None:
    """A daily run (4 days) runs each stage only over the days the later stages read (`stage_cuts`): its rows
    are the full run's, around a step, a slide, an outage and a new store's first days (limits and every rule)."""
    resets = pl.DataFrame(
        {"shop_no": ["STEP"], "metric_name": [None], "reset_date": [date(2025, 6, 1)]},
        schema={"shop_no": pl.String, "metric_name": pl.String, "reset_date": pl.Date},
    )
    full = compute_spc(battery, date(2025, 1, 1), SERIES_END, DEFAULT, resets)
    rules: set[str] = set()
    for lo in (date(2025, 5, 14), date(2025, 6, 3), date(2025, 7, 18), date(2025, 8, 12), date(2025, 12, 28)):
        hi = lo + timedelta(days=3)
        day = compute_spc(battery, lo, hi, DEFAULT, resets, chunk_stores=7)

        def sub(df: pl.DataFrame, lo: date = lo, hi: date = hi) -> pl.DataFrame:
            return df.filter(pl.col("metric_date").is_between(lo, hi))

        assert day.limits.height > 0
        assert sub(full.limits).equals(day.limits), lo
        assert sub(full.flags).equals(day.flags), lo
        rules |= set(day.flags["rule"].to_list())
    assert {"robust_z", "cusum_shift", "anchored_drift"} <= rules


def _inspections(n: int, rng: np.random.Generator, level: float, noise: float) -> np.ndarray:
    """QC scores of about two inspections a week on random days, missing on the other days."""
    inspected = rng.random(n) < 2 / 7
    return np.where(inspected, np.round(level + rng.normal(0, noise, n), 1), np.nan)


def test_a_collapsed_sparse_sigma_does_not_make_an_ordinary_score_critical() -> None:
    """One store's last seven months of QC scores happen to lie within half a point of each other, so its own
    sigma falls to the KPI's one-point floor while the chain's stores vary by three points. A score nine points
    (three of the chain's sigmas) below its centre was a robust Z of -8.8, CRITICAL; the chain's pooled sigma
    floors the store's (2.5 points), so it is Z -3.6, not even a WARNING, while a real 25-point drop stays
    CRITICAL."""
    start, n = date(2024, 1, 1), 420
    rng = np.random.default_rng(5)
    frames = [frame_from_series(f"Q{i:02d}", start, {"qc_score": _inspections(n, rng, 92.0, 3.0)}) for i in range(8)]
    tight = _inspections(n, rng, 92.0, 3.0)
    calm = np.arange(n) >= 200
    tight[calm] = np.where(np.isnan(tight[calm]), np.nan, np.round(92.0 + rng.uniform(-0.5, 0.5, calm.sum()), 1))
    ordinary, drop = 400, 407  # a Tuesday (2025-02-04) and the next Tuesday, both inspected
    tight[ordinary] = 83.0  # three sigma of the store's true noise below its level, after the calm spell
    frames.append(frame_from_series("CALM", start, {"qc_score": tight}))
    real = _inspections(n, rng, 92.0, 3.0)
    real[drop] = 92.0 - 25.0
    frames.append(frame_from_series("DROP", start, {"qc_score": real}))
    df = pl.concat(frames).with_columns(pl.col("qc_score").fill_nan(None))
    day_of = start + timedelta(days=ordinary)
    drop_day = start + timedelta(days=drop)

    def run(config: SpcConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
        res = compute_spc(df, start + timedelta(days=380), start + timedelta(days=n - 1), config)
        qc = (pl.col("metric_name") == "qc_score") & (pl.col("rule") == "robust_z")
        return res.flags.filter(qc), res.limits.filter(pl.col("metric_name") == "qc_score")

    sparse_only = DEFAULT.replace(metrics=("qc_score",))
    flags, limits = run(sparse_only.replace(sparse_sigma_pool=0.0))  # the collapse, without the pooled floor
    on_day = flags.filter(pl.col("shop_no") == "CALM", pl.col("metric_date") == day_of)
    assert on_day["severity"].to_list() == ["CRITICAL"] and on_day["z_score"][0] < -6
    assert limits.filter(pl.col("shop_no") == "CALM", pl.col("metric_date") == day_of)["sigma"][0] < 1.2

    flags, limits = run(sparse_only)
    on_day = flags.filter(pl.col("shop_no") == "CALM", pl.col("metric_date") == day_of)
    assert set(on_day["severity"].to_list()) <= {"INFO", "WARNING"}
    chain_sigma = limits.filter(pl.col("metric_date") == day_of, pl.col("shop_no") != "CALM")["sigma"].median()
    calm_sigma = limits.filter(pl.col("shop_no") == "CALM", pl.col("metric_date") == day_of)["sigma"][0]
    assert calm_sigma >= 0.7 * chain_sigma  # (the floor is 0.75 of the median of every store's own, CALM's too)
    assert flags.filter(pl.col("shop_no") == "DROP", pl.col("metric_date") == drop_day)["severity"].to_list() == [
        "CRITICAL"
    ]
    assert flags.filter(pl.col("shop_no").str.starts_with("Q"), pl.col("severity") == "CRITICAL").height == 0
