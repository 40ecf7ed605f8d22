"""The source contract's KPI definitions, end to end through Dagster into the real warehouse.

Hand-built rows cover the edge cases the contract names: a trade at 23:30 local (the next UTC day), the
November DST change (a 25-hour business day), a store in Shanghai, every kind of dirty row, orphan
departments, test kitchens and stores not yet open, and a closed day.
"""

from datetime import date

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from store_anomaly.definitions import build_definitions
from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import partition_range_tags
from store_anomaly.runner import root_causes, run_backfill
from store_anomaly.sources.local_time import is_valid_time_zone
from store_anomaly_tests.small_chain import END, START, build_sources

pytestmark = pytest.mark.mysql


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


def test_a_short_scope_read_as_date_ranges_at_once_equals_one_statement(platform_urls, monkeypatch):
    # a daily window's extracts are read as two date ranges at once (`SHORT_SCOPE_DAYS`): the late-evening
    # trade, the 25-hour DST day and the Shanghai store land in the same groups as in one statement
    from store_anomaly.resources import PlatformSettings, SourceDatabase
    from store_anomaly.settings import SOURCE_ENV_VARS
    from store_anomaly.sources import extracts
    from store_anomaly.sources.assets import SHOPS_SCHEMA, SHOPS_SQL, date_scope

    build_sources(platform_urls)
    source = {
        name: SourceDatabase(name=name, url=platform_urls[name], env_var=SOURCE_ENV_VARS[name])
        for name in SOURCE_ENV_VARS
    }
    shops = source["opshop"].fetch_frame(SHOPS_SQL, None, SHOPS_SCHEMA)
    scope = date_scope(START, END, shops, PlatformSettings())
    reads = [
        ("sales_order", extracts.sales_sql, extracts.SALES_SCHEMA),
        ("sales_order", extracts.items_sql, extracts.ITEMS_SCHEMA),
        ("opproduction", extracts.production_sql, extracts.PRODUCTION_SCHEMA),
        ("opempefficiency", extracts.attendance_sql, extracts.ATTENDANCE_SCHEMA),
        ("opqualitycontrol", extracts.inspections_sql, extracts.INSPECTIONS_SCHEMA),
        ("opqualitycontrol", extracts.expiry_sql, extracts.EXPIRY_SCHEMA),
    ]
    assert 2 <= (END - START).days + 1 <= extracts.SHORT_SCOPE_DAYS  # a window read in halves
    in_halves = [extracts.fetch_parts(source[name], sql, scope, schema) for name, sql, schema in reads]
    monkeypatch.setattr(extracts, "SHORT_SCOPE_DAYS", 0)
    whole = [extracts.fetch_parts(source[name], sql, scope, schema) for name, sql, schema in reads]
    key = ["dept_id", "business_date"]
    for (name, sql, _), halves, one in zip(reads, in_halves, whole, strict=True):
        assert one.height > 0, sql.__name__
        assert halves.sort(key).equals(one.sort(key)), (name, sql.__name__)
