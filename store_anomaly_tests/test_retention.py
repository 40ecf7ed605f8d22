"""Retention: the scheduled purge job deletes exactly the rows past retention (run log rows, notification rows
of long-resolved alerts; never an open alert's deliveries, never an acknowledgement), and old Dagster runs with
their event logs unless they hold a partition's latest materialization."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, Failure, StaticPartitionsDefinition, asset, materialize

from store_anomaly.alerts.config import ALERT_SCHEMA
from store_anomaly.alerts.state import NOTIFICATIONS_TABLE, ensure_state_tables
from store_anomaly.automation.retention import RetentionSettings, purge_instance_runs
from store_anomaly.automation.run_log import RUN_LOG_COLUMNS, RUN_LOG_TABLE
from store_anomaly.definitions import build_definitions
from store_anomaly.mysql import MySQLUrl, ensure_table
from store_anomaly.settings import RUN_LOG_RETENTION_DAYS_ENV_VAR, WAREHOUSE_ENV_VAR, SettingsError
from store_anomaly_tests.warehouse_rows import store_alerts


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with MySQLUrl.parse(url).connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def alert(alert_id: str, status: str, last_seen_on: date) -> dict:
    return {
        "alert_id": alert_id,
        "shop_no": "US00001",
        "metric_name": "revenue",
        "severity": "WARNING",
        "opened_on": last_seen_on - timedelta(days=20),
        "last_seen_on": last_seen_on,
        "status": status,
        "description": "Revenue is down.",
        "recommended_action": "1. Check.",
        "acknowledged": True,
    }


@pytest.mark.mysql
def test_the_purge_job_deletes_exactly_the_rows_past_retention(fresh_database, monkeypatch):
    now = datetime.now(UTC).replace(tzinfo=None)
    today = datetime.now(ZoneInfo("America/New_York")).date()
    url = fresh_database
    parsed = MySQLUrl.parse(url)
    with parsed.connect() as connection:
        ensure_table(connection, parsed.database, RUN_LOG_TABLE, RUN_LOG_COLUMNS.columns, ["run_id", "asset"])
        ensure_state_tables(connection)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {RUN_LOG_TABLE} (run_id, asset, status, logged_at) VALUES (%s, 'a', 'success', %s)",
                [("old", now - timedelta(days=91)), ("recent", now - timedelta(days=89)), ("new", now)],
            )
        connection.commit()
    alerts = pl.DataFrame(
        [
            alert("A-resolved400", "resolved", today - timedelta(days=400)),  # resolved over a year ago
            alert("A-resolved300", "resolved", today - timedelta(days=300)),
            alert("A-open000400", "open", today - timedelta(days=400)),  # open, however old: kept
        ]
    )
    store_alerts(url, alerts.cast({k: v for k, v in ALERT_SCHEMA.items() if k in alerts.columns}))
    notifications = [
        ("A-resolved400", "WARNING"),
        ("A-resolved400", "CRITICAL"),
        ("A-resolved300", "WARNING"),
        ("A-open000400", "WARNING"),
        ("A-open000400", "CRITICAL"),
        ("A-gone000000", "WARNING"),  # an alert the table no longer holds: kept
    ]
    sent_at = now - timedelta(days=500)
    acks = [(alert_id, "maria", sent_at) for alert_id in ("A-resolved400", "A-open000400")]
    with parsed.connect() as connection, connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {NOTIFICATIONS_TABLE} (alert_id, severity, sent_at, targets) VALUES (%s, %s, %s, 'json')",
            [(alert_id, severity, sent_at) for alert_id, severity in notifications],
        )
        cursor.executemany(
            "INSERT INTO store_anomaly_alert_acks (alert_id, acknowledged_by, acknowledged_at) VALUES (%s, %s, %s)",
            acks,
        )
        connection.commit()

    monkeypatch.setenv(WAREHOUSE_ENV_VAR, url)
    job = build_definitions().resolve_job_def("retention_job")
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance).success

    assert sorted(run for (run,) in query(url, f"SELECT run_id FROM {RUN_LOG_TABLE}")) == ["new", "recent"]
    left = query(url, f"SELECT alert_id, severity FROM {NOTIFICATIONS_TABLE} ORDER BY id")
    assert left == [n for n in notifications if n[0] != "A-resolved400"]
    assert query(url, "SELECT COUNT(*) FROM store_anomaly_alert_acks") == [(2,)]  # never purged

    monkeypatch.setenv(RUN_LOG_RETENTION_DAYS_ENV_VAR, "0")
    with pytest.raises(SettingsError, match=RUN_LOG_RETENTION_DAYS_ENV_VAR):
        RetentionSettings.from_env()


LETTERS = StaticPartitionsDefinition(["a", "b"])


@asset(partitions_def=LETTERS)
def letters() -> None:
    return None


@asset
def summary() -> None:
    return None


@asset
def broken() -> None:
    raise Failure("broken on purpose")


def test_old_runs_go_with_their_event_logs_unless_they_hold_a_latest_materialization():
    with DagsterInstance.ephemeral() as instance:
        first_a = materialize([letters], instance=instance, partition_key="a").run_id
        second_a = materialize([letters], instance=instance, partition_key="a").run_id
        only_b = materialize([letters], instance=instance, partition_key="b").run_id
        old_summary = materialize([summary], instance=instance).run_id
        new_summary = materialize([summary], instance=instance).run_id
        failed = materialize([broken], instance=instance, raise_on_error=False).run_id

        deleted, kept = purge_instance_runs(instance, datetime.now(UTC) + timedelta(days=1))
        assert sorted(deleted) == sorted([first_a, old_summary, failed])
        assert sorted(kept) == sorted([second_a, only_b, new_summary])
        assert instance.get_run_by_id(first_a) is None and not instance.all_logs(first_a)
        # The partitions and the unpartitioned asset still read materialized, by their latest runs.
        assert instance.get_materialized_partitions(AssetKey("letters")) == {"a", "b"}
        assert instance.get_latest_materialization_event(AssetKey("summary")).run_id == new_summary

        assert purge_instance_runs(instance, datetime.now(UTC) - timedelta(days=1)) == ([], [])  # none old
