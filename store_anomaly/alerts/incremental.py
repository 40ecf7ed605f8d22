"""Alerts brought up to date from the days that changed, equal to a rebuild from every flag (pure: no I/O).

A run changes flags and metrics from some business date `since` on (the first day of its range). Episodes are
maximal runs of flag days separated by fewer than N quiet days (`AlertConfig.resolve_after_quiet_days`), so
an episode that ended more than N days before `since` can neither grow nor merge with a later one: only the
episodes still open, or closed within N days of `since`, can change, and they are re-derived whole from
their first flag day. `rederive_from` finds that first day; `episodes.build_alerts` re-derives them from the
flags and metrics of that window (with the lookback its evidence needs); `merge_rederived` puts them back
beside the episodes nothing could change. The result equals `build_alerts` over every flag (the tests
compare both), at the cost of the open episodes and the run's days rather than of the whole history.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from store_anomaly.alerts.config import ALERT_SCHEMA, AlertConfig


def rederive_from(existing: pl.DataFrame, since: date, config: AlertConfig) -> date:
    """The first flag date to re-derive from when flags and metrics changed from `since` on: N + 1 days
    before it, or earlier, the first day of every live episode that reaches that far (a fixed point: an
    episode is never cut)."""
    start = since - timedelta(days=config.resolve_after_quiet_days + 1)
    live = existing.filter(~pl.col("stale").fill_null(False))
    while True:
        reaching = live.filter(pl.col("last_seen_on") >= start)
        first = reaching["opened_on"].min() if reaching.height else None
        if first is None or first >= start:
            return start
        start = first


def evidence_from(rederived: pl.DataFrame, window_start: date, config: AlertConfig) -> date:
    """The first metrics (and flags) date the re-derived episodes' evidence reads: the change-point search
    before each opening, and the comparison window before each estimated onset (`change_started_on`)."""
    first = window_start - timedelta(days=config.changepoint_lookback_days)
    if rederived.height and rederived["change_started_on"].min() is not None:
        onset = rederived["change_started_on"].min() - timedelta(days=config.comparison_baseline_days + 1)
        first = min(first, onset)
    return first


def split_existing(
    existing: pl.DataFrame, window_start: date, config: AlertConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the alerts the re-derivation may match or replace, the alerts it cannot touch)."""
    tolerance = timedelta(days=config.match_tolerance_days + 1)
    stale = pl.col("stale").fill_null(False)
    touched = (~stale & (pl.col("last_seen_on") >= window_start)) | (
        stale & (pl.col("last_seen_on") >= window_start - tolerance)
    )
    return existing.filter(touched), existing.filter(~touched)


def merge_rederived(
    rederived: pl.DataFrame, untouched: pl.DataFrame, window_start: date, as_of: date, names: pl.DataFrame
) -> pl.DataFrame:
    """The whole alerts table: the re-derived episodes (those ending before the window, derived from a cut
    history, are dropped: their stored rows are the untouched ones) and the untouched alerts, which are
    evaluated as of `as_of` too. `names` (shop_no, shop_name): the latest store names."""
    fresh = rederived.filter(pl.col("stale") | (pl.col("last_seen_on") >= window_start))
    live = ~pl.col("stale").fill_null(False)
    kept = untouched.filter(~pl.col("alert_id").is_in(fresh["alert_id"].implode())).with_columns(
        pl.when(live).then(pl.lit(as_of)).otherwise(pl.col("evaluated_as_of")).alias("evaluated_as_of")
    )
    if names.height:
        kept = (
            kept.join(names.rename({"shop_name": "_latest_name"}), on="shop_no", how="left")
            .with_columns(
                pl.when(live)
                .then(pl.coalesce("_latest_name", "shop_name"))
                .otherwise(pl.col("shop_name"))
                .alias("shop_name")
            )
            .drop("_latest_name")
        )
    columns = [pl.col(c).cast(t) for c, t in ALERT_SCHEMA.items()]
    extras = [c for c in fresh.columns if c not in ALERT_SCHEMA]
    result = pl.concat([fresh.select(*columns, *extras), kept.select(*columns, *extras)], how="vertical_relaxed")
    if result["alert_id"].n_unique() != result.height:
        raise RuntimeError("alert ids are not unique after the incremental update; this is a bug")
    return result.sort("opened_on", "shop_no", "alert_id")
