"""Bad source rows never block the chain: each is excluded and counted with its reason, through the real CLI.

One backfill over sources holding every bad row of the source contract at once (NULL dept_id, an amount of
1e13, a store with two t_shop_dept rows, a 200-character shop name, a MySQL zero date, implausible QC scores,
item quantities and production times, trades dated 1970 and 2030, an item without a trade, a negative expired
quantity): the run succeeds for every store, the counters say what was left out, and the failed non-blocking
checks are printed.
"""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import MAX_PAY_MONEY_ENV_VAR, PARTITIONS_START_ENV_VAR
from store_anomaly_tests.source_rows import create_all_source_tables, insert_rows

pytestmark = pytest.mark.mysql

CLI = str(Path(sys.executable).parent / "store-anomaly")
DAY = date(2025, 11, 4)
LONG_NAME = "Broadway " + "x" * 191


def execute(url: str, *statements: str) -> None:
    with MySQLUrl.parse(url).connect() as connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        connection.commit()


def build_bad_sources(urls: dict[str, str]) -> None:
    create_all_source_tables(urls)
    # Real schemas are looser than the contract: wider columns, nullable keys, no unique shop_no per dept.
    execute(
        urls["opshop"],
        "ALTER TABLE t_shop MODIFY shop_name VARCHAR(300) NOT NULL",
        "ALTER TABLE t_shop_dept DROP INDEX shop_no",
        "SET SESSION sql_mode = ''",
        "INSERT INTO t_shop VALUES (1, 'US00001', '8th & Broadway', 1, 1, 'America/New_York', '2025-01-01'), "
        f"(2, 'US00002', '{LONG_NAME}', 1, 1, 'America/New_York', '0000-00-00')",
    )
    insert_rows(
        urls,
        "t_shop_dept",
        [
            {"dept_id": 1127, "shop_no": "US00001"},
            {"dept_id": 2001, "shop_no": "US00002"},
            {"dept_id": 2002, "shop_no": "US00002"},
        ],
    )
    execute(
        urls["sales_order"],
        "ALTER TABLE t_trade MODIFY dept_id BIGINT NULL, MODIFY pay_money DECIMAL(20,4) NULL",
        "INSERT INTO t_trade VALUES "
        "(1, 'T1', 1127, 25, 1, '2025-11-04 15:00:00'),"
        "(2, 'T2', 1127, 10000000000000, 1, '2025-11-04 15:05:00'),"
        "(3, 'T3', NULL, 30, 1, '2025-11-04 15:10:00'),"
        "(4, 'T4', 2001, 10, 1, '2025-11-04 16:00:00'),"
        "(5, 'T5', 2002, 20, 1, '2025-11-04 17:00:00'),"
        "(6, 'T6', 1127, 40, 1, '1970-01-01 00:00:01'),"
        "(7, 'T7', 1127, 50, 1, '2030-01-01 12:00:00')",
        "INSERT INTO t_trade_item VALUES (1, 1, 100, 2), (2, 1, 101, -1), (3, 4, 100, 1), (4, 5, 100, 3), "
        "(5, 999, 100, 1)",
    )
    execute(
        urls["opproduction"],
        "INSERT INTO t_production_order VALUES "
        "(1, 1127, 'T1', 1, '2025-11-04 15:00:00', '2025-11-04 15:02:00'),"
        "(2, 1127, 'T2', 1, '2025-11-04 15:00:00', '2025-11-06 15:00:00'),"
        "(3, 2002, 'T5', 1, '2025-11-04 17:00:00', '2025-11-04 17:01:00')",
    )
    execute(
        urls["opqualitycontrol"],
        "INSERT INTO t_task_form VALUES (1, 1127, '2025-11-04 15:00:00', 90), (2, 1127, '2025-11-04 15:00:00', 999.99),"
        "(3, 1127, '2025-11-04 15:00:00', -5), (4, 2001, '2025-11-04 15:00:00', 80)",
        "INSERT INTO t_expiry_management VALUES (1, 1127, '2025-11-04 15:00:00', -3)",
    )
    execute(
        urls["opempefficiency"],
        "INSERT INTO t_attendance VALUES (1, 1127, 1, '2025-11-04 14:00:00', '2025-11-04 22:00:00'),"
        "(2, 2001, 2, '2025-11-04 14:00:00', '2025-11-04 22:00:00')",
    )


def metrics(url: str) -> dict[str, dict]:
    with MySQLUrl.parse(url).connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM store_daily_metrics WHERE metric_date = %s", (DAY,))
        names = [column[0] for column in cursor.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def backfill_day(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`store-anomaly backfill` of DAY as a real process, with `env`."""
    return subprocess.run(
        [CLI, "backfill", "--start", DAY.isoformat(), "--end", DAY.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_every_bad_row_is_excluded_and_counted_and_the_run_goes_on(platform_urls, tmp_path):
    build_bad_sources(platform_urls)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), PARTITIONS_START_ENV_VAR: DAY.isoformat()}
    result = backfill_day(env)
    assert result.returncode == 0, result.stderr[-3000:]

    rows = metrics(platform_urls["warehouse"])
    assert set(rows) == {"US00001", "US00002"}
    first, second = rows["US00001"], rows["US00002"]
    # Item 1: the 1e13 trade, the NULL-dept trade and the second dept do not block anyone.
    assert (float(first["revenue"]), first["order_count"], first["items_sold"]) == (25.0, 1, 2)
    assert first["dq_implausible_pay_money"] == 1 and first["dq_nonpositive_item_quantity"] == 1
    assert (float(second["revenue"]), second["order_count"], second["items_sold"]) == (30.0, 2, 4)  # both depts
    assert second["dept_id"] == 2001 and second["production_count"] == 1 and second["staff_hours"] == 8.0
    assert second["shop_name"] == LONG_NAME[:128]
    # Item 2: plausibility bounds.
    assert (first["production_count"], first["avg_production_seconds"], first["dq_overlong_production"]) == (1, 120, 1)
    assert (first["qc_score"], first["dq_implausible_qc_score"]) == (90.0, 2)
    assert first["dq_excluded_rows"] == 2  # the implausible trade and the 48-hour production order

    with MySQLUrl.parse(platform_urls["warehouse"]).connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT shop_no, open_date, open_date_zero, shop_name_truncated, other_dept_ids, scope_reason "
            "FROM source_opshop_daily WHERE business_date = %s ORDER BY shop_no",
            (DAY,),
        )
        assert cursor.fetchall() == (
            ("US00001", date(2025, 1, 1), 0, 0, None, "in_scope"),
            ("US00002", None, 1, 1, "2002", "in_scope"),
        )

    # Rows no partition can hold, the store master read defensively, and a negative KPI: checks that warn,
    # printed by the CLI (item 6) though the run succeeded.
    assert "check not passed (ERROR): store_daily_metrics.no_negative_kpis" in result.stderr
    assert "'expired_qty': 1" in result.stderr
    warning = next(
        line
        for line in result.stderr.splitlines()
        if line.startswith("check not passed") and "source_rows_no_partition_can_hold" in line
    )
    for expected in (
        "'sales_order.t_trade.dept_id is NULL': 1",
        "'sales_order.t_trade.create_time before the first partition (2025-11-04)': 1",
        "sales_order.t_trade.create_time after tomorrow",
        "'sales_order.t_trade_item.trade_id has no t_trade': 1",
        "'opshop.t_shop.shop_name longer than 128 characters (cut)': 1",
        "'opshop.t_shop.open_date zero date (read as NULL)': 1",
        "'opshop.t_shop_dept.shop_no several rows (rows kept under the first dept_id)': 1",
    ):
        assert expected in warning, (expected, warning)
    last = result.stdout.splitlines()[-1]
    assert "not passed: " in last and "no_negative_kpis" in last and "source_rows_no_partition_can_hold" in last


def test_the_plausibility_bounds_are_configurable(platform_urls, tmp_path):
    build_bad_sources(platform_urls)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        PARTITIONS_START_ENV_VAR: DAY.isoformat(),
        MAX_PAY_MONEY_ENV_VAR: "20",  # now the $25 trade is implausible too
    }
    result = backfill_day(env)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = metrics(platform_urls["warehouse"])
    assert (float(rows["US00001"]["revenue"]), rows["US00001"]["dq_implausible_pay_money"]) == (0.0, 2)
    assert (float(rows["US00002"]["revenue"]), rows["US00002"]["dq_implausible_pay_money"]) == (30.0, 0)
    bad = subprocess.run(
        [CLI, "backfill", "--start", DAY.isoformat(), "--end", DAY.isoformat()],
        capture_output=True,
        text=True,
        env={**env, MAX_PAY_MONEY_ENV_VAR: "lots"},
        timeout=600,
        check=False,
    )
    assert bad.returncode == 1 and f"{MAX_PAY_MONEY_ENV_VAR}='lots' is not a number" in bad.stderr.splitlines()[-1]
