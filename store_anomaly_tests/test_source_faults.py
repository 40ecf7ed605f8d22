"""Faults of real, unseen sources that the contract's clean schema does not show, done for real on fresh
databases: MySQL zero dates in every dated source table, a trade dated 1970, a store master holding two rows
of one shop_no. Each bad row is counted or read defensively; none blocks the chain."""

from __future__ import annotations

from datetime import date

import pytest
from dagster import DagsterInstance

from store_anomaly import holiday_calendar
from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import SKIPPED_DATES_KEY
from store_anomaly.runner import root_causes, run_backfill
from store_anomaly.settings import SOURCE_ENV_VARS
from store_anomaly.sources.extracts import (
    DATED_TABLES,
    orphan_items_params,
    orphan_items_sql,
    unattributable_params,
    unattributable_sql,
)
from store_anomaly_tests.small_chain import END, START, build_sources

pytestmark = pytest.mark.mysql

ZERO = "'0000-00-00 00:00:00'"
NOV2 = date(2025, 11, 2)


def execute(url: str, *statements: str) -> None:
    with MySQLUrl.parse(url).connect() as connection, connection.cursor() as cursor:
        cursor.execute("SET SESSION sql_mode = ''")  # what lets a real source hold zero dates
        for statement in statements:
            cursor.execute(statement)
        connection.commit()


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with MySQLUrl.parse(url).connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def check_metadata(result, check: str) -> dict:
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == check)
    return {key: value.value for key, value in evaluation.metadata.items()}


def test_zero_dates_in_every_source_table_are_counted_and_never_block_the_chain(platform_urls):
    build_sources(platform_urls)
    execute(
        platform_urls["sales_order"],
        f"INSERT INTO t_trade VALUES (100, 'T100', 1127, 11, 1, {ZERO}), (101, 'T101', 1127, 12, 1, '1970-01-01')",
        "INSERT INTO t_trade_item VALUES (100, 100, 1, 5)",
    )
    execute(
        platform_urls["opproduction"],
        f"INSERT INTO t_production_order VALUES (100, 1127, NULL, 1, {ZERO}, '2025-11-02 14:05:00'), "
        f"(101, 1127, NULL, 1, '2025-11-02 14:40:00', {ZERO})",
    )
    execute(
        platform_urls["opqualitycontrol"],
        f"INSERT INTO t_task_form VALUES (100, 1127, {ZERO}, 50)",
        f"INSERT INTO t_expiry_management VALUES (100, 1127, {ZERO}, 7)",
    )
    execute(
        platform_urls["opempefficiency"],
        f"INSERT INTO t_attendance VALUES (100, 1127, 900, {ZERO}, '2025-11-02 18:00:00'), "
        f"(101, 1127, 901, '2025-11-02 13:00:00', {ZERO})",
    )

    # The default first partition (2024-01-01): SPC reads its lookback from there, and neither a zero-dated nor
    # a 1970 trade may make it look for history before the store's first real trade.
    result = run_backfill(START, END, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert {e.asset_key.path[-1] for e in result.get_asset_materialization_events()} >= {
        "store_spc_control_limits",
        "store_anomaly_alerts",
    }

    (row,) = query(
        platform_urls["warehouse"],
        "SELECT order_count, production_count, dq_unfinished_production, dq_negative_production_duration, "
        "staff_hours, headcount, dq_open_shifts, dq_nonpositive_shifts "
        "FROM store_daily_metrics WHERE shop_no = 'US00001' AND metric_date = %s",
        (NOV2,),
    )
    # A zero finish_time or clock_out reads as NULL, as the contract says: an unfinished order, an open shift
    # (counted, and the shift's employee was at work), never a negative duration nor a row counted nowhere.
    assert row == (3, 2, 2, 1, 10.0, 5, 2, 1)
    # The run that starts at the first partition counts them, per table, in source_rows_no_partition_can_hold.
    before_first_partition = {
        table: query(
            platform_urls[source],
            unattributable_sql(table, timestamp),
            tuple(unattributable_params(START, END, first_partition=START, today=END)),
        )[0][2]
        for source, table, timestamp in DATED_TABLES
    }
    assert before_first_partition == {
        "t_trade": 2,
        "t_production_order": 1,
        "t_task_form": 1,
        "t_expiry_management": 1,
        "t_attendance": 1,
    }


def test_a_shop_no_with_two_store_master_rows_keeps_the_latest_and_is_counted(platform_urls):
    build_sources(platform_urls)
    # A store re-registered in a real master without the contract's UNIQUE key: the old row closed, a new one.
    execute(
        platform_urls["opshop"],
        "ALTER TABLE t_shop DROP INDEX shop_no",
        "UPDATE t_shop SET id = 40 WHERE shop_no = 'US00001'",
        "INSERT INTO t_shop VALUES (5, 'US00001', '8th & Broadway (first site)', 3, 1, 'America/New_York', "
        "'2019-05-01')",
    )
    result = run_backfill(START, END, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]

    assert query(
        platform_urls["warehouse"],
        "SELECT shop_no, shop_name, status, in_scope, several_shop_rows FROM source_opshop_daily "
        "WHERE business_date = %s AND shop_no = 'US00001'",
        (NOV2,),
    ) == [("US00001", "8th & Broadway", 1, 1, 1)]
    (revenue,) = query(
        platform_urls["warehouse"],
        "SELECT revenue FROM store_daily_metrics WHERE shop_no = 'US00001' AND metric_date = %s",
        (NOV2,),
    )[0]
    assert float(revenue) == 15
    held = check_metadata(result, "source_rows_no_partition_can_hold")["rows_by_table_and_column"]
    assert held["opshop.t_shop.shop_no several rows (the row with the highest id read)"] == 1, held


def test_a_contract_column_of_another_type_fails_at_start_naming_source_table_and_column(platform_urls):
    build_sources(platform_urls)
    # Wider columns of the same kind are read as they are (test_bad_rows.py); text where the contract has an
    # amount would be summed as 0 for 'N/A' and 1 for '1,250.00': the run refuses it before reading anything.
    execute(
        platform_urls["sales_order"],
        "ALTER TABLE t_trade MODIFY pay_money VARCHAR(20) NULL, MODIFY create_time TIMESTAMP NOT NULL",
        "INSERT INTO t_trade VALUES (200, 'T200', 1127, 'N/A', 1, '2025-11-02 15:40:00')",
    )
    execute(platform_urls["opshop"], "ALTER TABLE t_shop MODIFY shop_name TEXT NOT NULL")
    result = run_backfill(START, END, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    causes = " ".join(root_causes(result))
    assert (
        "sales_order: column t_trade.pay_money in database" in causes
        and "is varchar(20), not a number as the source contract has it" in causes
        and SOURCE_ENV_VARS["sales_order"] in causes
    ), causes
    assert "create_time" not in causes and "shop_name" not in causes  # a TIMESTAMP reads as UTC, TEXT as text
    assert query(platform_urls["warehouse"], "SHOW TABLES LIKE 'store_daily_metrics'") == []


def test_null_values_a_looser_source_allows_are_counted_never_dropped_unseen(platform_urls):
    build_sources(platform_urls)
    # A real schema without the contract's NOT NULLs: a trade without a status or a time, an item without a
    # quantity.
    execute(
        platform_urls["sales_order"],
        "ALTER TABLE t_trade MODIFY trade_status TINYINT NULL, MODIFY create_time DATETIME NULL",
        "ALTER TABLE t_trade_item MODIFY quantity INT NULL",
        "INSERT INTO t_trade VALUES (300, 'T300', 1127, 8, NULL, '2025-11-02 15:45:00'), "
        "(301, 'T301', 1127, 8, 1, NULL), (302, 'T302', 1127, 8, 1, '2025-11-02 15:46:00')",
        "INSERT INTO t_trade_item VALUES (300, 302, 1, NULL), (301, 302, 1, 2)",
    )
    result = run_backfill(START, END, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    (row,) = query(
        platform_urls["warehouse"],
        "SELECT revenue, order_count, items_sold, dq_unknown_status_trades, dq_nonpositive_item_quantity "
        "FROM store_daily_metrics WHERE shop_no = 'US00001' AND metric_date = %s",
        (NOV2,),
    )
    # The small chain's 15 over 3 orders and 6 items, plus trade 302 and its one item with a quantity.
    assert (float(row[0]), *row[1:]) == (23.0, 4, 8, 1, 1)
    held = check_metadata(result, "source_rows_no_partition_can_hold")["rows_by_table_and_column"]
    assert held["sales_order.t_trade.create_time is NULL"] == 1, held


def test_a_shift_without_employee_and_an_expiry_record_without_quantity_are_counted(platform_urls):
    build_sources(platform_urls)
    # A looser attendance schema: a 2-hour shift without an employee_id keeps its hours (staff_hours counts
    # shifts) but can be in no headcount; an expiry record without a quantity adds nothing to expired_qty.
    execute(
        platform_urls["opempefficiency"],
        "ALTER TABLE t_attendance MODIFY employee_id BIGINT NULL",
        "INSERT INTO t_attendance VALUES (400, 1127, NULL, '2025-11-02 15:00:00', '2025-11-02 17:00:00')",
    )
    execute(
        platform_urls["opqualitycontrol"],
        "ALTER TABLE t_expiry_management MODIFY expired_qty INT NULL",
        "INSERT INTO t_expiry_management VALUES (400, 1127, '2025-11-02 15:00:00', NULL)",
    )
    (before,) = query(
        platform_urls["opempefficiency"],
        "SELECT COUNT(DISTINCT employee_id) FROM t_attendance WHERE dept_id = 1127 "
        "AND clock_in >= '2025-11-02 05:00:00' AND clock_in < '2025-11-03 05:00:00'",
    )
    result = run_backfill(START, END, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    (row,) = query(
        platform_urls["warehouse"],
        "SELECT staff_hours, headcount, shift_count, dq_null_employee_id, expired_qty, dq_null_expired_qty "
        "FROM store_daily_metrics WHERE shop_no = 'US00001' AND metric_date = %s",
        (NOV2,),
    )
    # The contract's KPIs unchanged (hours of every valid shift, distinct employees, the sum of the quantities),
    # the rows they could not use counted per store and day.
    assert (row[0], row[1], row[3], row[5]) == (12.0, before[0], 1, 1), row
    surfaced = check_metadata(result, "excluded_rows_surfaced")["excluded_by_rule"]
    assert (surfaced["dq_null_employee_id"], surfaced["dq_null_expired_qty"]) == (1, 1), surfaced


def test_items_whose_trade_is_gone_are_counted_inside_and_beyond_the_runs_trade_ids(platform_urls):
    # A trade deleted from the middle of the run's trades (its two items stay) and an item of a trade id past the
    # newest trade: the three items no partition can hold, counted by one query on the sales source.
    build_sources(platform_urls)
    execute(
        platform_urls["sales_order"],
        "DELETE FROM t_trade WHERE id = 2",
        "INSERT INTO t_trade_item VALUES (50, 99, 1, 1)",
    )
    (orphans,) = query(platform_urls["sales_order"], orphan_items_sql(), tuple(orphan_items_params(START, END)))
    assert orphans == (3,)
    # a range without trades has no id range: only the item past the newest trade is counted
    (outside,) = query(
        platform_urls["sales_order"],
        orphan_items_sql(),
        tuple(orphan_items_params(date(2025, 10, 1), date(2025, 10, 2))),
    )
    assert outside == (1,)


def test_a_holiday_whose_trades_vanished_from_the_source_keeps_its_stored_trading_rows(platform_urls, monkeypatch):
    # A public holiday without a trade is written as a closure; but one that already holds trading rows and whose
    # trades the source lost (an emptied feed on a holiday the stores trade on) is not replaced by a closure: the
    # stored rows stay, as for a late feed, and the check that says so fails.
    build_sources(platform_urls)
    result = run_backfill(START, END, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    stored = "SELECT shop_no, revenue, order_count, is_closed FROM store_daily_metrics WHERE metric_date = %s"
    before = query(platform_urls["warehouse"], stored, (NOV2,))
    assert any(row[2] > 0 for row in before)

    # the calendar of a country where 2 November is a public holiday (All Souls' Day)
    calendar = holiday_calendar.public_holidays
    monkeypatch.setattr(
        holiday_calendar,
        "public_holidays",
        lambda first, last, *args, **kwargs: (
            {**calendar(first, last, *args, **kwargs), NOV2: "All Souls' Day"}
            if first <= NOV2 <= last
            else calendar(first, last, *args, **kwargs)
        ),
    )
    execute(platform_urls["sales_order"], "DELETE FROM t_trade_item", "DELETE FROM t_trade")
    result = run_backfill(NOV2, NOV2, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert query(platform_urls["warehouse"], stored, (NOV2,)) == before
    materialized = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["store_daily_metrics"]
    )
    assert NOV2.isoformat() in str(materialized.materialization.metadata[SKIPPED_DATES_KEY].value)
    assert check_metadata(result, "no_late_feed")["holidays_emptied_in_the_source"] == NOV2.isoformat()
