"""A new-normal acknowledgement restarts the same baselines whatever the alerts table holds: the log keeps the
store, metrics and restart day when the label is given, so a rebuild (whose SPC runs before the alerts table
holds the alert again) restarts them as the acknowledged warehouse did. On a real, fresh database."""

from __future__ import annotations

from datetime import date

import pytest

from store_anomaly.ack_log import ACK_RESET_COLUMNS, ACKS_DDL
from store_anomaly.alerts.feedback import AckInput
from store_anomaly.alerts.state import record_ack
from store_anomaly.mysql import MySQLUrl
from store_anomaly.spc.resets import load_baseline_resets

pytestmark = pytest.mark.mysql

# The log as written before it kept what a reset restarts: its rows are read through the alerts table.
OLD_ACKS_DDL = "\n".join(
    line for line in ACKS_DDL.splitlines() if not line.strip().startswith(tuple(ACK_RESET_COLUMNS))
)


def resets(connection) -> list[tuple]:
    found = load_baseline_resets(connection)
    return [] if found is None else found.select("shop_no", "metric_name", "reset_date", "alert_id").rows()


def test_a_new_normal_ack_restarts_the_same_baselines_when_the_alerts_table_is_rebuilt(fresh_database):
    with MySQLUrl.parse(fresh_database).connect() as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE store_anomaly_alerts (alert_id VARCHAR(16) PRIMARY KEY, shop_no VARCHAR(16), "
                "metric_name VARCHAR(32), metric_names VARCHAR(512), opened_on DATE, change_started_on DATE, "
                "acknowledged BOOLEAN, acknowledged_by VARCHAR(64), acknowledged_at DATETIME(6), "
                "ack_label VARCHAR(16), ack_note TEXT)"
            )
            cursor.execute(
                "INSERT INTO store_anomaly_alerts (alert_id, shop_no, metric_name, metric_names, opened_on, "
                "change_started_on) VALUES ('A-1', 'US00001', 'revenue', 'revenue,order_count', '2025-10-10', "
                "'2025-10-03'), ('A-2', 'US00002', 'qc_score', NULL, '2025-09-01', NULL)"
            )
            cursor.execute(OLD_ACKS_DDL)
            # acknowledged before the log kept the reset: only the alerts table says what it restarts
            cursor.execute(
                "INSERT INTO store_anomaly_alert_acks (alert_id, acknowledged_by, acknowledged_at, ack_label) "
                "VALUES ('A-2', 'ops', '2025-09-05 10:00:00', 'new-normal')"
            )
        connection.commit()
        record_ack(connection, AckInput(alert_id="A-1", by="maria", label="new-normal", note=None))
        expected = [
            ("US00001", "order_count", date(2025, 10, 3), "A-1"),
            ("US00001", "revenue", date(2025, 10, 3), "A-1"),
            ("US00002", "qc_score", date(2025, 9, 1), "A-2"),
        ]
        assert resets(connection) == expected

        # a rebuild empties the alerts table before SPC runs: the logged reset still holds (the old row cannot)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM store_anomaly_alerts")
        connection.commit()
        assert resets(connection) == expected[:2]

        # a later label replaces the new-normal one: no restart
        record_ack(connection, AckInput(alert_id="A-1", by="maria", label="confirmed", note=None))
        assert resets(connection) == []
        with connection.cursor() as cursor:  # the log keeps every row: it is append-only
            cursor.execute("SELECT COUNT(*) FROM store_anomaly_alert_acks")
            assert cursor.fetchone()[0] == 3
