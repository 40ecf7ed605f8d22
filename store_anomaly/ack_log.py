"""The acknowledgement log `store_anomaly_alert_acks`: what operators said about each alert, append-only.

Written by `store-anomaly ack`; overlaid on the rebuilt alerts table, and read by SPC, where a 'new-normal'
label restarts a baseline. It sits below both readers, so SPC reads it without importing the alerts package,
and it is declared as an asset of its own, so that feedback loop into SPC shows in the lineage graph.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from dagster import AssetSpec

from store_anomaly.mysql import query_frame, table_exists

# The alerts the log refers to by alert_id (the table the alerts asset rebuilds).
ALERTS_TABLE = "store_anomaly_alerts"
ACKS_TABLE = "store_anomaly_alert_acks"
ACK_COLUMNS: tuple[str, ...] = ("acknowledged", "acknowledged_by", "acknowledged_at", "ack_label", "ack_note")

ACKS_DDL = f"""CREATE TABLE IF NOT EXISTS {ACKS_TABLE} (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        alert_id VARCHAR(16) NOT NULL,
        acknowledged_by VARCHAR(64) NOT NULL,
        acknowledged_at DATETIME(6) NOT NULL,
        ack_label VARCHAR(16) NULL,
        ack_note TEXT NULL,
        shop_no VARCHAR(16) NULL,
        metric_names VARCHAR(512) NULL,
        reset_on DATE NULL,
        KEY (alert_id)) ENGINE=InnoDB"""
# What a new-normal acknowledgement restarts, kept in the log itself when it is written: a rebuild recomputes
# SPC before the alerts table holds the alert again, and must restart the same baselines from the same day.
ACK_RESET_COLUMNS = {"shop_no": "VARCHAR(16) NULL", "metric_names": "VARCHAR(512) NULL", "reset_on": "DATE NULL"}


def add_reset_columns(cursor) -> None:
    """Adds the reset columns to a log written before they existed (its rows keep them NULL and are read through
    the alerts table, as they were). A check first: MySQL has no ADD COLUMN IF NOT EXISTS."""
    present = table_columns(cursor, ACKS_TABLE)
    missing = [f"ADD COLUMN {name} {kind}" for name, kind in ACK_RESET_COLUMNS.items() if name not in present]
    if missing:
        cursor.execute(f"ALTER TABLE {ACKS_TABLE} {', '.join(missing)}")


# What the log's readers take of each acknowledgement (the reset columns NULL in rows logged before they existed).
ACK_LOG_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "alert_id": pl.String(),
    "acknowledged_by": pl.String(),
    "acknowledged_at": pl.Datetime("us"),
    "ack_label": pl.String(),
    "ack_note": pl.String(),
    "shop_no": pl.String(),
    "metric_names": pl.String(),
    "reset_on": pl.Date(),
}

ACK_LOG_SPEC = AssetSpec(
    ACKS_TABLE,
    group_name="alerts",
    kinds={"mysql"},
    description=(
        "Append-only log of alert acknowledgements (who, when, label, note), written by `store-anomaly ack`. "
        "A 'new-normal' label restarts the store's SPC baseline for the alert's metrics."
    ),
)


def table_columns(cursor, table: str) -> set[str]:
    """The names of `table`'s columns in the session's database."""
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s",
        (table,),
    )
    return {row[0] for row in cursor.fetchall()}


def read_declared_columns(connection, table: str, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """`table` as a frame of exactly `schema`: where the state enters the pure alert and SPC code, so those can
    rely on every column being there. A column an older table lacks is null; no table is no rows."""
    with connection.cursor() as cursor:
        if not table_exists(cursor, table):
            return pl.DataFrame(schema=dict(schema))
        present = table_columns(cursor, table)
        stored = {name: dtype for name, dtype in schema.items() if name in present}
        frame = query_frame(cursor, f"SELECT {', '.join(stored)} FROM {table}", None, stored)
    return frame.with_columns(
        pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in stored
    ).select(list(schema))


def latest_acks(connection) -> pl.DataFrame:
    """alert_id -> its latest acknowledgement in the log (acknowledged is True), with what a new-normal one
    restarts (`shop_no`, `metric_names`, `reset_on`)."""
    acks = read_declared_columns(connection, ACKS_TABLE, ACK_LOG_SCHEMA)
    return acks.sort("id").group_by("alert_id").last().drop("id").with_columns(acknowledged=pl.lit(True))


def overlay_acks(alerts: pl.DataFrame, acks: pl.DataFrame) -> pl.DataFrame:
    """Alerts with the acknowledgement columns taken from the log where the log knows more."""
    if not acks.height:
        return alerts
    return (
        alerts.join(acks.select("alert_id", *ACK_COLUMNS), on="alert_id", how="left", suffix="_log")
        .with_columns(pl.coalesce(f"{c}_log", c).alias(c) for c in ACK_COLUMNS)
        .drop(f"{c}_log" for c in ACK_COLUMNS)
    )
