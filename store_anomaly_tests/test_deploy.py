"""The production deployment of deploy/: its dagster.yaml is a MySQL instance (dagster-mysql) with the run
queue's limit, run monitoring and tick retention, every host setting from the environment; the systemd units
run the daemon and the webserver with that environment."""

from __future__ import annotations

import configparser
import os
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus

from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from store_anomaly.settings import NOTIFY_URLS_ENV_VAR, PARTITIONS_START_ENV_VAR
from store_anomaly_tests.dagster_processes import (
    daemon_running,
    launch_scheduled_run,
    schedule_request,
    serving,
    stop_quiet_sensors,
    wait_for_run,
)
from store_anomaly_tests.deploy_instance import DEPLOY_DAGSTER_YAML, deploy_instance_env
from store_anomaly_tests.small_chain import build_sources

DEPLOY = DEPLOY_DAGSTER_YAML.parent


@pytest.mark.mysql
def test_the_deploy_instance_stores_everything_in_mysql_and_queues_one_run(fresh_database, tmp_path, monkeypatch):
    for variable, value in deploy_instance_env(fresh_database, tmp_path / "home").items():
        monkeypatch.setenv(variable, value)
    with DagsterInstance.get() as instance:
        storages = (instance.run_storage, instance.event_log_storage, instance.schedule_storage)
        assert [type(s).__name__ for s in storages] == [
            "LongBodyMySQLRunStorage",
            "BatchedMySQLEventLogStorage",
            "LongBodyMySQLScheduleStorage",
        ]
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
        sensor_ticks = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        assert sensor_ticks[TickStatus.SKIPPED] == 7 and sensor_ticks[TickStatus.SUCCESS] == 30
        assert instance.get_tick_retention_settings(InstigatorType.SCHEDULE)[TickStatus.SUCCESS] == 90


def test_every_variable_the_instance_and_units_read_is_in_the_example_environment():
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "store-anomaly.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    text = DEPLOY_DAGSTER_YAML.read_text()
    for variable in ("DAGSTER_MYSQL_HOST", "DAGSTER_MYSQL_PASSWORD", "DAGSTER_MAX_CONCURRENT_RUNS"):
        assert f"env: {variable}" in text
    referenced = {line.split("env:")[1].strip() for line in text.splitlines() if "env:" in line}
    assert referenced <= example
    for unit in (DEPLOY / "systemd").glob("*.service"):
        parsed = configparser.ConfigParser(interpolation=None, strict=False)
        parsed.read(unit)
        service = parsed["Service"]
        assert service["EnvironmentFile"] == "/etc/store-anomaly/store-anomaly.env"
        assert service["Restart"] == "always"
        for word in service["ExecStart"].split():
            if word.startswith("${"):
                assert word[2:-1] in example, (unit.name, word)
    assert {"DAGSTER_HOME", "STORE_ANOMALY_WAREHOUSE_URL"} <= example


# --------------------------------------------------------------------------------------------------------
# The deployment running: a real dagster-daemon and webserver on the dagster-mysql instance
# --------------------------------------------------------------------------------------------------------

# 07:00 New York on 4 November 2025: the schedule's window is 1-3 November (the partitions start on the 1st).
TICK = datetime(2025, 11, 4, 7, 0, tzinfo=ZoneInfo("America/New_York"))


def warehouse_query(urls: dict[str, str], sql: str) -> list[tuple]:
    with MySQLUrl.parse(urls["warehouse"]).connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def wait_for_posts(endpoint, count: int, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(endpoint.posts("/incidents")) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    return endpoint.posts("/incidents")


@pytest.mark.mysql
@pytest.mark.webserver
@pytest.mark.timeout(900)
def test_the_daemon_runs_the_schedules_request_through_the_queue_and_announces_incidents(
    platform_urls, fresh_databases, endpoint, tmp_path, monkeypatch
):
    build_sources(platform_urls)
    instance_env = deploy_instance_env(fresh_databases.create("dagster"), tmp_path / "home")
    env = {
        **os.environ,
        **instance_env,
        NOTIFY_URLS_ENV_VAR: endpoint.url("/incidents"),
        PARTITIONS_START_ENV_VAR: "2025-11-01",
    }
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    sales = MySQLUrl.parse(platform_urls["sales_order"])
    with DagsterInstance.get() as instance, serving(env) as port:
        stop_quiet_sensors(port)
        request = schedule_request(port, TICK)
        tags = {tag["key"]: tag["value"] for tag in request["tags"]}
        assert (tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG]) == (
            "2025-11-01",
            "2025-11-03",
        )

        with daemon_running(env, tmp_path / "daemon.log"):
            # 1. The schedule's request, queued, launched by the daemon: the warehouse is written, no message.
            good = wait_for_run(instance, launch_scheduled_run(port, request))
            assert good.status == DagsterRunStatus.SUCCESS, (tmp_path / "daemon.log").read_text()[-3000:]
            written = warehouse_query(
                platform_urls, "SELECT MIN(metric_date), MAX(metric_date), COUNT(*) FROM store_daily_metrics"
            )
            assert written == [(date(2025, 11, 1), date(2025, 11, 3), 5)]

            # 2. The sales source loses its trade table: the next run fails; one message, within a minute.
            with sales.connect(autocommit=True) as connection, connection.cursor() as cursor:
                cursor.execute("RENAME TABLE t_trade TO t_trade_gone")
            bad = wait_for_run(instance, launch_scheduled_run(port, request))
            assert bad.status == DagsterRunStatus.FAILURE
            posts = wait_for_posts(endpoint, 1)
            assert len(posts) == 1, posts
            assert posts[0]["title"].startswith("[store_anomaly] Run failed:")
            assert bad.run_id in posts[0]["message"] and "t_trade" in posts[0]["message"]
            failed_at = instance.get_run_record_by_id(bad.run_id).end_time
            seconds = posts[0]["received_at"] - failed_at
            print(f"failed daemon-launched run -> its message: {seconds:.1f} s")
            assert seconds < 60

            # 3. The table is back: the next run succeeds and its recovery is announced once.
            with sales.connect(autocommit=True) as connection, connection.cursor() as cursor:
                cursor.execute("RENAME TABLE t_trade_gone TO t_trade")
            again = wait_for_run(instance, launch_scheduled_run(port, request))
            assert again.status == DagsterRunStatus.SUCCESS
            posts = wait_for_posts(endpoint, 2)
            assert [p["title"] for p in posts][1] == "[store_anomaly] Recovered: daily_refresh_job"
            time.sleep(15)  # a sensor tick or two later: nothing else was sent
            assert len(endpoint.posts("/incidents")) == 2
            # The run log sensors write both successful runs' rows (they tick every 30 s, whatever the load).
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                logged = dict(
                    warehouse_query(
                        platform_urls,
                        "SELECT run_id, status FROM store_anomaly_run_log WHERE asset = 'store_daily_metrics'",
                    )
                )
                if {good.run_id, again.run_id} <= set(logged):
                    break
                time.sleep(2)
            assert logged.get(good.run_id) == "success" and logged.get(again.run_id) == "success", logged
