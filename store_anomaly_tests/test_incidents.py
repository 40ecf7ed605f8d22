"""Platform incidents announced once through apprise to a real local HTTP endpoint: a failed CLI backfill (a
source URL pointing at a missing database, with a password in it), the same run noticed again as the daemon's
sensor would, the recovery; a late feed; the missed daily run; both languages; never a password."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, DagsterInstance, Definitions, define_asset_job

from store_anomaly.automation.incidents import (
    INCIDENTS_TABLE,
    language,
    missed_daily_run,
    process_run,
    without_secrets,
)
from store_anomaly.cli import main
from store_anomaly.definitions import build_definitions
from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import partition_range_tags
from store_anomaly.resources import Warehouse
from store_anomaly.settings import (
    LANGUAGE_ENV_VAR,
    NOTIFY_URLS_ENV_VAR,
    PARTITIONS_START_ENV_VAR,
    SettingsError,
    language_from_env,
)
from store_anomaly_tests.databases import TEST_SERVER_URL
from store_anomaly_tests.small_chain import END, START, build_sources
from store_anomaly_tests.source_rows import insert_rows

pytestmark = pytest.mark.mysql


def incidents(url: str) -> list[dict]:
    with MySQLUrl.parse(url).connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {INCIDENTS_TABLE} ORDER BY opened_at, incident_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def rename_table(url: str, table: str, new_name: str) -> None:
    with MySQLUrl.parse(url).connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"RENAME TABLE {table} TO {new_name}")


@pytest.fixture
def user_with_password(fresh_databases):
    """A server user with a password, allowed on this test's databases only."""
    server = MySQLUrl.parse(TEST_SERVER_URL)
    user, password = f"sat_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex[:12]}"
    with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        for host in ("%", "localhost"):
            cursor.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
            cursor.execute(f"GRANT ALL ON `{fresh_databases.prefix}%`.* TO '{user}'@'{host}'")
    try:
        yield user, password
    finally:
        with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%', '{user}'@'localhost'")


def test_a_failed_cli_backfill_is_announced_once_and_its_recovery_once(
    platform_urls, fresh_databases, user_with_password, endpoint, tmp_path, monkeypatch, capsys
):
    build_sources(platform_urls)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(NOTIFY_URLS_ENV_VAR, endpoint.url("/incidents"))
    user, password = user_with_password
    server = MySQLUrl.parse(TEST_SERVER_URL)
    missing = f"mysql://{user}:{password}@{server.host}:{server.port}/{fresh_databases.prefix}_missing"
    monkeypatch.setenv("STORE_ANOMALY_SALESORDER_URL", missing)

    assert main(["backfill", "--start", str(START), "--end", str(END)]) == 1
    (failed,) = endpoint.posts("/incidents")  # at once: the CLI announces the run it executed
    assert failed["title"] == "[store_anomaly] Run failed: daily_refresh_job"
    assert f"store-anomaly backfill --start {START} --end {END}" in failed["message"]
    assert "Unknown database" in failed["message"] and failed["type"] == "failure"
    assert password not in failed["title"] + failed["message"]

    # The daemon's run-failure sensor notices the same run later: the key holds, nothing is sent again.
    with DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        process_run(instance, run.run_id, Warehouse.from_env(), noticed_by="sensor")
    assert len(endpoint.posts("/incidents")) == 1
    (row,) = incidents(platform_urls["warehouse"])
    assert (row["kind"], row["subject"], row["run_id"], row["noticed_by"]) == (
        "run_failed",
        "daily_refresh_job",
        run.run_id,
        "cli",
    )
    assert row["notified_at"] is not None and row["resolved_at"] is None
    assert password not in row["message"] + row["message_zh"]
    # Both languages quote the same run, dates and command.
    for fact in (run.run_id, f"--start {START} --end {END}", "Unknown database"):
        assert fact in row["message"] and fact in row["message_zh"]
    assert "运行失败" in row["message_zh"]
    capsys.readouterr()
    assert main(["status"]) == 0
    status = capsys.readouterr().out
    assert "Last successful daily run: none" in status and "Open platform incidents: 1" in status
    assert "run_failed   daily_refresh_job" in status and "sales_order       never read" in status

    monkeypatch.setenv("STORE_ANOMALY_SALESORDER_URL", platform_urls["sales_order"])
    assert main(["backfill", "--start", str(START), "--end", str(END)]) == 0
    posts = endpoint.posts("/incidents")
    assert len(posts) == 2  # the recovery, and no message for the success itself
    assert posts[1]["title"] == "[store_anomaly] Recovered: daily_refresh_job"
    assert run.run_id in posts[1]["message"] and posts[1]["type"] == "success"
    assert main(["backfill", "--start", str(START), "--end", str(END)]) == 0
    assert len(endpoint.posts("/incidents")) == 2  # announced once
    (row,) = incidents(platform_urls["warehouse"])
    assert row["resolved_at"] is not None and row["recovery_notified_at"] is not None
    capsys.readouterr()
    assert main(["status"]) == 0
    status = capsys.readouterr().out
    with DagsterInstance.get() as instance:
        latest = instance.get_runs(limit=1)[0].run_id
    assert f"Last successful daily run: {latest} finished" in status
    assert f"business dates {START} .. {END} (launched by CLI)" in status
    assert f"sales_order       {END}" in status and "Open platform incidents: none" in status
    assert "Next scheduled run: daily_refresh_schedule at " in status and " 07:00 America/New_York" in status


def test_a_success_seen_after_a_later_failure_recovers_nothing(platform_urls, endpoint, tmp_path, monkeypatch):
    """The daemon's sensors see finished runs in no fixed order: the success sensor may reach a run that ended
    before a failure only after the failure's incident was opened. That success is not a recovery."""
    build_sources(platform_urls)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(NOTIFY_URLS_ENV_VAR, endpoint.url("/incidents"))
    assert main(["backfill", "--start", str(START), "--end", str(END)]) == 0
    rename_table(platform_urls["sales_order"], "t_trade", "t_trade_gone")
    assert main(["backfill", "--start", str(START), "--end", str(END)]) == 1
    assert [p["title"] for p in endpoint.posts("/incidents")] == ["[store_anomaly] Run failed: daily_refresh_job"]

    with DagsterInstance.get() as instance:
        failed, earlier = instance.get_runs(limit=2)
        process_run(instance, earlier.run_id, Warehouse.from_env(), noticed_by="sensor")
    assert len(endpoint.posts("/incidents")) == 1
    (row,) = incidents(platform_urls["warehouse"])
    assert row["resolved_at"] is None and row["run_id"] == failed.run_id
    assert row["run_ended_at"] is not None

    rename_table(platform_urls["sales_order"], "t_trade_gone", "t_trade")
    assert main(["backfill", "--start", str(START), "--end", str(END)]) == 0
    posts = endpoint.posts("/incidents")
    assert [p["title"] for p in posts][1:] == ["[store_anomaly] Recovered: daily_refresh_job"]
    (row,) = incidents(platform_urls["warehouse"])
    assert row["resolved_at"] is not None and row["resolved_by_run_id"] != earlier.run_id


def test_a_failed_blocking_check_is_announced_once_and_its_recovery_once(
    platform_urls, endpoint, tmp_path, monkeypatch
):
    """A trade arrives in the sales source for a date already written; the checks, run alone as from the UI's
    "Execute checks", no longer reconcile: the run fails on its blocking check (a run_failed and a check_failed
    incident, as the daemon's sensor records them). Once the stray trade is gone, a passing re-check recovers
    both in one message."""
    build_sources(platform_urls)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(NOTIFY_URLS_ENV_VAR, endpoint.url("/incidents"))
    assert main(["backfill", "--start", str(START), "--end", str(END)]) == 0
    check = AssetCheckKey(AssetKey("store_daily_metrics"), "revenue_reconciles_with_source")
    recheck = define_asset_job("recheck_revenue", selection=AssetSelection.checks(check))
    job = Definitions.merge(build_definitions(), Definitions(jobs=[recheck])).resolve_job_def("recheck_revenue")
    stray = {
        "id": 99,
        "trade_no": "T99",
        "dept_id": 1127,
        "pay_money": 11,
        "trade_status": 1,
        "create_time": datetime(2025, 11, 2, 18, 0),
    }

    def run_the_check(instance: DagsterInstance) -> str:
        result = job.execute_in_process(instance=instance, tags=partition_range_tags(START, END), raise_on_error=False)
        process_run(instance, result.run_id, Warehouse.from_env(), noticed_by="sensor")
        return result.run_id

    with DagsterInstance.get() as instance:
        insert_rows(platform_urls, "t_trade", [stray])
        failed_run = run_the_check(instance)
        posts = endpoint.posts("/incidents")
        assert "revenue_reconciles_with_source" in " ".join(p["title"] + p["message"] for p in posts)
        kinds = {(row["kind"], row["subject"]) for row in incidents(platform_urls["warehouse"])}
        assert kinds == {
            ("run_failed", "recheck_revenue"),  # no asset failed: the run's job is the subject
            ("check_failed", "store_daily_metrics.revenue_reconciles_with_source"),
        }, kinds
        assert len(posts) == 2
        run_the_check(instance)  # still failing: a new run, but the open check incident is not repeated
        assert len(incidents(platform_urls["warehouse"])) == 3  # the second run's run_failed only
        with MySQLUrl.parse(platform_urls["sales_order"]).connect(autocommit=True) as connection:
            connection.cursor().execute("DELETE FROM t_trade WHERE id = 99")
        recovering_run = run_the_check(instance)
    rows = incidents(platform_urls["warehouse"])
    assert all(row["resolved_by_run_id"] == recovering_run for row in rows), rows
    again, *recovered = endpoint.posts("/incidents")[len(posts) :]
    assert again["title"] == "[store_anomaly] Run failed: recheck_revenue"
    assert [p["title"] for p in recovered] == [
        "[store_anomaly] Recovered: recheck_revenue, store_daily_metrics.revenue_reconciles_with_source"
    ]
    assert failed_run in recovered[0]["message"]


def test_a_late_feed_is_an_incident_announced_once_in_the_chosen_language(
    platform_urls, endpoint, tmp_path, monkeypatch
):
    """31 October has no trade at all (the small chain starts on 1 November): a late feed, not a closure; the
    channel reads Chinese (STORE_ANOMALY_LANGUAGE=zh), the table keeps both languages."""
    build_sources(platform_urls)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(NOTIFY_URLS_ENV_VAR, endpoint.url("/incidents"))
    monkeypatch.setenv(PARTITIONS_START_ENV_VAR, "2025-10-31")
    monkeypatch.setenv(LANGUAGE_ENV_VAR, "zh")
    assert main(["backfill", "--start", "2025-10-31", "--end", str(END)]) == 0
    (late,) = endpoint.posts("/incidents")
    assert late["title"] == "[store_anomaly] 数据延迟：sales_order 在 2025-10-31 没有任何交易"
    assert "store-anomaly backfill --start 2025-10-31 --end 2025-10-31" in late["message"]
    assert main(["backfill", "--start", "2025-10-31", "--end", str(END)]) == 0
    assert len(endpoint.posts("/incidents")) == 1
    (row,) = incidents(platform_urls["warehouse"])
    assert (row["kind"], row["subject"], row["business_date"]) == ("feed_late", "sales_order", date(2025, 10, 31))
    assert row["message"].startswith("[store_anomaly] Late feed: sales_order has no trade for 2025-10-31")


def test_the_daily_run_is_missed_when_yesterday_has_no_successful_run_by_nine():
    instance = DagsterInstance.ephemeral()
    assert missed_daily_run(instance, datetime(2026, 3, 10, 12, 59, tzinfo=UTC)) is None  # 08:59 New York
    missed = missed_daily_run(instance, datetime(2026, 3, 10, 13, 0, tzinfo=UTC))
    assert missed.incident_id == "run_missed:daily_refresh_job:2026-03-09"
    assert "store-anomaly backfill --start 2026-03-06 --end 2026-03-09" in missed.messages["en"]
    assert "2026-03-09" in missed.messages["zh"] and "09:00" in missed.messages["zh"]


def test_no_password_reaches_a_message(monkeypatch):
    monkeypatch.setenv("STORE_ANOMALY_WAREHOUSE_URL", "mysql://etl:s3cr%2Ft@db:3306/wh")
    monkeypatch.setenv("DAGSTER_MYSQL_PASSWORD", "instance-pw")
    text = (
        "cannot connect to mysql://etl:s3cr%2Ft@db:3306/wh (mysql+mysqlconnector://dagster:instance-pw@db/dagster); "
        "the server said: Access denied for user 'etl' using password s3cr/t"
    )
    cleaned = without_secrets(text)
    assert "s3cr" not in cleaned and "instance-pw" not in cleaned
    assert "mysql://etl:***@db:3306/wh" in cleaned


@pytest.mark.parametrize(("setting", "expected"), [("", "en"), (" ZH ", "zh"), ("en", "en"), ("fr", "en")])
def test_incidents_read_the_language_as_the_platform_does_but_an_invalid_one_still_sends(
    setting, expected, monkeypatch
):
    """The same parsing as every other reader; where those fail on an invalid value (naming the variable), an
    incident falls back to English so that a failing platform is still announced."""
    monkeypatch.setenv(LANGUAGE_ENV_VAR, setting)
    assert language() == expected
    if setting == "fr":
        with pytest.raises(SettingsError, match=LANGUAGE_ENV_VAR):
            language_from_env()
