"""Human state of alerts, kept in append-only logs beside the recomputed alerts table.

`store_anomaly_alerts` is rebuilt from the flags on every materialization. What people and the notifier did
(acknowledgements, notifications sent) is written to two logs that nothing recomputes, and overlaid on the
rebuilt alerts, so it survives every re-materialization, even one racing with an acknowledgement.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from store_anomaly.ack_log import (
    ACKS_DDL,
    ACKS_TABLE,
    ALERTS_TABLE,
    add_reset_columns,
    latest_acks,
    overlay_acks,
    read_declared_columns,
)
from store_anomaly.alerts.config import ALERT_SCHEMA, SEVERITY_RANK
from store_anomaly.alerts.feedback import AckInput
from store_anomaly.mysql import index_hint, query_frame, table_exists
from store_anomaly.spc import LIMITS_CHART_INDEX

NOTIFICATIONS_TABLE = "store_anomaly_alert_notifications"

STATE_DDL = (
    ACKS_DDL,
    f"""CREATE TABLE IF NOT EXISTS {NOTIFICATIONS_TABLE} (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        alert_id VARCHAR(16) NOT NULL,
        severity VARCHAR(8) NOT NULL,
        sent_at DATETIME(6) NOT NULL,
        targets TEXT NULL,
        KEY (alert_id)) ENGINE=InnoDB""",
)


def ensure_state_tables(connection) -> None:
    with connection.cursor() as cursor:
        for ddl in STATE_DDL:
            cursor.execute(ddl)
        add_reset_columns(cursor)
    connection.commit()


def read_alerts(connection) -> pl.DataFrame:
    """The alerts table as stored (empty frame of the alert schema when it does not exist yet)."""
    return read_declared_columns(connection, ALERTS_TABLE, ALERT_SCHEMA)


def notified_severities(connection) -> pl.DataFrame:
    """alert_id -> the highest severity already delivered."""
    with connection.cursor() as cursor:
        if not table_exists(cursor, NOTIFICATIONS_TABLE):
            return pl.DataFrame(schema={"alert_id": pl.String, "notified_severity": pl.String})
        sent = query_frame(
            cursor,
            f"SELECT alert_id, severity FROM {NOTIFICATIONS_TABLE}",
            None,
            {"alert_id": pl.String, "severity": pl.String},
        )
    rank = pl.col("severity").replace_strict(SEVERITY_RANK, default=-1)
    return sent.group_by("alert_id").agg(notified_severity=pl.col("severity").sort_by(rank).last())


def overlay_human_state(alerts: pl.DataFrame, acks: pl.DataFrame, notified: pl.DataFrame) -> pl.DataFrame:
    """Alerts with acknowledgement and notification columns taken from the logs where the logs know more."""
    out = overlay_acks(alerts, acks)
    if notified.height:
        out = (
            out.join(notified, on="alert_id", how="left", suffix="_log")
            .with_columns(pl.coalesce("notified_severity_log", "notified_severity").alias("notified_severity"))
            .drop("notified_severity_log")
        )
    return out


def current_alert_state(connection) -> pl.DataFrame:
    """The stored alerts with every acknowledgement and notification of the logs applied."""
    return overlay_human_state(read_alerts(connection), latest_acks(connection), notified_severities(connection))


def record_ack(connection, ack: AckInput, *, now: datetime | None = None) -> datetime:
    """Logs an acknowledgement and applies it to the alerts table, in one transaction."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    ensure_state_tables(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ACKS_TABLE} (alert_id, acknowledged_by, acknowledged_at, ack_label, ack_note) "
            "VALUES (%s, %s, %s, %s, %s)",
            (ack.alert_id, ack.by, stamp, ack.label, ack.note),
        )
        # the alert's store, metrics and, for a new-normal label, the day its baselines restart from
        cursor.execute(
            f"UPDATE {ACKS_TABLE} k JOIN {ALERTS_TABLE} a ON a.alert_id = k.alert_id "
            "SET k.shop_no = a.shop_no, k.metric_names = COALESCE(a.metric_names, a.metric_name), "
            "k.reset_on = CASE WHEN k.ack_label = 'new-normal' THEN COALESCE(a.change_started_on, a.opened_on) END "
            "WHERE k.id = LAST_INSERT_ID()"
        )
        cursor.execute(
            f"UPDATE {ALERTS_TABLE} SET acknowledged = 1, acknowledged_by = %s, acknowledged_at = %s, "
            "ack_label = COALESCE(%s, ack_label), ack_note = COALESCE(%s, ack_note) WHERE alert_id = %s",
            (ack.by, stamp, ack.label, ack.note, ack.alert_id),
        )
    connection.commit()
    return stamp


def record_notifications(connection, delivered: list[tuple[str, str, str]]) -> None:
    """Logs (alert_id, severity, targets) deliveries and mirrors them into the alerts table."""
    if not delivered:
        return
    ensure_state_tables(connection)
    stamp = datetime.now(UTC).replace(tzinfo=None)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {NOTIFICATIONS_TABLE} (alert_id, severity, sent_at, targets) VALUES (%s, %s, %s, %s)",
            [(alert_id, severity, stamp, targets) for alert_id, severity, targets in delivered],
        )
        cursor.executemany(
            f"UPDATE {ALERTS_TABLE} SET notified_severity = %s WHERE alert_id = %s",
            [(severity, alert_id) for alert_id, severity, _ in delivered],
        )
    connection.commit()


def anchored_references(connection, since: date | None = None) -> pl.DataFrame:
    """The anchored references SPC published (`store_spc_control_limits` rows holding one): the alerts' sizing.
    Only the rows with an anchor are read, in SQL: they exist while a change is under test; with `since`, only
    those of business dates from `since` on."""
    schema = {
        "shop_no": pl.String,
        "metric_date": pl.Date,
        "metric_name": pl.String,
        "anchor_value": pl.Float64,
        "anchor_since": pl.Date,
        "recent_level": pl.Float64,
    }
    with connection.cursor() as cursor:
        if not table_exists(cursor, "store_spc_control_limits"):
            return pl.DataFrame(schema=schema)
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
            "AND table_name = 'store_spc_control_limits' AND column_name IN ('anchor_value', 'recent_level')"
        )
        if cursor.fetchone()[0] < 2:  # limits written before the anchored reference existed
            return pl.DataFrame(schema=schema)
        # About one limit row in a hundred holds an anchor: the chart index (which holds anchor_value) finds them
        # without reading the wide rows of the others (54 days of 1,000 stores: 0.74 -> 0.48 s); the planner would
        # take the primary key's range
        hint = index_hint(cursor, "store_spc_control_limits", LIMITS_CHART_INDEX[0])
        return query_frame(
            cursor,
            "SELECT shop_no, metric_date, metric_name, anchor_value, anchor_since, recent_level "
            f"FROM store_spc_control_limits{hint} WHERE anchor_value IS NOT NULL"
            + (" AND metric_date >= %s" if since else ""),
            (since,) if since else None,
            schema,
        )


ACK_HISTORY_SCHEMA = {
    "acknowledged_at": pl.Datetime("us"),
    "acknowledged_by": pl.String,
    "ack_label": pl.String,
    "ack_note": pl.String,
}


def ack_history(connection, alert_id: str) -> pl.DataFrame:
    """Every acknowledgement of one alert, oldest first (the log, not only the latest)."""
    with connection.cursor() as cursor:
        if not table_exists(cursor, ACKS_TABLE):
            return pl.DataFrame(schema=ACK_HISTORY_SCHEMA)
        return query_frame(
            cursor,
            f"SELECT acknowledged_at, acknowledged_by, ack_label, ack_note FROM {ACKS_TABLE} WHERE alert_id = %s "
            "ORDER BY id",
            (alert_id,),
            ACK_HISTORY_SCHEMA,
        )
