"""Alerts sized against the anchored reference (pure, no Dagster, no I/O).

The SPC engine publishes, per store, KPI and day, the anchored reference: the weekday-adjusted level *before* the
change under test (`anchor_value`), the estimated onset (`anchor_since`) and the weekday-adjusted level of the last
days (`recent_level`); see `store_anomaly.spc.anchor`. An episode is sized on its headline KPI: the anchor held
on the day it opened (the onset is recent then and its estimate sharp; the latest day's when none was held yet),
the current level of its last flag day (a resolved episode keeps the figures it ended with):

- `change_started_on` = `anchor_since` (never after `opened_on`: a change cannot begin after it was noticed);
- `baseline_value` = `anchor_value`, `current_value` = `recent_level` (KPI units, a day's level);
- `change_pct` = 100 * (current - baseline) / baseline;
- `estimated_loss` (sales episodes, a fall): the revenue below the baseline since the onset, i.e.
  sum over trading days in [change_started_on, last_seen_on] of (baseline - revenue).

When the headline holds no anchor on that day (a one-day incident, a change under test on another KPI only), the
change-point estimate of `store_anomaly.alerts.changepoint` stays.
"""

from __future__ import annotations

import polars as pl

ANCHOR_COLUMNS = ("shop_no", "metric_date", "metric_name", "anchor_value", "anchor_since", "recent_level")


def size_against_anchor(
    episodes: pl.DataFrame, anchors: pl.DataFrame | None, metrics: pl.DataFrame, loss_metric: str = "revenue"
) -> pl.DataFrame:
    """`episodes` (episode_uid, shop_no, metric_name, opened_on, last_seen_on, direction, and the change-point
    columns change_started_on, change_pct, mean_before, mean_after, change_detected) with the anchored sizing
    applied where an anchor is held, plus `current_value` and `estimated_loss`."""
    sized = episodes.with_columns(
        pl.col("mean_after").alias("current_value"), pl.lit(None, pl.Float64).alias("estimated_loss")
    )
    if anchors is None or anchors.height == 0:
        return sized.with_columns(pl.col("mean_before").alias("baseline_value"))
    anchor = anchors.select(
        pl.col("shop_no").cast(pl.String),
        pl.col("metric_date").cast(pl.Date).alias("last_seen_on"),
        pl.col("metric_name").cast(pl.String),
        pl.col("anchor_value").cast(pl.Float64).alias("_anchor"),
        pl.col("anchor_since").cast(pl.Date).alias("_since"),
        pl.col("recent_level").cast(pl.Float64).alias("_now"),
    ).filter(pl.col("_anchor").is_not_null() & (pl.col("_anchor") > 0) & pl.col("_now").is_not_null())
    # the anchor held when the episode opened (the onset is recent then, and its estimate sharp), else the
    # latest; the current level is always the latest
    at_open = anchor.rename({"last_seen_on": "opened_on", "_anchor": "_anchor0", "_since": "_since0"}).drop("_now")
    sized = (
        sized.join(anchor, on=["shop_no", "last_seen_on", "metric_name"], how="left")
        .join(at_open, on=["shop_no", "opened_on", "metric_name"], how="left")
        .with_columns(
            pl.coalesce("_anchor0", "_anchor").alias("_anchor"),
            pl.coalesce("_since0", "_since").alias("_since"),
            pl.col("_now"),
        )
    )
    held = pl.col("_anchor").is_not_null() & pl.col("_now").is_not_null()
    sized = sized.with_columns(
        pl.when(held)
        .then(pl.min_horizontal("_since", "opened_on"))
        .otherwise(pl.col("change_started_on"))
        .alias("change_started_on"),
        pl.when(held).then(pl.col("_anchor")).otherwise(pl.col("mean_before")).alias("baseline_value"),
        pl.when(held).then(pl.col("_now")).otherwise(pl.col("mean_after")).alias("current_value"),
        pl.when(held)
        .then(100.0 * (pl.col("_now") / pl.col("_anchor") - 1.0))
        .otherwise(pl.col("change_pct"))
        .alias("change_pct"),
        (held | pl.col("change_detected").fill_null(False)).alias("change_detected"),
        pl.when(held).then(pl.col("_anchor")).otherwise(pl.col("mean_before")).alias("mean_before"),
        pl.when(held).then(pl.col("_now")).otherwise(pl.col("mean_after")).alias("mean_after"),
    ).drop("_anchor", "_since", "_now", "_anchor0", "_since0")
    if loss_metric not in metrics.columns:
        return sized
    days = metrics.select(
        pl.col("shop_no").cast(pl.String),
        pl.col("metric_date").cast(pl.Date),
        pl.col(loss_metric).cast(pl.Float64).alias("_value"),
        (
            pl.col("is_closed").cast(pl.Boolean).fill_null(False) if "is_closed" in metrics.columns else pl.lit(False)
        ).alias("_closed"),
        (pl.col("holiday_name").is_not_null() if "holiday_name" in metrics.columns else pl.lit(False)).alias(
            "_holiday"
        ),
    ).filter(~pl.col("_closed") & ~pl.col("_holiday") & pl.col("_value").is_not_null())
    falls = sized.filter(
        (pl.col("metric_name") == loss_metric) & (pl.col("change_pct") < 0) & pl.col("baseline_value").is_not_null()
    ).select("episode_uid", "shop_no", "change_started_on", "last_seen_on", "baseline_value")
    loss = (
        falls.join(days, on="shop_no", how="inner")
        .filter(pl.col("metric_date").is_between(pl.col("change_started_on"), pl.col("last_seen_on")))
        .group_by("episode_uid")
        .agg((pl.col("baseline_value") - pl.col("_value")).sum().alias("_loss"))
    )
    return (
        sized.join(loss, on="episode_uid", how="left")
        .with_columns(pl.coalesce("_loss", "estimated_loss").alias("estimated_loss"))
        .drop("_loss")
    )
