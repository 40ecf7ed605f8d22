"""Test helper: write warehouse rows the way the assets would, without running them."""

from __future__ import annotations

import polars as pl

from store_anomaly.ack_log import ALERTS_TABLE
from store_anomaly.alerts.assets import ALERTS_TABLE_SCHEMA
from store_anomaly.io_managers.mysql import conform_to_declared_columns
from store_anomaly.mysql import MySQLUrl, bulk_load, ensure_table, quote_identifier, transaction
from store_anomaly.resources import Warehouse


def warehouse_at(url: str) -> Warehouse:
    return Warehouse(name="warehouse", url=url)


def store_alerts(url: str, alerts: pl.DataFrame) -> None:
    """Creates `store_anomaly_alerts` as the alerts asset declares it and stores `alerts` in it."""
    parsed = MySQLUrl.parse(url)
    frame = conform_to_declared_columns(alerts, ALERTS_TABLE_SCHEMA.columns, ALERTS_TABLE)
    with transaction(parsed.connect(local_infile=True)) as connection:
        ensure_table(connection, parsed.database, ALERTS_TABLE, ALERTS_TABLE_SCHEMA.columns, ["alert_id"])
        bulk_load(connection, quote_identifier(ALERTS_TABLE), frame)
