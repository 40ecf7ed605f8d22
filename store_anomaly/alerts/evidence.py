"""Evidence for an alert episode (pure, no Dagster, no I/O): what else moved over the episode's window, which
peer may have taken its customers, what the data quality and the calendar say. Keyed by `episode_uid`; read by
the descriptions (`store_anomaly.alerts.describe`). See `store_anomaly.alerts.episodes` for the episode rules
(item 9: cannibalization)."""

from __future__ import annotations

import polars as pl

from store_anomaly.alerts.config import KPI_COLUMNS, AlertConfig
from store_anomaly.kpis.catalog import dq_counter_columns


def open_long(metrics: pl.DataFrame, metric_names: list[str]) -> pl.DataFrame:
    """(shop_no, metric_date, weekday, metric_name, value) of open days, nulls dropped."""
    frame = metrics.filter(~pl.col("is_closed").fill_null(False))
    names = list(metric_names)
    if not names:
        return pl.DataFrame(
            schema={
                "shop_no": pl.String,
                "metric_date": pl.Date,
                "weekday": pl.Int8,
                "metric_name": pl.String,
                "value": pl.Float64,
            }
        )
    return (
        frame.select("shop_no", "metric_date", *[pl.col(m).cast(pl.Float64) for m in names])
        .unpivot(index=["shop_no", "metric_date"], variable_name="metric_name", value_name="value")
        .drop_nulls("value")
        .with_columns(pl.col("metric_date").dt.weekday().alias("weekday"))
    )


def window_changes(long: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """Weekday-matched before/after change per window x metric.

    `long`: output of `_open_long`. `windows`: key, shop_no, metric_name (optional: all metrics when absent),
    after_from, after_to, before_from, before_to. Returns key, shop_no, metric_name, before_mean, after_mean,
    change_pct = 100 * (sum over shared weekdays of the after weekday means / same for before - 1).
    """
    on = ["shop_no", "metric_name"] if "metric_name" in windows.columns else ["shop_no"]
    joined = (
        windows.join(long, on=on, how="inner")
        .with_columns(
            pl.when(pl.col("metric_date").is_between(pl.col("after_from"), pl.col("after_to")))
            .then(pl.lit("after"))
            .when(pl.col("metric_date").is_between(pl.col("before_from"), pl.col("before_to")))
            .then(pl.lit("before"))
            .alias("period")
        )
        .drop_nulls("period")
    )
    by_weekday = joined.group_by("key", "shop_no", "metric_name", "weekday", "period").agg(
        pl.col("value").mean().alias("mean")
    )
    after = by_weekday.filter(pl.col("period") == "after").drop("period").rename({"mean": "after_wd"})
    before = by_weekday.filter(pl.col("period") == "before").drop("period").rename({"mean": "before_wd"})
    matched = (
        after.join(before, on=["key", "shop_no", "metric_name", "weekday"], how="inner")
        .group_by("key", "shop_no", "metric_name")
        .agg(pl.col("after_wd").sum().alias("after_sum"), pl.col("before_wd").sum().alias("before_sum"))
    )
    means = joined.group_by("key", "shop_no", "metric_name").agg(
        pl.col("value").filter(pl.col("period") == "before").mean().alias("before_mean"),
        pl.col("value").filter(pl.col("period") == "after").mean().alias("after_mean"),
    )
    return means.join(matched, on=["key", "shop_no", "metric_name"], how="left").select(
        "key",
        "shop_no",
        "metric_name",
        "before_mean",
        "after_mean",
        pl.when(pl.col("before_sum") > 0)
        .then(100.0 * (pl.col("after_sum") / pl.col("before_sum") - 1.0))
        .alias("change_pct"),
    )


def comparison_windows(episodes: pl.DataFrame, config: AlertConfig) -> pl.DataFrame:
    return episodes.select(
        pl.col("episode_uid").alias("key"),
        "shop_no",
        pl.col("change_started_on").alias("after_from"),
        pl.max_horizontal("last_seen_on", "change_started_on").alias("after_to"),
        (pl.col("change_started_on") - pl.duration(days=config.comparison_baseline_days)).alias("before_from"),
        (pl.col("change_started_on") - pl.duration(days=1)).alias("before_to"),
    )


def peer_window_changes(long: pl.DataFrame, peer_windows: pl.DataFrame, candidates_per_batch: int) -> pl.DataFrame:
    """`window_changes` of every peer window, a batch of episodes (keys, by window start) at a time, each batch
    joined to the days of its own date span only: the join is episodes x peer stores x days, which for 1,000
    stores and a year of days would not fit in memory at once. The result is the same as one call."""
    keys = peer_windows.group_by("key").agg(pl.col("before_from").min()).sort("before_from", "key")["key"]
    parts = []
    for first in range(0, keys.len(), candidates_per_batch):
        batch = peer_windows.filter(pl.col("key").is_in(keys.slice(first, candidates_per_batch).implode()))
        days = long.filter(
            pl.col("metric_date").is_between(batch["before_from"].min(), batch["after_to"].max())
            & pl.col("metric_name").is_in(batch["metric_name"].unique().implode())
        )
        parts.append(window_changes(days, batch))
    return pl.concat(parts) if parts else window_changes(long, peer_windows)


def peer_up_days(peer_windows: pl.DataFrame, flags_up: pl.DataFrame, candidates_per_batch: int) -> pl.DataFrame:
    """(key, shop_no, up_days): the days each peer has a WARNING+ 'up' flag on the metric inside the window,
    a batch of episodes at a time (the join is episodes x peer stores x their flags). Same as one join."""
    keys = peer_windows["key"].unique().sort()
    parts = []
    for first in range(0, keys.len(), candidates_per_batch):
        batch = peer_windows.filter(pl.col("key").is_in(keys.slice(first, candidates_per_batch).implode()))
        parts.append(
            batch.join(flags_up, on=["shop_no", "metric_name"], how="inner")
            .filter(pl.col("metric_date").is_between(pl.col("after_from"), pl.col("after_to")))
            .group_by("key", "shop_no")
            .agg(pl.col("metric_date").n_unique().alias("up_days"))
        )
    if not parts:
        return pl.DataFrame(schema={"key": peer_windows.schema["key"], "shop_no": pl.String, "up_days": pl.UInt32})
    return pl.concat(parts)


# What `cannibalization_suspects` returns per down episode with a suspect.
SUSPECTS_SCHEMA: dict[str, pl.DataType] = {
    "episode_uid": pl.Int64(),
    "cannibalization_suspect": pl.String(),
    "suspect_change_pct": pl.Float64(),
    "suspect_opened_on": pl.Date(),
}

# Episodes whose peer windows one join of `peer_window_changes` holds (memory: episodes x stores x days).
CANDIDATES_PER_BATCH = 25


def cannibalization_suspects(
    episodes: pl.DataFrame,
    long: pl.DataFrame,
    flags_up: pl.DataFrame,
    metrics: pl.DataFrame,
    config: AlertConfig,
    candidates_per_batch: int = CANDIDATES_PER_BATCH,
    shops: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`shops` (shop_no): the peers (default: every store of `long`)."""
    shops = long.select("shop_no").unique() if shops is None else shops
    schema = SUSPECTS_SCHEMA
    candidates = episodes.filter(
        (pl.col("direction") == "down") & pl.col("metric_name").is_in(list(config.cannibalization_metrics))
    )
    if candidates.is_empty():
        return pl.DataFrame(schema=schema)
    # every score is one episode's against every peer (its median too): episodes in batches, same result
    keys = candidates["episode_uid"].unique().sort()
    parts = [
        _suspects(
            candidates.filter(pl.col("episode_uid").is_in(keys.slice(first, SCORED_PER_BATCH).implode())),
            long,
            flags_up,
            metrics,
            config,
            candidates_per_batch,
            shops,
        )
        for first in range(0, keys.len(), SCORED_PER_BATCH)
    ]
    return pl.concat(parts).cast(schema)


# Episodes scored against every peer at a time (memory: episodes x stores rows of windows and scores).
SCORED_PER_BATCH = 250


def _suspects(
    candidates: pl.DataFrame,
    long: pl.DataFrame,
    flags_up: pl.DataFrame,
    metrics: pl.DataFrame,
    config: AlertConfig,
    candidates_per_batch: int,
    shops: pl.DataFrame,
) -> pl.DataFrame:
    schema = SUSPECTS_SCHEMA
    windows = comparison_windows(candidates, config).join(
        candidates.select(pl.col("episode_uid").alias("key"), "metric_name", pl.col("shop_no").alias("own_shop")),
        on="key",
    )
    peer_windows = windows.drop("shop_no").join(shops, how="cross").filter(pl.col("shop_no") != pl.col("own_shop"))
    changes = peer_window_changes(long, peer_windows, candidates_per_batch)
    medians = changes.group_by("key").agg(pl.col("change_pct").median().alias("median_pct"))
    first_day = metrics.group_by("shop_no").agg(pl.col("metric_date").min().alias("first_day"))
    up_days = peer_up_days(peer_windows, flags_up, candidates_per_batch)
    rise = config.cannibalization_min_rise_pct
    scored = (
        peer_windows.select("key", "shop_no", "before_from", "after_to")
        .join(changes.select("key", "shop_no", "change_pct"), on=["key", "shop_no"], how="left")
        .join(medians, on="key", how="left")
        .join(up_days, on=["key", "shop_no"], how="left")
        .join(first_day, on="shop_no", how="left")
        .with_columns(
            pl.col("first_day")
            .is_between(pl.col("before_from") + pl.duration(days=1), pl.col("after_to"))
            .alias("new_store"),
            pl.col("median_pct").fill_null(0.0),
            pl.col("up_days").fill_null(0),
        )
        .filter(
            pl.col("new_store")
            | ((pl.col("change_pct") >= rise) & (pl.col("change_pct") - pl.col("median_pct") >= rise))
            | ((pl.col("up_days") >= 3) & (pl.col("change_pct") - pl.col("median_pct") >= rise / 2))
        )
        .sort(["key", "new_store", "change_pct"], descending=[False, True, True], nulls_last=True)
        .group_by("key", maintain_order=True)
        .first()
    )
    return scored.select(
        pl.col("key").alias("episode_uid"),
        pl.col("shop_no").alias("cannibalization_suspect"),
        pl.col("change_pct").alias("suspect_change_pct"),
        pl.when(pl.col("new_store")).then(pl.col("first_day")).alias("suspect_opened_on"),
    ).cast(schema)


# Stores whose episodes one pass of `episode_context` joins to their days (memory: episodes x days x KPIs).
CONTEXT_CHUNK_STORES = 100


def episode_context(
    episodes: pl.DataFrame, metrics: pl.DataFrame, config: AlertConfig, chunk_stores: int = CONTEXT_CHUNK_STORES
) -> dict[str, pl.DataFrame]:
    """Evidence frames for the descriptions, all keyed by episode_uid. Every frame but `long` is a store's own
    (its episodes against its own days), so it is computed `chunk_stores` stores at a time: each episode is
    joined to every day of its store, which for 1,000 stores and a year would not fit in memory at once. The
    result is the same as one pass (its rows in another order)."""
    # the peers' days, for the cannibalization: only the metrics it compares (the stores: any KPI reported)
    peer_metrics = [m for m in KPI_COLUMNS if m in config.cannibalization_metrics]
    long = open_long(metrics, peer_metrics)
    reporting = metrics.filter(
        ~pl.col("is_closed").fill_null(False) & pl.any_horizontal(pl.col(m).is_not_null() for m in KPI_COLUMNS)
    ).select(pl.col("shop_no").unique())
    shops = episodes["shop_no"].unique().sort()
    chunks = [shops.slice(first, chunk_stores) for first in range(0, shops.len(), chunk_stores)] or [shops]
    parts = []
    for chunk in chunks:
        in_chunk = pl.col("shop_no").is_in(chunk.implode())
        chunk_metrics = metrics.filter(in_chunk)
        parts.append(
            _store_context(
                episodes.filter(in_chunk), chunk_metrics, open_long(chunk_metrics, list(KPI_COLUMNS)), config
            )
        )
    names = metrics.group_by("shop_no").agg(pl.col("shop_name").drop_nulls().last())
    return {
        "related": pl.concat([p["related"] for p in parts]),
        "dq": pl.concat([p["dq"] for p in parts]),
        "holidays": pl.concat([p["holidays"] for p in parts]).sort("episode_uid", "metric_date"),
        "long": long,
        "reporting": reporting,
        "names": names,
    }


def _store_context(
    episodes: pl.DataFrame, metrics: pl.DataFrame, long: pl.DataFrame, config: AlertConfig
) -> dict[str, pl.DataFrame]:
    windows = comparison_windows(episodes, config)
    related = window_changes(long, windows).rename({"key": "episode_uid"})
    window_days = windows.rename({"key": "episode_uid"}).join(metrics, on="shop_no", how="inner")
    in_window = window_days.filter(pl.col("metric_date").is_between(pl.col("after_from"), pl.col("after_to")))
    counters = dq_counter_columns(metrics.columns)
    dq = in_window.group_by("episode_uid").agg(
        *[pl.col(c).cast(pl.Int64).fill_null(0).sum().alias(c) for c in counters],
        (
            pl.sum_horizontal([pl.col(c).cast(pl.Int64).fill_null(0) for c in counters]) > 0
            if counters
            else pl.lit(False)
        )
        .sum()
        .cast(pl.Int64)
        .alias("dq_days"),
        pl.col("is_closed").fill_null(False).sum().cast(pl.Int64).alias("closed_days"),
    )
    holidays = (
        window_days.filter(
            pl.col("metric_date").is_between(pl.col("after_from") - pl.duration(days=1), pl.col("after_to"))
            & pl.col("holiday_name").is_not_null()
        )
        .select("episode_uid", "metric_date", "holiday_name")
        .unique()
    )
    return {"related": related, "dq": dq, "holidays": holidays}
