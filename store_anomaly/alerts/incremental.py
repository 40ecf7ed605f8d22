"""Alerts brought up to date from the days that changed, equal to a rebuild from every flag (pure: no I/O).

A run changes flags and metrics from some business date `since` on (the first day of its range). Episodes are
maximal runs of flag days of one store and family separated by fewer than N quiet days
(`AlertConfig.resolve_after_quiet_days`), so an episode that ended more than N days before `since` can
neither grow nor merge with a later one: only the episodes still open, or closed within N days of `since`,
can change, and they are re-derived whole from their first flag day. Episodes never span stores, so each
store has its own window (`rederive_windows`): the first day of its oldest live episode reaching N + 1 days
before `since`, else N + 1 days before `since`; one long-open episode at one store no longer re-derives
months of episodes at every other store. What crosses stores reads every store: the chain-wide share of a
day (all stores' flag days) and the cannibalization evidence (all stores' metrics over the episode's
comparison window). `update_alerts` re-derives each store's episodes from its window (`build_alerts(...,
windows=...)`) and `merge_rederived` puts them back beside the episodes nothing could change. The result
equals `build_alerts` over every flag (the tests compare both).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import polars as pl

from store_anomaly.alerts.config import ALERT_SCHEMA, AlertConfig
from store_anomaly.alerts.episodes import build_alerts


def rederive_windows(existing: pl.DataFrame, since: date, config: AlertConfig) -> pl.DataFrame:
    """(shop_no, rederive_from) of the stores with a live episode reaching N + 1 days before `since`: the
    first day of the first such episode, a fixed point per store (an episode is never cut). Every other
    store re-derives from N + 1 days before `since` (`base_from`)."""
    base = base_from(since, config)
    live = existing.filter(~pl.col("stale").fill_null(False)).select("shop_no", "opened_on", "last_seen_on")
    starts = pl.DataFrame({"shop_no": [], "rederive_from": []}, schema={"shop_no": pl.String, "rederive_from": pl.Date})
    current = live.select("shop_no").unique().with_columns(pl.lit(base).alias("rederive_from"))
    while current.height:  # one pass per episode a store's window steps back over, not per row or day
        reaching = (
            live.join(current, on="shop_no")
            .filter(pl.col("last_seen_on") >= pl.col("rederive_from"))
            .group_by("shop_no")
            .agg(pl.col("opened_on").min().alias("first"), pl.col("rederive_from").first())
        )
        moved = reaching.filter(pl.col("first") < pl.col("rederive_from"))
        settled = reaching.filter(pl.col("first") >= pl.col("rederive_from")).select("shop_no", "rederive_from")
        starts = pl.concat([starts, settled])
        current = moved.select("shop_no", pl.col("first").alias("rederive_from"))
    return starts.filter(pl.col("rederive_from") < base).sort("shop_no")


def base_from(since: date, config: AlertConfig) -> date:
    """Where a store with no live episode reaching back re-derives from: N + 1 days before `since`."""
    return since - timedelta(days=config.resolve_after_quiet_days + 1)


def rederive_from(existing: pl.DataFrame, since: date, config: AlertConfig) -> date:
    """The first flag date any store re-derives from when flags and metrics changed from `since` on."""
    windows = rederive_windows(existing, since, config)
    base = base_from(since, config)
    return min(base, windows["rederive_from"].min()) if windows.height else base


def _with_window(frame: pl.DataFrame, windows: pl.DataFrame, base: date) -> pl.DataFrame:
    return frame.join(windows, on="shop_no", how="left").with_columns(pl.col("rederive_from").fill_null(base))


def evidence_from(rederived: pl.DataFrame, window_start: date, config: AlertConfig) -> date:
    """The first metrics (and flags) date the re-derived episodes' evidence reads: the change-point search
    before each opening, and the comparison window before each estimated onset (`change_started_on`)."""
    first = window_start - timedelta(days=config.changepoint_lookback_days)
    if rederived.height and rederived["change_started_on"].min() is not None:
        onset = rederived["change_started_on"].min() - timedelta(days=config.comparison_baseline_days + 1)
        first = min(first, onset)
    return first


def split_existing(
    existing: pl.DataFrame, windows: pl.DataFrame, base: date, config: AlertConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the alerts the re-derivation may match or replace, the alerts it cannot touch); `windows`, `base`:
    each store's first re-derived day (`rederive_windows`, `base_from`)."""
    tolerance = timedelta(days=config.match_tolerance_days + 1)
    stale = pl.col("stale").fill_null(False)
    start = pl.col("rederive_from")
    touched = (~stale & (pl.col("last_seen_on") >= start)) | (stale & (pl.col("last_seen_on") >= start - tolerance))
    marked = _with_window(existing, windows, base).with_columns(touched.alias("_touched"))
    return (
        marked.filter(pl.col("_touched")).drop("rederive_from", "_touched"),
        marked.filter(~pl.col("_touched")).drop("rederive_from", "_touched"),
    )


def merge_rederived(
    rederived: pl.DataFrame,
    untouched: pl.DataFrame,
    windows: pl.DataFrame,
    base: date,
    as_of: date,
    names: pl.DataFrame,
) -> pl.DataFrame:
    """The whole alerts table: the re-derived episodes (those ending before their store's window, derived
    from a cut history, are dropped: their stored rows are the untouched ones) and the untouched alerts,
    which are evaluated as of `as_of` too. `names` (shop_no, shop_name): the latest store names."""
    fresh = (
        _with_window(rederived, windows, base)
        .filter(pl.col("stale") | (pl.col("last_seen_on") >= pl.col("rederive_from")))
        .drop("rederive_from")
    )
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


# (flags, metrics) of every store from a business date on: the asset reads them in SQL, the tests and the
# benchmark filter frames held in memory.
WindowReader = Callable[[date], tuple[pl.DataFrame, pl.DataFrame]]


def update_alerts(
    existing: pl.DataFrame,
    since: date,
    config: AlertConfig,
    read: WindowReader,
    anchors: pl.DataFrame | Callable[[], pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, date]:
    """The whole table, re-deriving only what a change from `since` on can reach, each store from its own
    window (`rederive_windows`); (table, the earliest store window). `anchors` may be a call that gives them,
    made once the first window is read (the asset reads them meanwhile)."""
    base = base_from(since, config)
    windows = rederive_windows(existing, since, config)
    window_start = min(base, windows["rederive_from"].min()) if windows.height else base
    touched, untouched = split_existing(existing, windows, base, config)
    read_from = evidence_from(touched, window_start, config)
    while True:  # the evidence of a re-derived episode may reach before its stored one: read further back
        flags, metrics = read(read_from)
        if callable(anchors):
            anchors = anchors()
        as_of = metrics["metric_date"].max() if metrics.height else None
        every_store = pl.concat([flags.select("shop_no"), metrics.select("shop_no")]).unique()
        rederived = build_alerts(
            flags,
            metrics,
            touched,
            config,
            as_of=as_of,
            anchors=anchors,
            windows=_with_window(every_store, windows, base),
        )
        needed = evidence_from(rederived.filter(pl.col("last_seen_on") >= window_start), window_start, config)
        if needed >= read_from:
            break
        read_from = needed
    names = metrics.group_by("shop_no").agg(pl.col("shop_name").drop_nulls().last())
    return merge_rederived(rederived, untouched, windows, base, as_of or since, names), window_start
