"""Alert episodes: one alert per episode, escalation, resolution, chain-wide, cannibalization, stable ids."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from store_anomaly.ack_log import overlay_acks
from store_anomaly.alerts import AlertConfig, build_alerts, validate_ack
from store_anomaly.alerts.config import ALERT_SCHEMA
from store_anomaly.alerts.sizing import ANCHOR_COLUMNS
from store_anomaly.spc import SpcConfig, compute_spc
from store_anomaly_tests.alerts.synthetic import (
    SHOPS,
    flag,
    flags_frame,
    make_limits_and_flags,
    make_metrics,
    slide,
)

# One worker builds this module's shared fixture once (`make test` runs the suite on two workers).
pytestmark = pytest.mark.xdist_group("test_episodes")

SLIDE_START = date(2025, 10, 6)
D0 = date(2025, 10, 1)


@pytest.fixture(scope="module")
def flagship() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    metrics = make_metrics(traffic=slide("US00001", SLIDE_START))
    _, flags = make_limits_and_flags(metrics)
    alerts = build_alerts(flags, metrics, None, AlertConfig())
    return metrics, flags, alerts


def _flagship_slide(alerts: pl.DataFrame) -> pl.DataFrame:
    return alerts.filter(
        (pl.col("shop_no") == "US00001") & (pl.col("episode_key") == "sales") & (pl.col("last_seen_on") >= SLIDE_START)
    )


def test_flagship_slide_is_one_escalating_episode_opened_early(flagship):
    _, _, alerts = flagship
    slide_alerts = _flagship_slide(alerts)
    assert slide_alerts.height == 1
    alert = slide_alerts.row(0, named=True)
    assert alert["metric_name"] == "revenue"
    assert {"revenue", "order_count", "items_sold"} <= set(alert["metric_names"].split(","))
    assert alert["status"] == "open"
    assert alert["first_severity"] == "WARNING"
    assert alert["severity"] == "CRITICAL"
    assert alert["direction"] == "down"
    # opened within three weeks of the start of a slow slide, and the change-point dates the start
    assert SLIDE_START <= alert["opened_on"] <= SLIDE_START + timedelta(days=21)
    assert abs((alert["change_started_on"] - SLIDE_START).days) <= 10
    assert alert["change_started_on"] <= alert["opened_on"]
    assert alert["change_pct"] < -8
    assert alert["flag_days"] >= 30
    assert (
        f"down {abs(alert['change_pct']):.0f}% vs its level before about {alert['change_started_on']}"
        in alert["description"]
    )
    assert "Orders" in alert["description"] and "Reading:" in alert["description"]
    assert "traffic" in alert["description"]
    assert "Store-specific" in alert["description"]
    assert not alert["chain_wide"]


def test_stable_stores_produce_much_less_than_the_flagship(flagship):
    _, _, alerts = flagship
    flagship_days = _flagship_slide(alerts)["flag_days"].item()
    stable = alerts.filter(pl.col("shop_no") != "US00001")
    assert stable["flag_days"].max() < flagship_days / 3
    # no stable store has a long-running CRITICAL sales episode
    assert stable.filter((pl.col("episode_key") == "sales") & (pl.col("flag_days") >= 10)).height == 0


def test_output_has_the_contract_columns_and_types(flagship):
    _, _, alerts = flagship
    assert alerts.schema == pl.Schema(ALERT_SCHEMA)
    assert alerts["alert_id"].n_unique() == alerts.height
    assert alerts["alert_id"].str.contains(r"^A-[0-9a-f]{10}$").all()
    assert alerts["description"].is_not_null().all() and alerts["recommended_action"].is_not_null().all()
    actions = alerts["recommended_action"].to_list()
    for heading in (
        "Data quality",
        "Operations",
        "External factors",
        "Portfolio-wide or store-specific",
        "Cannibalization",
    ):
        assert all(heading in action for action in actions)


def test_rebuild_is_idempotent(flagship):
    metrics, flags, alerts = flagship
    again = build_alerts(flags, metrics, alerts, AlertConfig())
    assert again.equals(alerts)


def _metrics_for(shops=SHOPS, days=70, start=date(2025, 8, 1)) -> pl.DataFrame:
    return make_metrics(start=start, days=days, shops=shops)


def test_quiet_days_split_and_resolve():
    metrics = _metrics_for()
    rows = [flag(D0, "US00002"), flag(D0 + timedelta(3), "US00002"), flag(D0 + timedelta(10), "US00002")]
    rows.append(flag(D0 + timedelta(18), "US00002"))  # 8 days after the previous: a new episode
    alerts = build_alerts(
        flags_frame(rows), metrics, None, AlertConfig(resolve_after_quiet_days=7), as_of=D0 + timedelta(24)
    )
    assert alerts.height == 2
    first, second = alerts.sort("opened_on").iter_rows(named=True)
    assert (first["opened_on"], first["last_seen_on"], first["flag_days"]) == (D0, D0 + timedelta(10), 3)
    assert first["status"] == "resolved"
    assert second["opened_on"] == D0 + timedelta(18)
    assert second["status"] == "open"  # 6 quiet days so far
    later = build_alerts(flags_frame(rows), metrics, alerts, AlertConfig(), as_of=D0 + timedelta(25))
    assert later.sort("opened_on")["status"].to_list() == ["resolved", "resolved"]
    assert set(later["alert_id"]) == set(alerts["alert_id"])


def test_flags_after_as_of_and_info_flags_are_ignored():
    metrics = _metrics_for()
    rows = [
        flag(D0, "US00003", severity="INFO"),
        flag(D0 + timedelta(1), "US00003", severity="INFO"),
        flag(D0 + timedelta(30), "US00003"),
    ]
    assert build_alerts(flags_frame(rows), metrics, None, as_of=D0 + timedelta(20)).height == 0


def test_escalation_keeps_first_severity_and_related_metrics_group():
    metrics = _metrics_for()
    rows = [
        flag(D0, "US00002", "order_count"),
        flag(D0 + timedelta(1), "US00002", "revenue"),
        flag(D0 + timedelta(2), "US00002", "items_sold", severity="CRITICAL"),
        flag(D0 + timedelta(2), "US00002", "revenue", severity="CRITICAL", rule="beyond_3_sigma"),
    ]
    alerts = build_alerts(flags_frame(rows), metrics, None, as_of=D0 + timedelta(3))
    assert alerts.height == 1
    alert = alerts.row(0, named=True)
    assert alert["metric_name"] == "revenue"
    assert alert["metric_names"] == "revenue,order_count,items_sold"
    assert (alert["first_severity"], alert["severity"]) == ("WARNING", "CRITICAL")
    assert alert["rules"] == "beyond_2_sigma,beyond_3_sigma"
    assert "escalated to CRITICAL on 2025-10-03" in alert["description"]
    ungrouped = build_alerts(
        flags_frame(rows), metrics, None, AlertConfig(group_related_metrics=False), as_of=D0 + timedelta(3)
    )
    assert sorted(ungrouped["metric_name"]) == ["items_sold", "order_count", "revenue"]


def test_chain_wide_day_lowers_severity_one_level():
    metrics = _metrics_for()
    rows = [flag(D0, shop, severity="CRITICAL") for shop in SHOPS[:8]]
    rows.append(flag(D0 + timedelta(20), "US00009", severity="CRITICAL"))  # alone: store-specific
    alerts = build_alerts(flags_frame(rows), metrics, None, as_of=D0 + timedelta(21))
    chain = alerts.filter(pl.col("opened_on") == D0)
    assert chain.height == 8
    assert chain["chain_wide"].all()
    assert set(chain["severity"]) == {"WARNING"}
    assert chain["chain_share"].to_list() == [0.8] * 8
    text = chain["description"][0]
    assert "Chain-wide: on 2025-10-01 8 of 10 stores" in text and "CRITICAL -> WARNING" in text
    alone = alerts.filter(pl.col("shop_no") == "US00009").row(0, named=True)
    assert (alone["chain_wide"], alone["severity"]) == (False, "CRITICAL")
    # below the share: not chain-wide
    few = build_alerts(flags_frame(rows[:5]), metrics, None, as_of=D0 + timedelta(1))
    assert not few["chain_wide"].any() and set(few["severity"]) == {"CRITICAL"}


def test_cannibalization_names_the_peer_that_rose():
    start = date(2025, 7, 7)
    metrics = make_metrics(start=start, days=168, traffic=_two_way(SLIDE_START))
    _, flags = make_limits_and_flags(metrics)
    alerts = build_alerts(flags, metrics, None)
    falling = _flagship_slide(alerts).row(0, named=True)
    assert falling["cannibalization_suspect"] == "US00004"
    assert "Possible cannibalization: US00004 Store 4 rose" in falling["description"]
    assert "5. Cannibalization: US00004" in falling["recommended_action"]


def _two_way(begins: date):
    down = slide("US00001", begins, depth=0.25)
    up = slide("US00004", begins, depth=-0.20)

    def factor(shop: str, day: date) -> float:
        return down(shop, day) * up(shop, day)

    return factor


def test_cannibalization_by_a_newly_opened_store():
    metrics = make_metrics(traffic=slide("US00001", SLIDE_START), first_day={"US00004": SLIDE_START})
    _, flags = make_limits_and_flags(metrics)
    falling = _flagship_slide(build_alerts(flags, metrics, None)).row(0, named=True)
    assert falling["cannibalization_suspect"] == "US00004"
    assert f"US00004 Store 4 opened on {SLIDE_START}" in falling["description"]


def test_no_cannibalization_when_nobody_rose(flagship):
    _, _, alerts = flagship
    assert _flagship_slide(alerts)["cannibalization_suspect"].item() is None
    assert "no other store rose" in _flagship_slide(alerts)["recommended_action"].item()


def test_description_reports_data_quality_and_holidays():
    metrics = _metrics_for().with_columns(
        pl.when((pl.col("shop_no") == "US00002") & (pl.col("metric_date") == D0 + timedelta(1)))
        .then(pl.lit(12))
        .otherwise(pl.col("dq_null_pay_money"))
        .alias("dq_null_pay_money"),
        pl.when(pl.col("metric_date") == D0)
        .then(pl.lit("Harvest Day"))
        .otherwise(pl.col("holiday_name"))
        .alias("holiday_name"),
    )
    rows = [flag(D0, "US00002"), flag(D0 + timedelta(2), "US00002")]
    alert = build_alerts(flags_frame(rows), metrics, None, as_of=D0 + timedelta(3)).row(0, named=True)
    assert "12 source rows were excluded" in alert["description"] and "dq_null_pay_money 12" in alert["description"]
    assert "Harvest Day (2025-10-01)" in alert["description"]
    assert "1. Data quality: 12 rows were excluded" in alert["recommended_action"]
    assert "3. External factors: the window includes Harvest Day" in alert["recommended_action"]


def _ack(alerts: pl.DataFrame, alert_id: str, **kwargs) -> pl.DataFrame:
    """The alert state after one acknowledgement: the log's latest row overlaid as the alert state does."""
    ack = validate_ack(alert_id, kwargs.get("by", "maria"), kwargs.get("label"), kwargs.get("note"), alerts=alerts)
    log = pl.DataFrame(
        {
            "alert_id": [ack.alert_id],
            "acknowledged_by": [ack.by],
            "acknowledged_at": [datetime(2025, 11, 20, 9, 30)],
            "ack_label": [ack.label],
            "ack_note": [ack.note],
            "acknowledged": [True],
        },
        schema_overrides={"acknowledged_at": pl.Datetime("us"), "ack_label": pl.String, "ack_note": pl.String},
    )
    return overlay_acks(alerts, log)


def test_ack_survives_rebuilds_even_when_opened_on_moves(flagship):
    metrics, flags, alerts = flagship
    target = _flagship_slide(alerts)["alert_id"].item()
    acked = _ack(alerts, target, label="confirmed", note="manager on leave").with_columns(
        pl.when(pl.col("alert_id") == target).then(pl.lit("WARNING")).alias("notified_severity")
    )
    opened = _flagship_slide(alerts)["opened_on"].item()

    # 1. plain re-run
    rebuilt = build_alerts(flags, metrics, acked)
    assert rebuilt.height == alerts.height
    row = rebuilt.filter(pl.col("alert_id") == target).row(0, named=True)
    assert (row["acknowledged"], row["acknowledged_by"], row["ack_label"]) == (True, "maria", "confirmed")
    assert row["acknowledged_at"] == datetime(2025, 11, 20, 9, 30) and row["ack_note"] == "manager on leave"
    assert row["notified_severity"] == "WARNING"

    # 2. a re-run where the first flag day disappeared: opened_on moves later, the alert keeps id and ack
    later_flags = flags.filter(~((pl.col("shop_no") == "US00001") & (pl.col("metric_date") == opened)))
    moved = build_alerts(later_flags, metrics, rebuilt)
    slide_rows = _flagship_slide(moved)
    assert slide_rows.height == 1
    assert slide_rows["opened_on"].item() > opened
    assert slide_rows["alert_id"].item() == target
    assert slide_rows["acknowledged"].item() and slide_rows["ack_label"].item() == "confirmed"
    assert moved["acknowledged"].sum() == 1

    # 3. and one where a flag appears a day earlier
    earlier = pl.concat(
        [flags, flags_frame([flag(opened - timedelta(1), "US00001", "order_count")])], how="diagonal_relaxed"
    )
    moved_back = build_alerts(earlier, metrics, moved)
    slide_rows = _flagship_slide(moved_back)
    assert slide_rows.height == 1 and slide_rows["opened_on"].item() == opened - timedelta(1)
    assert slide_rows["alert_id"].item() == target and slide_rows["acknowledged"].item()
    assert moved_back["alert_id"].n_unique() == moved_back.height
    assert moved_back["acknowledged"].sum() == 1


def test_acknowledged_alert_without_flags_is_kept_as_stale_and_others_dropped():
    metrics = _metrics_for()
    rows = [flag(D0, "US00002"), flag(D0 + timedelta(20), "US00005")]
    alerts = build_alerts(flags_frame(rows), metrics, None, as_of=D0 + timedelta(21))
    acked_id = alerts.filter(pl.col("shop_no") == "US00002")["alert_id"].item()
    acked = _ack(alerts, acked_id, label="false-alarm")
    rebuilt = build_alerts(flags_frame([]), metrics, acked, as_of=D0 + timedelta(21))
    assert rebuilt["alert_id"].to_list() == [acked_id]
    row = rebuilt.row(0, named=True)
    assert row["stale"] and row["status"] == "resolved" and row["ack_label"] == "false-alarm"
    # when the flags come back, the same alert is matched again and stops being stale
    back = build_alerts(flags_frame(rows), metrics, rebuilt, as_of=D0 + timedelta(21))
    assert back.filter(pl.col("alert_id") == acked_id)["stale"].item() is False
    assert back.height == 2


def test_one_ack_is_never_copied_onto_two_alerts():
    metrics = _metrics_for()
    rows = [flag(D0, "US00002"), flag(D0 + timedelta(5), "US00002")]
    alerts = build_alerts(flags_frame(rows), metrics, None, as_of=D0 + timedelta(6))
    acked = _ack(alerts, alerts["alert_id"].item())
    # with a shorter quiet period the episode splits in two: only one of them inherits the ack
    split = build_alerts(
        flags_frame(rows), metrics, acked, AlertConfig(resolve_after_quiet_days=3), as_of=D0 + timedelta(6)
    )
    assert split.height == 2
    assert split["acknowledged"].sum() == 1
    assert split["alert_id"].n_unique() == 2


def test_a_split_ack_follows_the_part_that_overlaps_it_most():
    """Re-scoring splits an acknowledged episode: the ack goes to the larger part, even though the smaller one
    starts on the same day (and so computes the same id)."""
    metrics = _metrics_for()
    rows = [flag(D0 + timedelta(d), "US00002") for d in (0, 1, 5, 6, 7, 8, 9)]
    as_of = D0 + timedelta(10)
    alerts = build_alerts(flags_frame(rows), metrics, None, as_of=as_of)
    assert alerts.height == 1
    acked_id = alerts["alert_id"].item()
    acked = _ack(alerts, acked_id, label="confirmed")
    split = build_alerts(flags_frame(rows), metrics, acked, AlertConfig(resolve_after_quiet_days=3), as_of=as_of)
    assert split.height == 2 and split["alert_id"].n_unique() == 2
    owner = split.filter(pl.col("acknowledged"))
    assert owner["alert_id"].item() == acked_id and owner["ack_label"].item() == "confirmed"
    assert owner["opened_on"].item() == D0 + timedelta(5)  # the part of 5 days, not the part of 2
    # and a second re-run keeps both ids and the ack where they are
    again = build_alerts(flags_frame(rows), metrics, split, AlertConfig(resolve_after_quiet_days=3), as_of=as_of)
    assert sorted(again["alert_id"].to_list()) == sorted(split["alert_id"].to_list())
    assert again.filter(pl.col("acknowledged"))["alert_id"].item() == acked_id


def test_merged_acks_follow_the_largest_overlap_and_none_is_lost():
    """Re-scoring merges two acknowledged episodes into one: it carries the ack of the one it overlaps most, the
    other ack stays on its alert, kept as stale; an unacknowledged episode never takes an ack's place."""
    metrics = _metrics_for()
    rows = [flag(D0 + timedelta(d), "US00002") for d in (0, 1, 5, 6, 7, 8, 9)]
    as_of = D0 + timedelta(10)
    short = AlertConfig(resolve_after_quiet_days=3)
    parts = build_alerts(flags_frame(rows), metrics, None, short, as_of=as_of).sort("opened_on")
    small, large = parts["alert_id"].to_list()
    # only the smaller one acknowledged: the merged episode takes it (state first), whatever the overlap
    merged = build_alerts(flags_frame(rows), metrics, _ack(parts, small, note="late delivery"), as_of=as_of)
    live = merged.filter(~pl.col("stale"))
    assert live.height == 1 and live["alert_id"].item() == small and live["ack_note"].item() == "late delivery"
    # both acknowledged: the larger overlap wins, the other ack is kept, never dropped, never copied
    both = _ack(_ack(parts, small, label="false-alarm"), large, label="confirmed")
    merged = build_alerts(flags_frame(rows), metrics, both, as_of=as_of)
    live = merged.filter(~pl.col("stale"))
    assert live["alert_id"].item() == large and live["ack_label"].item() == "confirmed"
    kept = merged.filter(pl.col("stale"))
    assert kept["alert_id"].to_list() == [small] and kept["ack_label"].item() == "false-alarm"
    assert merged["acknowledged"].sum() == 2


def test_empty_inputs_give_an_empty_table():
    metrics = _metrics_for(days=10)
    assert build_alerts(flags_frame([]), metrics, None).schema == pl.Schema(ALERT_SCHEMA)
    assert build_alerts(flags_frame([]), metrics, pl.DataFrame()).height == 0


def test_existing_table_from_sql_with_extra_columns_is_understood():
    metrics = _metrics_for()
    rows = [flag(D0, "US00002"), flag(D0 + timedelta(2), "US00002")]
    alerts = build_alerts(flags_frame(rows), metrics, None, as_of=D0 + timedelta(3))
    acked = _ack(alerts, alerts["alert_id"].item(), label="expected")
    # what a MySQL round trip may give back: TINYINT flags, text dates, an extra column added by other code
    from_sql = acked.with_columns(
        pl.col("acknowledged").cast(pl.Int8),
        pl.col("stale").cast(pl.Int8),
        pl.col("chain_wide").cast(pl.Int8),
        pl.col("opened_on").cast(pl.String),
        pl.col("acknowledged_at").dt.replace_time_zone("UTC"),
        pl.lit("2025-10-05 08:00:00").alias("notified_at"),
    )
    rebuilt = build_alerts(flags_frame(rows), metrics, from_sql, as_of=D0 + timedelta(3))
    row = rebuilt.row(0, named=True)
    assert row["alert_id"] == acked["alert_id"].item()
    assert row["acknowledged"] is True and row["ack_label"] == "expected"
    assert row["acknowledged_at"] == datetime(2025, 11, 20, 9, 30)
    assert row["notified_at"] == "2025-10-05 08:00:00"
    assert rebuilt.columns[: len(ALERT_SCHEMA)] == list(ALERT_SCHEMA)


def test_a_slide_is_sized_against_the_level_before_it() -> None:
    """The alert reads the SPC's anchored reference: the onset, the level before, the level now, the loss."""
    metrics = make_metrics(
        start=date(2025, 3, 3), days=300, traffic=slide("US00001", SLIDE_START, depth=0.5, ramp_days=60)
    )
    last = metrics["metric_date"].max()
    result = compute_spc(metrics, date(2025, 6, 1), last, SpcConfig.default())
    alerts = build_alerts(result.flags, metrics, None, AlertConfig(), anchors=result.limits.select(ANCHOR_COLUMNS))
    alert = _flagship_slide(alerts).row(0, named=True)
    assert alert["metric_name"] == "revenue" and "order_count" in alert["metric_names"].split(",")
    assert abs((alert["change_started_on"] - SLIDE_START).days) <= 7
    # the change of the weekday-adjusted 28-day mean revenue, from the 28 days before the slide to the last 28
    revenue = metrics.filter(pl.col("shop_no") == "US00001")

    def mean_28(first: date) -> float:
        return revenue.filter(pl.col("metric_date").is_between(first, first + timedelta(days=27)))["revenue"].mean()

    truth = 100 * (mean_28(last - timedelta(days=27)) / mean_28(SLIDE_START - timedelta(days=28)) - 1)
    assert truth < -40 and abs(alert["change_pct"] - truth) <= 10
    assert alert["baseline_value"] > alert["current_value"] > 0
    # the revenue below the level before the slide, since its onset: roughly the lost days times the gap
    days = (alert["last_seen_on"] - alert["change_started_on"]).days + 1
    gap = alert["baseline_value"] - alert["current_value"]
    assert 0.3 * days * gap < alert["estimated_loss"] < days * gap
    text = alert["description"]
    assert text.startswith("Revenue (revenue) at US00001")
    assert f"down {abs(alert['change_pct']):.0f}% vs its level before about {alert['change_started_on']}" in text
    assert "below that level since" in text
    # the first-flag numbers name the metric they belong to
    assert "on orders (order_count)" in text or "on average order value (aov)" in text
