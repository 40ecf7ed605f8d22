"""Baseline restarts that operators asked for by labelling an alert 'new-normal'.

`baseline_resets_from_alerts(alerts) -> pl.DataFrame[shop_no, metric_name, reset_date, alert_id,
    acknowledged_at]`
    One row per metric of every alert labelled new-normal (`metric_names` exploded, or `metric_name`).
    reset_date = `change_started_on` (the day the new level began, per the change-point estimate), or
    `opened_on` when there is none. The SPC engine restarts the store x metric baseline from the latest
    reset_date on or before the day it scores. Sorted, duplicates removed.

`load_baseline_resets(connection)` reads them from the acknowledgement log and the alerts it refers to.
"""

from __future__ import annotations

import polars as pl

from store_anomaly.ack_log import ALERTS_TABLE, latest_acks, read_declared_columns

# The alert columns a reset of an acknowledgement logged before the log kept them needs, with their stored types.
ACKNOWLEDGED_ALERT_SCHEMA: dict[str, pl.DataType] = {
    "alert_id": pl.String(),
    "shop_no": pl.String(),
    "metric_name": pl.String(),
    "metric_names": pl.String(),
    "opened_on": pl.Date(),
    "change_started_on": pl.Date(),
}

RESET_SCHEMA = {
    "shop_no": pl.String,
    "metric_name": pl.String,
    "reset_date": pl.Date,
    "alert_id": pl.String,
    "acknowledged_at": pl.Datetime("us"),
}


def metric_list() -> pl.Expr:
    """An alert's metrics as a list: `metric_names` split on commas, or its headline `metric_name`."""
    return pl.coalesce(pl.col("metric_names"), pl.col("metric_name")).str.split(",")


def baseline_resets_from_alerts(alerts: pl.DataFrame) -> pl.DataFrame:
    """Baseline restarts asked for by new-normal labels; see the module docstring."""
    return (
        alerts.filter(pl.col("ack_label") == "new-normal")
        .select(
            "shop_no",
            metric_list().alias("metric_name"),
            pl.coalesce("change_started_on", "opened_on").cast(pl.Date).alias("reset_date"),
            "alert_id",
            pl.col("acknowledged_at").cast(pl.Datetime("us")),
        )
        .explode("metric_name")
        .with_columns(pl.col("metric_name").str.strip_chars())
        .filter(pl.col("metric_name") != "")
        .unique(["shop_no", "metric_name", "reset_date"], keep="first")
        .sort("shop_no", "metric_name", "reset_date")
        .cast(RESET_SCHEMA)
    )


def load_baseline_resets(connection) -> pl.DataFrame | None:
    """Baselines operators declared a 'new normal' (alerts whose latest acknowledgement in the log has that label).

    The store, metrics and restart day are those the log kept when the label was given, so a rebuild (whose SPC
    runs before the alerts table holds the alert again) restarts the same baselines; a row logged before the log
    kept them is read through the alerts table."""
    new_normal = latest_acks(connection).filter(pl.col("ack_label") == "new-normal")
    if not new_normal.height:
        return None
    stored = read_declared_columns(connection, ALERTS_TABLE, ACKNOWLEDGED_ALERT_SCHEMA)
    alerts = new_normal.join(
        stored,
        on="alert_id",
        how="left",
        suffix="_alert",
    ).select(
        "alert_id",
        pl.coalesce("shop_no", "shop_no_alert").alias("shop_no"),
        pl.col("metric_name"),
        pl.coalesce("metric_names", "metric_names_alert").alias("metric_names"),
        pl.col("opened_on"),
        pl.coalesce("reset_on", "change_started_on").alias("change_started_on"),
        "ack_label",
        "acknowledged_at",
    )
    resets = baseline_resets_from_alerts(alerts.filter(pl.col("shop_no").is_not_null()))
    return resets if resets.height else None
