"""Chain-relative scoring: movements every store shares are not store anomalies; one store's are."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from store_anomaly.spc import SpcConfig, compute_spc
from store_anomaly.spc.chain import add_chain_effect
from store_anomaly.spc.simulate import Anomaly, Chain, StoreSpec, simulate_stores

# One worker builds this module's shared fixture once (`make test` runs the suite on two workers).
pytestmark = pytest.mark.xdist_group("test_chain")

DEFAULT = SpcConfig.default()
START, END = date(2024, 6, 1), date(2025, 9, 30)
SCORE = date(2025, 3, 1)
TRAFFIC = ["revenue", "order_count", "items_sold", "production_count", "orders_per_labor_hour"]


def _serious(flags: pl.DataFrame) -> pl.DataFrame:
    return flags.filter(pl.col("severity").is_in(["WARNING", "CRITICAL"]))


@pytest.mark.parametrize("leave_one_out", [True, False])
def test_chain_effect_is_the_same_day_median(leave_one_out: bool) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for day in range(60):
        for store in range(int(rng.integers(1, 12))):
            value = float(rng.integers(0, 4)) if day % 3 == 0 else float(rng.normal())  # ties on some days
            rows.append((day, store, value, bool(rng.random() < 0.8)))
    frame = pl.DataFrame(rows, schema=["metric_date", "sid", "r", "member"], orient="row")
    out = add_chain_effect(frame, "r", pl.col("member"), 4, leave_one_out, "c")
    assert out["sid"].to_list() == frame["sid"].to_list()  # row order kept
    for row in out.iter_rows(named=True):
        day = out.filter((pl.col("metric_date") == row["metric_date"]) & pl.col("member"))
        values = day["r"].to_numpy()
        assert row["c_n"] == len(values)
        if len(values) < 4:
            assert row["c"] is None
            continue
        if leave_one_out and row["member"]:
            values = np.delete(values, day["sid"].to_list().index(row["sid"]))
        assert row["c"] == pytest.approx(float(np.median(values)), abs=1e-12)


@pytest.fixture(scope="module")
def dips() -> tuple[pl.DataFrame, date, date]:
    """Nine stores; on `chain_day` every store loses 40% of its traffic (a snowstorm); on `store_day` only S03
    does (the same size)."""
    chain_day, store_day = date(2025, 5, 14), date(2025, 6, 11)  # both Wednesdays
    stores = [StoreSpec(f"S{i:02d}") for i in range(9) if i != 3]
    stores.append(StoreSpec("S03", anomaly=Anomaly("traffic", "spike", -0.40, store_day)))
    chain = Chain(seasonality=0.06, peak_day_of_year=20, noise=0.02, events=((chain_day, 0.60),))
    return simulate_stores(stores, START, END, seed=5, chain=chain), chain_day, store_day


def test_a_chain_wide_dip_is_not_flagged_but_one_store_dip_is(dips) -> None:
    metrics, chain_day, store_day = dips
    res = compute_spc(metrics, SCORE, END, DEFAULT)
    traffic = _serious(res.flags).filter(pl.col("metric_name").is_in(TRAFFIC))
    assert traffic.filter(pl.col("metric_date") == chain_day).height == 0
    hit = traffic.filter((pl.col("metric_date") == store_day) & (pl.col("metric_name") == "order_count"))
    assert hit["shop_no"].to_list() == ["S03"]
    assert hit["direction"].to_list() == ["down"] and hit["rule"].to_list() == ["robust_z"]
    # the chain effect of that day is the snowstorm, about log(0.6), and it is part of the expected value
    lim = res.limits.filter((pl.col("metric_date") == chain_day) & (pl.col("metric_name") == "order_count"))
    assert lim["chain_stores"].min() == 9
    assert lim["chain_effect"].to_numpy() == pytest.approx(np.log(0.6), abs=0.06)
    # without the chain adjustment every store would have been flagged that day
    plain = compute_spc(metrics, chain_day, chain_day, DEFAULT.replace(chain_relative=False))
    flagged = _serious(plain.flags).filter(pl.col("metric_name") == "order_count")["shop_no"].n_unique()
    assert flagged >= 7


def test_a_chain_wide_decline_is_not_a_drift_but_one_store_decline_is() -> None:
    """The demo's problem in miniature: the whole chain slides 30% in 60 days (a season, a city-wide slump), or
    one store does (the same slide)."""
    onset = date(2025, 4, 2)
    stores = [StoreSpec(f"S{i:02d}") for i in range(8)]
    ramp = lambda t: 1.0 - 0.30 * min(1.0, (t + 1) / 60)  # -30% over 60 days, then flat
    days = (END - onset).days + 1
    chain = Chain(events=tuple((onset + timedelta(days=t), ramp(t)) for t in range(days)))
    chain_wide = simulate_stores(stores, START, END, seed=5, chain=chain)
    slide = Anomaly("traffic", "ramp", -0.30, onset, ramp_days=60)
    one_store = simulate_stores(stores[:-1] + [StoreSpec("S07", anomaly=slide)], START, END, seed=5)
    window = (onset, onset + timedelta(days=60))

    def drift(metrics: pl.DataFrame, config: SpcConfig) -> pl.DataFrame:
        return _serious(compute_spc(metrics, SCORE, END, config).flags).filter(
            pl.col("metric_name").is_in(TRAFFIC)
            & pl.col("metric_date").is_between(*window)
            & (pl.col("rule") == "anchored_drift")
        )

    # chain-relative, the slide is no drift: what is left is the budget's false-alarm rate (orders' adverse side
    # about 0.09 flag-days per store-month, ~1.5 expected in these 8 x 61 store-days), not one flag per store
    assert drift(chain_wide, DEFAULT).height <= 2
    assert drift(chain_wide, DEFAULT.replace(chain_relative=False))["shop_no"].n_unique() == 8
    alone = drift(one_store, DEFAULT)
    assert set(alone["shop_no"]) == {"S07"} and set(alone["direction"]) == {"down"}
    assert (alone["metric_date"].min() - onset).days <= 28


def test_small_chains_are_not_adjusted(dips) -> None:
    metrics, _, _ = dips
    few = metrics.filter(pl.col("shop_no").is_in(["S00", "S01", "S02", "S04"]))  # 4 < chain_min_stores
    a = compute_spc(few, SCORE, END, DEFAULT)
    b = compute_spc(few, SCORE, END, DEFAULT.replace(chain_relative=False))
    assert a.limits["chain_effect"].null_count() == a.limits.height
    assert a.flags.equals(b.flags)
    assert a.limits.drop("chain_effect", "chain_stores").equals(b.limits.drop("chain_effect", "chain_stores"))


def test_published_limits_use_only_earlier_days_even_with_the_chain_effect(dips) -> None:
    """The warehouse contract: the limits of a day come from earlier days only. Doubling every *other* store's
    values on day D moves the chain effect and the chain-adjusted centre, never S03's published limits."""
    metrics, _, day = dips
    shocked = metrics.with_columns(
        pl.when((pl.col("metric_date") == day) & (pl.col("shop_no") != "S03"))
        .then(pl.col("revenue") * 2)
        .otherwise(pl.col("revenue"))
        .alias("revenue")
    )
    published = ["center_line", "sigma", "ucl", "lcl", "baseline_days"]

    def limits_of(frame: pl.DataFrame) -> pl.DataFrame:
        return compute_spc(frame, day, day, DEFAULT).limits.filter(
            (pl.col("shop_no") == "S03") & (pl.col("metric_name") == "revenue")
        )

    before, after = limits_of(metrics), limits_of(shocked)
    assert before.height == 1
    assert before.select(published).equals(after.select(published))
    assert before["chain_adjusted_center"][0] != after["chain_adjusted_center"][0]
