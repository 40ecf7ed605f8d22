"""The fault battery (docs/reliability.md): each fault done for real against the real MariaDB, the result
compared with a clean run. Overlaps and kills use real `store-anomaly` processes: one is held inside its SPC
step by a table lock the test owns (a real wait on the server, no test hook in the code), then overlapped by
another run or killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, build_sensor_context
from polars.testing import assert_frame_equal

from store_anomaly.alerts.state import ensure_state_tables
from store_anomaly.definitions import build_definitions
from store_anomaly.io_managers.mysql import asset_lock_name
from store_anomaly.kpis.assets import STORE_DAILY_METRICS_TABLE
from store_anomaly.mysql import LOAD_FOLDER_PREFIX, MySQLUrl, query_frame_arrow
from store_anomaly.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from store_anomaly.resources import source_resources
from store_anomaly.runner import root_causes, run_backfill
from store_anomaly.settings import SOURCE_ENV_VARS
from store_anomaly.sources.demo_data import generate_demo_sources
from store_anomaly.spc import LIMITS_KEY, LIMITS_SCHEMA, compute_spc
from store_anomaly.spc.assets import CONFIG as SPC_CONFIG
from store_anomaly.table_schemas import polars_schema
from store_anomaly_tests.deploy_instance import deploy_instance_env

pytestmark = pytest.mark.mysql

CLI = str(Path(sys.executable).parent / "store-anomaly")
START, END = date(2025, 10, 1), date(2025, 10, 31)


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with MySQLUrl.parse(url).connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def checksums(url: str, *tables: str) -> dict[str, int]:
    return {table: query(url, f"CHECKSUM TABLE `{table}`")[0][1] for table in tables}


def rows_of(url: str, table: str, column: str, first: str, last: str) -> list[tuple]:
    return query(url, f"SELECT * FROM `{table}` WHERE `{column}` BETWEEN %s AND %s ORDER BY 1, 2, 3", (first, last))


SPC_TABLES = ("store_spc_control_limits", "store_anomaly_flags")


@pytest.fixture
def demo(platform_urls, tmp_path, monkeypatch):
    """Three demo stores for October 2025 in fresh sources, an empty warehouse and a Dagster home."""
    generate_demo_sources({s: platform_urls[s] for s in SOURCE_ENV_VARS}, start=START, end=END, stores=3, seed=5)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return platform_urls


def cli_process(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
    )


def wait_for_lock(url: str, name: str, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query(url, "SELECT IS_USED_LOCK(%s)", (name,))[0][0] is not None:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.5)
    raise AssertionError(f"{name} was never taken")


class HeldInSpc:
    """Holds a WRITE lock on the acknowledgement log: a run entering its SPC step takes the SPC asset lock, reads
    its inputs, then waits on the server for this lock, until `release`."""

    def __init__(self, warehouse_url: str) -> None:
        self.connection = MySQLUrl.parse(warehouse_url).connect(autocommit=True)
        ensure_state_tables(self.connection)
        with self.connection.cursor() as cursor:
            cursor.execute("LOCK TABLES store_anomaly_alert_acks WRITE, store_anomaly_alerts WRITE")

    def release(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("UNLOCK TABLES")
        self.connection.close()


# --------------------------------------------------------------------------------------------------------
# Missing lookback (issue item 2)
# --------------------------------------------------------------------------------------------------------


def test_missing_lookback_days_are_an_error_naming_them_and_the_fix(demo):
    result = run_backfill(date(2025, 10, 25), END, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    message = " ".join(root_causes(result))
    assert "lookback days" in message and "2025-10-01..2025-10-24" in message
    assert "store-anomaly backfill --start 2025-10-01 --end 2025-10-31" in message
    assert query(demo["warehouse"], "SHOW TABLES LIKE 'store_spc_control_limits'") == [] or query(
        demo["warehouse"], "SELECT COUNT(*) FROM store_spc_control_limits"
    ) == [(0,)]

    # The command it names computes them; the range's limits are then the same as a clean run's.
    assert run_backfill(START, END, instance=DagsterInstance.ephemeral()).success
    stored = rows_of(demo["warehouse"], "store_spc_control_limits", "metric_date", "2025-10-25", "2025-10-31")
    assert len(stored) > 0
    assert run_backfill(date(2025, 10, 25), END, instance=DagsterInstance.ephemeral()).success
    assert rows_of(demo["warehouse"], "store_spc_control_limits", "metric_date", "2025-10-25", "2025-10-31") == stored


# --------------------------------------------------------------------------------------------------------
# Overlapping runs and a failure between the two SPC tables (item 3)
# --------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(600)  # three CLI runs of a month, one after the other
def test_overlapping_cli_runs_wait_for_each_other_or_fail_clearly(demo):
    warehouse = demo["warehouse"]
    assert run_backfill(START, END, instance=DagsterInstance.ephemeral()).success
    reference = checksums(warehouse, "store_daily_metrics", *SPC_TABLES)
    reference_alerts = query(warehouse, "SELECT alert_id, status, severity FROM store_anomaly_alerts ORDER BY 1")
    spc_lock = asset_lock_name(MySQLUrl.parse(warehouse).database, "spc")

    held = HeldInSpc(warehouse)
    # The paused run waits on the server for the held table lock while the other runs start: its session's
    # lock-wait limit (60 s by default) must outlast them on a slow machine.
    paused = {"STORE_ANOMALY_LOCK_WAIT_TIMEOUT_SECONDS": "280"}
    first = cli_process("backfill", "--start", str(START), "--end", str(END), **paused)
    try:
        wait_for_lock(warehouse, spc_lock, first)  # the first run is inside its SPC step, paused
        impatient = cli_process(
            "backfill", "--start", "2025-10-20", "--end", str(END), STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT_SECONDS="2"
        )
        _, impatient_err = impatient.communicate(timeout=300)
        patient = cli_process("backfill", "--start", "2025-10-20", "--end", str(END), **paused)
        time.sleep(3)
        assert patient.poll() is None  # waiting for the SPC lock, not writing
    finally:
        held.release()
    _, first_err = first.communicate(timeout=300)
    _, patient_err = patient.communicate(timeout=300)

    assert impatient.returncode == 1
    assert (
        "another run is writing spc" in impatient_err
        and "STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT_SECONDS" in impatient_err
    )
    assert first.returncode == 0, first_err
    assert patient.returncode == 0, patient_err
    assert checksums(warehouse, "store_daily_metrics", *SPC_TABLES) == reference
    assert (
        query(warehouse, "SELECT alert_id, status, severity FROM store_anomaly_alerts ORDER BY 1") == reference_alerts
    )


def test_a_failure_between_the_two_spc_tables_changes_neither(demo):
    warehouse = demo["warehouse"]
    assert run_backfill(START, END, instance=DagsterInstance.ephemeral()).success
    before = checksums(warehouse, *SPC_TABLES)
    # Different sources, so a re-run would write different limits; then the server refuses the flags write
    # that follows the limits write in the same step (the flags table is swapped for a read-only view).
    query(demo["sales_order"], "UPDATE t_trade SET pay_money = pay_money * 3 WHERE create_time >= '2025-10-20'")
    query(warehouse, "RENAME TABLE store_anomaly_flags TO flags_kept")
    query(warehouse, "CREATE VIEW store_anomaly_flags AS SELECT DISTINCT * FROM flags_kept")
    before["store_anomaly_flags"] = checksums(warehouse, "flags_kept")["flags_kept"]

    result = run_backfill(START, END, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    assert "store_anomaly_flags" in " ".join(root_causes(result))
    after = checksums(warehouse, "store_spc_control_limits", "flags_kept")
    # the limits written first in the step's transaction were rolled back with it
    assert after == {
        "store_spc_control_limits": before["store_spc_control_limits"],
        "flags_kept": before["store_anomaly_flags"],
    }


def test_the_limits_written_a_range_of_stores_at_a_time_equal_the_engines(platform_urls, tmp_path, monkeypatch):
    # ten weeks of three stores (every daily KPI past its warm-up); parts of 1 row: the KPIs' limits are spilled
    # and written back one store at a time, in one transaction
    first = date(2025, 8, 20)
    sources = {s: platform_urls[s] for s in SOURCE_ENV_VARS}
    generate_demo_sources(sources, start=first, end=END, stores=3, seed=5)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setattr("store_anomaly.spc.assets.LIMITS_WRITE_PART_ROWS", 1)
    assert run_backfill(first, END, instance=DagsterInstance.ephemeral()).success
    with MySQLUrl.parse(platform_urls["warehouse"]).connect() as connection:
        metrics_schema = polars_schema(STORE_DAILY_METRICS_TABLE.columns)
        metrics = query_frame_arrow(connection, "store_daily_metrics", metrics_schema, "1=1", ())
        stored = query_frame_arrow(connection, "store_spc_control_limits", LIMITS_SCHEMA, "1=1", ())
    expected = compute_spc(metrics, first, END, SPC_CONFIG).limits
    assert expected["shop_no"].n_unique() == 3 and expected["metric_name"].n_unique() >= 5
    assert_frame_equal(stored.sort(LIMITS_KEY), expected.sort(LIMITS_KEY), check_exact=True)


# --------------------------------------------------------------------------------------------------------
# A stopped feed and a daily source gap (item 4)
# --------------------------------------------------------------------------------------------------------


def test_a_stopped_feed_is_not_written_as_a_closure(demo, monkeypatch):
    warehouse = demo["warehouse"]
    assert run_backfill(START, END, instance=DagsterInstance.ephemeral()).success
    late_rows = rows_of(warehouse, "store_daily_metrics", "metric_date", "2025-10-29", "2025-10-31")
    flags = checksums(warehouse, "store_anomaly_flags")
    alerts = query(warehouse, "SELECT alert_id, status, severity, last_seen_on FROM store_anomaly_alerts ORDER BY 1")
    # The sales feed stops after 28 October (New York); the other sources still deliver.
    query(
        demo["sales_order"],
        "DELETE i FROM t_trade_item i JOIN t_trade t ON t.id = i.trade_id WHERE t.create_time >= '2025-10-29 04:00:00'",
    )
    query(demo["sales_order"], "DELETE FROM t_trade WHERE create_time >= '2025-10-29 04:00:00'")

    done = subprocess.run(
        [CLI, "backfill", "--start", "2025-10-25", "--end", str(END)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "store_daily_metrics: not written for 2025-10-29..2025-10-31: late feed" in done.stdout
    assert "no_late_feed" in done.stdout  # the check that says so did not pass
    # ...and says so on one line of its own, however many of the range's partitions it failed on
    late_lines = [line for line in done.stderr.splitlines() if line.startswith("check not passed (")]
    assert len([line for line in late_lines if ".no_late_feed " in line]) == 1, late_lines
    assert rows_of(warehouse, "store_daily_metrics", "metric_date", "2025-10-29", "2025-10-31") == late_rows
    assert checksums(warehouse, "store_anomaly_flags") == flags
    assert (
        query(warehouse, "SELECT alert_id, status, severity, last_seen_on FROM store_anomaly_alerts ORDER BY 1")
        == alerts
    )
    assert query(
        warehouse, "SELECT COUNT(*) FROM store_daily_metrics WHERE metric_date BETWEEN '2025-10-25' AND '2025-10-28'"
    ) == [(12,)]

    # A configured closure day is a closed day, written as such; the other two stay a late feed.
    monkeypatch.setenv("STORE_ANOMALY_CLOSED_DAYS", "2025-10-29")
    result = run_backfill(date(2025, 10, 25), END, instance=DagsterInstance.ephemeral())
    closed = query(
        warehouse,
        "SELECT COUNT(*), SUM(is_closed), SUM(revenue) FROM store_daily_metrics WHERE metric_date = '2025-10-29'",
    )
    assert closed[0][:2] == (3, 3) and float(closed[0][2]) == 0
    assert rows_of(warehouse, "store_daily_metrics", "metric_date", "2025-10-30", "2025-10-31") == late_rows[3:]
    late_check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_late_feed")
    assert not late_check.passed and late_check.metadata["late_feed_dates"].value == "2025-10-30..2025-10-31"


def test_a_daily_source_gap_gives_null_kpis_and_a_failed_check(demo):
    warehouse = demo["warehouse"]
    query(
        demo["opproduction"],
        "DELETE FROM t_production_order WHERE start_time BETWEEN '2025-10-15 04:00:00' AND '2025-10-16 04:00:00'",
    )
    result = run_backfill(START, END, instance=DagsterInstance.ephemeral())
    assert query(
        warehouse,
        "SELECT COUNT(*), COUNT(production_count), COUNT(avg_production_seconds), MIN(source_gaps), COUNT(staff_hours) "
        "FROM store_daily_metrics WHERE metric_date = '2025-10-15'",
    ) == [(3, 0, 0, "opproduction", 3)]
    assert query(warehouse, "SELECT COUNT(*) FROM store_daily_metrics WHERE source_gaps IS NOT NULL") == [(3,)]
    gap_check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_daily_source_gap")
    assert not gap_check.passed and gap_check.metadata["gap_dates"].value == {"opproduction": "2025-10-15"}


# --------------------------------------------------------------------------------------------------------
# Late rows (item 5)
# --------------------------------------------------------------------------------------------------------


def test_late_rows_are_noticed_whatever_their_id_and_updates_too(demo):
    instance = DagsterInstance.ephemeral()
    assert run_backfill(START, END, instance=instance).success
    sensor = build_definitions().resolve_sensor_def("late_source_rows_sensor")
    resources = source_resources()

    def tick(cursor):
        return sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor, resources=resources))

    def requested(result) -> tuple[str, str] | None:
        if not result.run_requests:
            return None
        tags = result.run_requests[0].tags
        return tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG]

    first = tick(None)
    assert not first.run_requests and json.loads(first.cursor)["format"] == 2
    sales = demo["sales_order"]
    (max_id,) = query(sales, "SELECT MAX(id) FROM t_trade")[0]
    # A row with a high id is seen first; one with a lower id commits later (ids are taken before commit).
    query(sales, "INSERT INTO t_trade VALUES (%s, 'LATE-HIGH', 1127, 9, 1, '2025-10-20 15:00:00')", (max_id + 100,))
    high = tick(first.cursor)
    assert requested(high) == ("2025-10-19", "2025-10-31")
    query(sales, "INSERT INTO t_trade VALUES (%s, 'LATE-LOW', 1127, 9, 1, '2025-10-12 15:00:00')", (max_id + 50,))
    low = tick(high.cursor)
    assert requested(low) == ("2025-10-11", "2025-10-31")
    assert tick(low.cursor).run_requests == []  # seen once, never again

    # A refund is an update of a row already seen; an item is a row of t_trade_item.
    (refunded,) = query(
        sales,
        "SELECT id FROM t_trade WHERE create_time BETWEEN '2025-10-08' AND '2025-10-09' AND trade_status = 1 LIMIT 1",
    )[0]
    query(sales, "UPDATE t_trade SET trade_status = 2 WHERE id = %s", (refunded,))
    refund = tick(low.cursor)
    assert requested(refund) == ("2025-10-07", "2025-10-31")
    (trade_id,) = query(sales, "SELECT MIN(id) FROM t_trade WHERE create_time >= '2025-10-05 12:00:00'")[0]
    query(sales, "INSERT INTO t_trade_item VALUES (99999999, %s, 1, 2)", (trade_id,))
    item = tick(refund.cursor)
    assert requested(item) == ("2025-10-04", "2025-10-31")

    # The cursor of the previous version (MAX(id) per table, no format) is read once: rows above it count.
    legacy = json.dumps(
        {
            "t_trade": max_id + 60,
            "t_production_order": 10**9,
            "t_task_form": 10**9,
            "t_expiry_management": 10**9,
            "t_attendance": 10**9,
        }
    )
    migrated = tick(legacy)
    assert requested(migrated) == ("2025-10-19", "2025-10-31")  # the id above the old watermark
    assert json.loads(migrated.cursor)["format"] == 2


def test_recent_days_are_reconciled_with_the_sources(demo):
    backfill = run_backfill(START, END, instance=DagsterInstance.ephemeral())
    assert backfill.success
    # the dates a run has just written from the sources are not read again: a backfill's last 14 are all its own
    own = next(e for e in backfill.get_asset_check_evaluations() if e.check_name == "recent_days_match_sources")
    assert own.passed and own.metadata["compared_dates"].value == "none"
    query(
        demo["sales_order"],
        "UPDATE t_trade SET trade_status = 2 WHERE create_time BETWEEN '2025-10-24 14:00' AND '2025-10-24 15:00'",
    )
    result = run_backfill(END, END, instance=DagsterInstance.ephemeral())
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "recent_days_match_sources")
    assert not check.passed
    assert check.metadata["stale_dates"].value == "2025-10-24"
    assert check.metadata["compared_dates"].value == "2025-10-18..2025-10-30"
    assert check.metadata["to_fix"].value == "store-anomaly backfill --start 2025-10-24 --end 2025-10-31"


# --------------------------------------------------------------------------------------------------------
# A killed run (item 6)
# --------------------------------------------------------------------------------------------------------


def test_a_killed_cli_run_is_marked_failed_and_leaves_no_files(demo):
    warehouse = demo["warehouse"]
    assert run_backfill(START, END, instance=DagsterInstance.ephemeral()).success
    reference = checksums(warehouse, "store_daily_metrics", *SPC_TABLES)
    spc_lock = asset_lock_name(MySQLUrl.parse(warehouse).database, "spc")

    held = HeldInSpc(warehouse)
    victim = cli_process("backfill", "--start", str(START), "--end", str(END))
    try:
        wait_for_lock(warehouse, spc_lock, victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
    finally:
        held.release()
    folder = Path(tempfile.gettempdir()) / f"{LOAD_FOLDER_PREFIX}{victim.pid}"
    with DagsterInstance.get() as instance:
        (killed,) = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]))

    rerun = subprocess.run(
        [CLI, "backfill", "--start", str(START), "--end", str(END)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"run {killed.run_id} marked failed" in rerun.stderr and f"pid {victim.pid}" in rerun.stderr
    with DagsterInstance.get() as instance:
        assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.FAILURE
    logged = query(
        warehouse,
        "SELECT status, COUNT(*) FROM store_anomaly_run_log WHERE run_id = %s GROUP BY status",
        (killed.run_id,),
    )
    assert dict(logged).get("failed", 0) > 0
    assert not folder.exists()
    assert checksums(warehouse, "store_daily_metrics", *SPC_TABLES) == reference


def test_bulk_load_files_of_a_dead_process_are_removed_by_the_next_writer(demo):
    gone = subprocess.Popen(["true"])
    gone.wait()
    debris = Path(tempfile.gettempdir()) / f"{LOAD_FOLDER_PREFIX}{gone.pid}"
    debris.mkdir(exist_ok=True)
    (debris / "rows.csv").write_text("2025-10-01,US00001,123.45\n")
    assert run_backfill(START, date(2025, 10, 2), instance=DagsterInstance.ephemeral()).success
    assert not debris.exists()


@pytest.mark.mysql
def test_the_instance_the_makefile_installs_monitors_runs_queues_one_and_stores_in_mysql(
    fresh_database, tmp_path, monkeypatch
):
    # The Makefile's variables, for a fresh database of the test server.
    for variable, value in deploy_instance_env(fresh_database, tmp_path / "home").items():
        monkeypatch.setenv(variable, value)
    Path(tmp_path, "home", "dagster.yaml").write_text(
        Path(__file__).parents[1].joinpath("dagster_instance/dagster.yaml").read_text()
    )
    with DagsterInstance.get() as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        storages = (instance.run_storage, instance.event_log_storage, instance.schedule_storage)
        assert [type(s).__name__ for s in storages] == [
            "LongBodyMySQLRunStorage",
            "BatchedMySQLEventLogStorage",
            "LongBodyMySQLScheduleStorage",
        ]
