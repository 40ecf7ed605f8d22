"""The `store-anomaly` console script end to end: demo data, a backfill recorded as one run, clear failures."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, DagsterEventType, DagsterInstance, RunsFilter

from store_anomaly.cli import failed_check_lines
from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from store_anomaly.settings import DEMO_SOURCE_ENV_VARS, SOURCE_ENV_VARS
from store_anomaly_tests.source_rows import create_all_source_tables

pytestmark = pytest.mark.mysql

CLI = str(Path(sys.executable).parent / "store-anomaly")


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=env or os.environ.copy(), timeout=300, check=False
    )


def test_demo_data_then_backfill_is_one_recorded_run(platform_urls, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    for source, variable in DEMO_SOURCE_ENV_VARS.items():
        monkeypatch.setenv(variable, platform_urls[source])
    generated = cli("demo-data", "--stores", "4", "--start", "2025-10-01", "--end", "2025-10-10")
    assert generated.returncode == 0, generated.stderr

    backfill = cli("backfill", "--start", "2025-10-01", "--end", "2025-10-10")
    assert backfill.returncode == 0, backfill.stderr
    assert "succeeded" in backfill.stdout
    # progress, step by step with the elapsed time, on stderr (plain lines: no terminal here)
    assert re.search(r"^\[\d+:\d\d\] \d+/\d+ store_daily_metrics done in \d+\.\d s$", backfill.stderr, re.MULTILINE)

    with DagsterInstance.get() as instance:
        runs = instance.get_runs(RunsFilter(job_name="daily_refresh_job"))
        assert len(runs) == 1
        assert runs[0].tags[ASSET_PARTITION_RANGE_START_TAG] == "2025-10-01"
        assert runs[0].tags[ASSET_PARTITION_RANGE_END_TAG] == "2025-10-10"
        assert len(instance.get_materialized_partitions(AssetKey("store_daily_metrics"))) == 10
        # a range this short records each check's verdict for each of its days
        checks = instance.get_records_for_run(runs[0].run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        unique_days = [
            r.event_log_entry.dagster_event.event_specific_data
            for r in checks.records
            if r.event_log_entry.dagster_event.event_specific_data.check_name == "unique_store_days"
        ]
        assert sorted(e.partition for e in unique_days) == [f"2025-10-{day:02d}" for day in range(1, 11)]

    with MySQLUrl.parse(platform_urls["warehouse"]).connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(DISTINCT shop_no), COUNT(*) FROM store_daily_metrics")
        assert cursor.fetchone() == (4, 40)

    summary = cli("summary")
    assert summary.returncode == 0 and "4 stores x 10 business days" in summary.stdout


def test_a_wrong_source_url_fails_naming_the_source(platform_urls, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    create_all_source_tables(platform_urls)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        SOURCE_ENV_VARS["opproduction"]: "mysql://root@127.0.0.1:1/nowhere",
    }
    result = cli("backfill", "--start", "2025-10-01", "--end", "2025-10-02", env=env)
    assert result.returncode != 0
    assert "opproduction" in result.stderr and SOURCE_ENV_VARS["opproduction"] in result.stderr
    # The failed run is in the run log too, with its cause, for every asset it was to materialize.
    with MySQLUrl.parse(platform_urls["warehouse"]).connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT asset, status, error_message FROM store_anomaly_run_log")
        rows = cursor.fetchall()
    assert rows and all(status == "failed" and "opproduction" in error for _, status, error in rows)
    # Dagster recorded one planned event per asset for the range; its days still show failed in the UI (a
    # planned partition without a materialization, in a failed run)
    with DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        attempts = storage.get_latest_asset_partition_materialization_attempts_without_materializations(
            AssetKey("store_daily_metrics")
        )
        assert sorted(attempts) == ["2025-10-01", "2025-10-02"]
        (run,) = instance.get_runs(RunsFilter(job_name="daily_refresh_job"))
        assert {run_id for run_id, _ in attempts.values()} == {run.run_id}
        planned = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        ranged = [r for r in planned.records if r.event_log_entry.dagster_event.partition is None]
        assert ranged  # the run itself planned ranges, not days


def test_a_missing_source_table_fails_naming_source_and_table(platform_urls, tmp_path):
    # The sources exist but are empty databases: no contract tables at all.
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = cli("backfill", "--start", "2025-10-01", "--end", "2025-10-02", env=env)
    assert result.returncode != 0
    assert re.search(r"\w+: table t_\w+ is missing in database", result.stderr)


def test_unset_variables_and_bad_dates_are_clear_errors(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_ANOMALY_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    result = cli("backfill", "--start", "2025-10-01", "--end", "2025-10-02", env=env)
    assert result.returncode == 1 and "STORE_ANOMALY_OPSHOP_URL" in result.stderr
    reversed_range = cli("backfill", "--start", "2025-10-05", "--end", "2025-10-02", env=env)
    assert reversed_range.returncode == 1 and "before --start" in reversed_range.stderr
    too_early = cli("backfill", "--start", "2019-01-01", "--end", "2019-01-02", env=env)
    assert too_early.returncode == 1 and "STORE_ANOMALY_PARTITIONS_START=2019-01-01" in too_early.stderr
    not_a_date = cli("backfill", "--start", "yesterday", "--end", "2025-10-02", env=env)
    assert not_a_date.returncode == 2 and "YYYY-MM-DD" in not_a_date.stderr


def test_demo_data_never_writes_where_the_platform_reads(platform_urls, fresh_databases):
    """The platform's source variables point at real sources; demo-data has its own and leaves them alone,
    and refuses, naming the variable, when its own point at a database it did not create."""
    real = MySQLUrl.parse(platform_urls["sales_order"])
    create_all_source_tables(platform_urls)
    with real.connect() as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO t_trade VALUES (1, 'T1', 10, 5.0, 1, '2025-10-01 12:00:00')")
        connection.commit()
    demo = {source: fresh_databases.create(f"demo_{source}") for source in DEMO_SOURCE_ENV_VARS}
    env = {**os.environ, **{variable: demo[source] for source, variable in DEMO_SOURCE_ENV_VARS.items()}}

    generated = cli("demo-data", "--stores", "2", "--start", "2025-10-01", "--end", "2025-10-02", env=env)
    assert generated.returncode == 0, generated.stderr
    with real.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM t_trade")
        assert cursor.fetchone() == (1,)
    with MySQLUrl.parse(demo["sales_order"]).connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) > 100 FROM t_trade")
        assert cursor.fetchone() == (1,)

    env[DEMO_SOURCE_ENV_VARS["sales_order"]] = platform_urls["sales_order"]
    refused = cli("demo-data", "--stores", "2", "--start", "2025-10-01", "--end", "2025-10-02", env=env)
    assert refused.returncode == 1
    assert "STORE_ANOMALY_DEMO_SALESORDER_URL" in refused.stderr and "did not create" in refused.stderr
    assert "Traceback" not in refused.stderr
    with real.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM t_trade")
        assert cursor.fetchone() == (1,)


def test_backtest_replays_the_warehouse_history(platform_urls, monkeypatch):
    """`store-anomaly backtest` on a warehouse's store_daily_metrics: the table, and a clear error without
    enough history."""
    from datetime import date

    from store_anomaly.spc import METRICS
    from store_anomaly.spc.simulate import StoreSpec, simulate_stores

    monkeypatch.setenv("STORE_ANOMALY_WAREHOUSE_URL", platform_urls["warehouse"])
    metrics = simulate_stores(
        [StoreSpec(f"US{i:05d}") for i in range(1, 7)], date(2025, 1, 1), date(2025, 12, 31), seed=2
    )
    columns = ["metric_date", "shop_no", *METRICS, "is_closed", "holiday_name"]
    with MySQLUrl.parse(platform_urls["warehouse"]).connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE store_daily_metrics (metric_date DATE, shop_no VARCHAR(16), "
            + ", ".join(f"{m} DOUBLE" for m in METRICS)
            + ", is_closed BOOLEAN, holiday_name VARCHAR(64))"
        )
        cursor.executemany(
            f"INSERT INTO store_daily_metrics ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
            metrics.select(columns).rows(),
        )
        connection.commit()
    replay = cli("backtest", "--rule-sets", "default", "--onset-after-days", "200")
    assert replay.returncode == 0, replay.stderr
    table = [line for line in replay.stdout.splitlines() if line.startswith("| US")]
    assert len(table) == 6 and "step -25%" in replay.stdout and "slowest slide" in replay.stdout
    too_short = cli("backtest", "--onset-after-days", "400")
    assert too_short.returncode == 1 and "no store has 400 days of history" in too_short.stderr
    unknown = cli("backtest", "--rule-sets", "magic")
    assert unknown.returncode == 1 and "--rule-sets" in unknown.stderr


def test_a_check_failed_on_many_partitions_is_printed_once_with_its_count_and_dates():
    # A backfill of up to 35 days evaluates the partitioned checks once per day: a check failing every day was
    # printed once per day, and named once per day in the summary.
    def failed(check: str, severity: AssetCheckSeverity, partition: str | None, rows: int) -> AssetCheckEvaluation:
        return AssetCheckEvaluation(
            asset_key=AssetKey("store_daily_metrics"),
            check_name=check,
            passed=False,
            metadata={"rows": rows},
            severity=severity,
            partition=partition,
        )

    evaluations = [
        failed("no_negative_kpis", AssetCheckSeverity.ERROR, f"2025-10-{day:02d}", day) for day in (3, 1, 2)
    ] + [failed("source_rows_no_partition_can_hold", AssetCheckSeverity.WARN, "2025-10-02", 7)]
    lines, names = failed_check_lines(evaluations)
    assert lines == [
        (
            "check not passed (ERROR): store_daily_metrics.no_negative_kpis x 3 partitions, "
            "2025-10-01 .. 2025-10-03; on 2025-10-01: {'rows': 1}"
        ),
        "check not passed (WARN): store_daily_metrics.source_rows_no_partition_can_hold {'rows': 7}",
    ]
    assert names == "no_negative_kpis x 3, source_rows_no_partition_can_hold"
