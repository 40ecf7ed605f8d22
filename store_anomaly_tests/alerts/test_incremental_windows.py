"""Per-store re-derivation windows (pure): an update re-derives each store from its own oldest live episode,
and the table equals a rebuild from every flag after daily runs, an older-range backfill and with an
acknowledgement on the long-open episode."""

from datetime import date, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from store_anomaly.alerts.config import AlertConfig
from store_anomaly.alerts.episodes import build_alerts
from store_anomaly.alerts.incremental import base_from, rederive_windows, update_alerts
from store_anomaly_tests.alerts.synthetic import make_limits_and_flags, make_metrics, slide

START = date(2025, 7, 7)
SLIDE = date(2025, 9, 15)  # the flagship slides and stays down: one episode open for months
END = START + timedelta(days=167)
CONFIG = AlertConfig()


def _chain() -> tuple[pl.DataFrame, pl.DataFrame]:
    metrics = make_metrics(start=START, days=168, traffic=slide("US00001", SLIDE))
    _, flags = make_limits_and_flags(metrics)
    return flags, metrics


FLAGS, METRICS = _chain()


def _upto(day: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    return FLAGS.filter(pl.col("metric_date") <= day), METRICS.filter(pl.col("metric_date") <= day)


def _update(existing: pl.DataFrame, since: date, through: date) -> tuple[pl.DataFrame, date]:
    flags, metrics = _upto(through)

    def read(first: date):
        return flags.filter(pl.col("metric_date") >= first), metrics.filter(pl.col("metric_date") >= first)

    return update_alerts(existing, since, CONFIG, read)


def _assert_equals_a_rebuild(stored: pl.DataFrame, through: date) -> None:
    flags, metrics = _upto(through)
    rebuilt = build_alerts(flags, metrics, stored, CONFIG)
    assert_frame_equal(stored.sort("alert_id"), rebuilt.sort("alert_id"))


def _flagship(alerts: pl.DataFrame) -> pl.DataFrame:
    return alerts.filter((pl.col("shop_no") == "US00001") & (pl.col("episode_key") == "sales") & ~pl.col("stale"))


def test_only_the_store_with_a_long_open_episode_reaches_back():
    flags, metrics = _upto(END - timedelta(days=4))
    existing = build_alerts(flags, metrics, None, CONFIG)
    since = END - timedelta(days=3)
    windows = rederive_windows(existing, since, CONFIG)
    long_open = _flagship(existing).filter(pl.col("status") == "open")
    assert long_open.height == 1 and long_open["opened_on"].item() < base_from(since, CONFIG)
    assert windows.filter(pl.col("shop_no") == "US00001")["rederive_from"].item() <= long_open["opened_on"].item()
    # every other store keeps the base window unless a live episode of its own reaches back
    others = existing.filter(
        (pl.col("shop_no") != "US00001") & ~pl.col("stale") & (pl.col("last_seen_on") >= base_from(since, CONFIG))
    )
    reaching = set(others.filter(pl.col("opened_on") < base_from(since, CONFIG))["shop_no"])
    assert set(windows["shop_no"]) == reaching | {"US00001"}


def test_daily_runs_an_acknowledgement_and_an_older_backfill_equal_a_rebuild():
    first = END - timedelta(days=12)
    flags, metrics = _upto(first)
    stored = build_alerts(flags, metrics, None, CONFIG)
    flagship = _flagship(stored).filter(pl.col("status") == "open")
    assert flagship.height == 1
    stored = stored.with_columns(
        pl.when(pl.col("alert_id") == flagship["alert_id"].item())
        .then(pl.lit(True))
        .otherwise(pl.col("acknowledged"))
        .alias("acknowledged"),
        pl.when(pl.col("alert_id") == flagship["alert_id"].item())
        .then(pl.lit("ops"))
        .otherwise(pl.col("acknowledged_by"))
        .alias("acknowledged_by"),
        pl.when(pl.col("alert_id") == flagship["alert_id"].item())
        .then(pl.lit(datetime(2025, 12, 1, 9)))
        .otherwise(pl.col("acknowledged_at"))
        .alias("acknowledged_at"),
    )
    day = first
    for step in (1, 1, 4, 6):  # the schedule's window: one day, then a few at a time
        since, day = day + timedelta(days=1), day + timedelta(days=step)
        stored, window_start = _update(stored, since, day)
        assert window_start < base_from(since, CONFIG)  # the flagship's open episode reaches back
        _assert_equals_a_rebuild(stored, day)
    acked = _flagship(stored).filter(pl.col("acknowledged"))
    assert (
        acked.height == 1
        and acked["status"].item() == "open"
        and acked["acknowledged"].item()
        and acked["acknowledged_by"].item() == "ops"
    )
    assert acked["alert_id"].item() == flagship["alert_id"].item()

    # an older range (the flagship's slide): the later episodes it reaches are re-derived whole
    stored, _ = _update(stored, SLIDE + timedelta(days=3), day)
    _assert_equals_a_rebuild(stored, day)
    assert _flagship(stored).filter(pl.col("acknowledged"))["alert_id"].to_list() == acked["alert_id"].to_list()


def test_windows_cover_only_what_can_change():
    """A store with no live episode reaching back contributes nothing before the base window: a flag dated
    before it at such a store does not open an episode in the update (its stored row stays)."""
    flags, metrics = _upto(END)
    full = build_alerts(flags, metrics, None, CONFIG)
    windows = pl.DataFrame({"shop_no": sorted(set(METRICS["shop_no"])), "rederive_from": [END] * 10})
    cut = build_alerts(flags, metrics, None, CONFIG, windows=windows)
    assert cut.height <= full.height
    assert cut.filter(pl.col("opened_on") < END).is_empty()
