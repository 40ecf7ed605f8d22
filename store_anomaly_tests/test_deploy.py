"""The production deployment of deploy/: its dagster.yaml is a MySQL instance (dagster-mysql) with the run
queue's limit, run monitoring and tick retention, every host setting from the environment; the systemd units
run the daemon and the webserver with that environment."""

from __future__ import annotations

import configparser

import pytest
from dagster import DagsterInstance
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus

from store_anomaly_tests.deploy_instance import DEPLOY_DAGSTER_YAML, deploy_instance_env

DEPLOY = DEPLOY_DAGSTER_YAML.parent


@pytest.mark.mysql
def test_the_deploy_instance_stores_everything_in_mysql_and_queues_one_run(fresh_database, tmp_path, monkeypatch):
    for variable, value in deploy_instance_env(fresh_database, tmp_path / "home").items():
        monkeypatch.setenv(variable, value)
    with DagsterInstance.get() as instance:
        storages = (instance.run_storage, instance.event_log_storage, instance.schedule_storage)
        assert [type(s).__name__ for s in storages] == [
            "MySQLRunStorage",
            "MySQLEventLogStorage",
            "MySQLScheduleStorage",
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
