"""The source contract's KPI definitions, end to end through Dagster into the real warehouse.

Hand-built rows cover the edge cases the contract names: a trade at 23:30 local (the next UTC day), the
November DST change (a 25-hour business day), a store in Shanghai, every kind of dirty row, orphan
departments, test kitchens and stores not yet open, and a closed day.
"""

from datetime import date, datetime

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from store_anomaly.definitions import build_definitions
from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import partition_range_tags
from store_anomaly.runner import root_causes, run_backfill
from store_anomaly.sources.local_time import is_valid_time_zone
from store_anomaly_tests.source_rows import create_all_source_tables, insert_rows

pytestmark = pytest.mark.mysql

START, END = date(2025, 11, 1), date(2025, 11, 3)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def build_sources(urls: dict[str, str]) -> None:
    create_all_source_tables(urls)
    insert_rows(
        urls,
        "t_shop",
        [
            dict(
                id=1,
                shop_no="US00001",
                shop_name="8th & Broadway",
                status=1,
                shop_type=1,
                time_zone="America/New_York",
                open_date=date(2025, 1, 1),
            ),
            dict(
                id=2,
                shop_no="US00000",
                shop_name="NJ test kitchen",
                status=1,
                shop_type=9,
                time_zone="America/New_York",
                open_date=None,
            ),
            dict(
                id=3,
                shop_no="US00007",
                shop_name="108th & Broadway",
                status=2,
                shop_type=1,
                time_zone="America/New_York",
                open_date=date(2026, 6, 1),
            ),
            dict(
                id=4,
                shop_no="US00010",
                shop_name="Shanghai",
                status=1,
                shop_type=1,
                time_zone="Asia/Shanghai",
                open_date=date(2025, 11, 2),
            ),
        ],
    )
    insert_rows(
        urls,
        "t_shop_dept",
        [
            dict(dept_id=1127, shop_no="US00001"),
            dict(dept_id=1000, shop_no="US00000"),
            dict(dept_id=20011, shop_no="US00007"),
            dict(dept_id=3000, shop_no="US00010"),
        ],
    )
    trade = lambda id_, dept, pay, status, ts: dict(  # noqa: E731
        id=id_, trade_no=f"T{id_}", dept_id=dept, pay_money=pay, trade_status=status, create_time=utc(ts)
    )
    insert_rows(
        urls,
        "t_trade",
        [
            trade(1, 1127, 10, 1, "2025-11-02 03:30:00"),  # 23:30 EDT on Nov 1: business date Nov 1
            trade(2, 1127, 5, 1, "2025-11-02 05:30:00"),  # 01:30 EDT on Nov 2, before the clocks fall back
            trade(3, 1127, 7, 1, "2025-11-02 06:30:00"),  # 01:30 EST on Nov 2, the repeated hour
            trade(4, 1127, 3, 1, "2025-11-03 04:30:00"),  # 23:30 EST on Nov 2
            trade(5, 1127, None, 1, "2025-11-02 15:00:00"),  # NULL pay_money
            trade(6, 1127, -2, 1, "2025-11-02 15:10:00"),  # negative pay_money
            trade(7, 1127, 4, 2, "2025-11-02 15:20:00"),  # refunded
            trade(8, 1127, 6, 3, "2025-11-02 15:30:00"),  # cancelled
            trade(9, 55555, 100, 1, "2025-11-02 16:00:00"),  # orphan department
            trade(10, 1000, 50, 1, "2025-11-02 16:00:00"),  # test kitchen
            trade(11, 3000, 20, 1, "2025-11-01 17:00:00"),  # 01:00 on Nov 2 in Shanghai
            trade(12, 3000, 30, 1, "2025-11-01 15:00:00"),  # 23:00 on Nov 1 in Shanghai: before its open date
            trade(13, 20011, 9, 1, "2025-11-02 16:00:00"),  # store not yet open
        ],
    )
    insert_rows(
        urls,
        "t_trade_item",
        [
            dict(id=1, trade_id=1, spu_id=1, quantity=2),
            dict(id=2, trade_id=2, spu_id=1, quantity=1),
            dict(id=3, trade_id=2, spu_id=2, quantity=1),
            dict(id=4, trade_id=3, spu_id=1, quantity=3),
            dict(id=5, trade_id=5, spu_id=1, quantity=9),
            dict(id=6, trade_id=7, spu_id=1, quantity=9),
            dict(id=7, trade_id=4, spu_id=1, quantity=1),
        ],
    )
    production = lambda id_, dept, start, finish: dict(  # noqa: E731
        id=id_,
        dept_id=dept,
        trade_no=None,
        item_count=1,
        start_time=utc(start),
        finish_time=utc(finish) if finish else None,
    )
    insert_rows(
        urls,
        "t_production_order",
        [
            production(1, 1127, "2025-11-02 14:00:00", "2025-11-02 14:02:00"),  # 120 s
            production(2, 1127, "2025-11-02 14:10:00", "2025-11-02 14:14:00"),  # 240 s
            production(3, 1127, "2025-11-02 14:20:00", None),  # unfinished
            production(4, 1127, "2025-11-02 14:30:00", "2025-11-02 14:29:00"),  # finish before start
            production(5, 55555, "2025-11-02 14:30:00", "2025-11-02 14:31:00"),  # orphan
        ],
    )
    shift = lambda id_, dept, employee, clock_in, clock_out: dict(  # noqa: E731
        id=id_,
        dept_id=dept,
        employee_id=employee,
        clock_in=utc(clock_in),
        clock_out=utc(clock_out) if clock_out else None,
    )
    insert_rows(
        urls,
        "t_attendance",
        [
            shift(1, 1127, 501, "2025-11-02 11:00:00", "2025-11-02 19:00:00"),  # 8 h
            shift(2, 1127, 501, "2025-11-02 20:00:00", "2025-11-02 22:00:00"),  # same employee again: 2 h
            shift(3, 1127, 502, "2025-11-02 12:00:00", None),  # open shift
            shift(4, 1127, 503, "2025-11-02 12:00:00", "2025-11-03 05:00:00"),  # 17 h: over 16 h
            shift(5, 1127, 504, "2025-11-02 12:00:00", "2025-11-02 12:00:00"),  # zero length
        ],
    )
    insert_rows(
        urls,
        "t_task_form",
        [
            dict(id=1, dept_id=1127, task_time=utc("2025-11-02 15:00:00"), score=90),
            dict(id=2, dept_id=1127, task_time=utc("2025-11-02 16:00:00"), score=80),
            dict(id=3, dept_id=1127, task_time=utc("2025-11-02 17:00:00"), score=None),
        ],
    )
    insert_rows(
        urls,
        "t_expiry_management",
        [
            dict(id=1, dept_id=1127, record_time=utc("2025-11-02 22:00:00"), expired_qty=3),
            dict(id=2, dept_id=1127, record_time=utc("2025-11-03 03:00:00"), expired_qty=2),  # 22:00 EST Nov 2
        ],
    )


def read_table(url: str, sql: str) -> pl.DataFrame:
    with MySQLUrl.parse(url).connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        return pl.DataFrame(cursor.fetchall(), schema=names, orient="row", infer_schema_length=None)


@pytest.fixture
def materialized(platform_urls):
    build_sources(platform_urls)
    result = run_backfill(START, END, instance=DagsterInstance.ephemeral())
    assert result.success
    return platform_urls, result


def metrics_row(urls, shop_no: str, day: date) -> dict:
    frame = read_table(
        urls["warehouse"], f"SELECT * FROM store_daily_metrics WHERE shop_no = '{shop_no}' AND metric_date = '{day}'"
    )
    assert frame.height == 1, frame
    return frame.row(0, named=True)


def test_late_evening_trade_belongs_to_the_local_day(materialized):
    urls, _ = materialized
    nov1 = metrics_row(urls, "US00001", date(2025, 11, 1))
    assert float(nov1["revenue"]) == 10 and nov1["order_count"] == 1 and nov1["items_sold"] == 2


def test_dst_day_counts_both_repeated_hours_and_every_kpi(materialized):
    urls, _ = materialized
    nov2 = metrics_row(urls, "US00001", date(2025, 11, 2))
    assert float(nov2["revenue"]) == 15 and nov2["order_count"] == 3
    assert nov2["aov"] == pytest.approx(5.0)
    assert nov2["items_sold"] == 6  # trades 2, 3 and 4; the NULL-paid and refunded trades' items excluded
    assert nov2["avg_production_seconds"] == pytest.approx(180.0) and nov2["production_count"] == 2
    assert nov2["staff_hours"] == pytest.approx(10.0) and nov2["headcount"] == 4
    assert nov2["orders_per_labor_hour"] == pytest.approx(0.3)
    assert nov2["qc_score"] == pytest.approx(85.0) and nov2["expired_qty"] == 5
    assert (nov2["dq_null_pay_money"], nov2["dq_negative_pay_money"]) == (1, 1)
    assert (nov2["dq_refunded_trades"], nov2["dq_cancelled_trades"]) == (1, 1)
    assert (nov2["dq_unfinished_production"], nov2["dq_negative_production_duration"]) == (1, 1)
    assert (nov2["dq_open_shifts"], nov2["dq_overlong_shifts"], nov2["dq_nonpositive_shifts"]) == (1, 1, 1)
    assert nov2["dq_null_qc_score"] == 1
    assert nov2["dq_excluded_rows"] == 7


def test_closed_day_is_an_explicit_row(materialized):
    urls, _ = materialized
    nov3 = metrics_row(urls, "US00001", date(2025, 11, 3))
    assert nov3["is_closed"] == 1 and nov3["order_count"] == 0 and nov3["aov"] is None
    assert float(nov3["revenue"]) == 0


def test_store_in_another_time_zone_is_dated_locally_from_its_open_date(materialized):
    urls, _ = materialized
    shanghai = read_table(
        urls["warehouse"],
        "SELECT metric_date, revenue FROM store_daily_metrics WHERE shop_no = 'US00010' ORDER BY metric_date",
    )
    assert shanghai["metric_date"].to_list() == [date(2025, 11, 2), date(2025, 11, 3)]
    assert float(shanghai["revenue"][0]) == 20


def test_out_of_scope_rows_are_counted_not_lost(materialized):
    urls, _ = materialized
    scored = read_table(urls["warehouse"], "SELECT DISTINCT shop_no FROM store_daily_metrics ORDER BY shop_no")
    assert scored["shop_no"].to_list() == ["US00001", "US00010"]
    excluded = read_table(
        urls["warehouse"],
        "SELECT source, dept_id, reason, SUM(row_count) AS n, SUM(amount) AS amount FROM excluded_source_rows "
        "GROUP BY source, dept_id, reason ORDER BY source, dept_id",
    )
    rows = {
        (r["source"], r["dept_id"], r["reason"]): (int(r["n"]), float(r["amount"]))
        for r in excluded.iter_rows(named=True)
    }
    assert rows[("sales_order", 55555, "orphan_dept")] == (1, 100.0)
    assert rows[("sales_order", 1000, "test_store")] == (1, 50.0)
    assert rows[("sales_order", 20011, "not_yet_open")] == (1, 9.0)
    assert rows[("sales_order", 3000, "before_open_date")] == (1, 30.0)
    assert rows[("opproduction", 55555, "orphan_dept")] == (1, 0.0)


def test_every_asset_check_passes(materialized):
    _, result = materialized
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} >= {
        "unique_store_days",
        "no_negative_kpis",
        "every_in_scope_store_present",
        "revenue_reconciles_with_source",
        "excluded_rows_surfaced",
    }
    failed = [
        (e.check_name, e.metadata) for e in evaluations if not e.passed and e.check_name != "excluded_rows_surfaced"
    ]
    assert not failed


def test_a_downstream_run_without_its_inputs_fails_and_keeps_the_stored_rows(materialized):
    urls, result = materialized
    before = read_table(urls["warehouse"], "SELECT * FROM store_daily_metrics ORDER BY metric_date, shop_no")
    job = build_definitions().resolve_implicit_global_asset_job_def()
    only_metrics = job.execute_in_process(
        instance=result.dagster_run and DagsterInstance.ephemeral(),
        asset_selection=[AssetKey("store_daily_metrics")],
        tags=partition_range_tags(date(2025, 10, 31), date(2025, 11, 1)),
        raise_on_error=False,
    )
    assert not only_metrics.success
    assert any("source_opshop_daily is not materialized" in m for m in root_causes(only_metrics))
    after = read_table(urls["warehouse"], "SELECT * FROM store_daily_metrics ORDER BY metric_date, shop_no")
    assert after.equals(before)


def test_time_zones_polars_cannot_use_are_invalid():
    assert is_valid_time_zone("America/Los_Angeles") and is_valid_time_zone("Asia/Kolkata")
    assert not any(is_valid_time_zone(name) for name in ("localtime", "Factory", "posixrules", "Mars/Olympus", ""))
