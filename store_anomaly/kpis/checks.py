"""Asset checks on `store_daily_metrics`, run on the stored rows of the partitions a run materialized.

They read what landed in the warehouse (not the in-memory frame), so they also catch a broken write.
"""

import functools
from datetime import UTC, date, datetime, timedelta

import polars as pl
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check

from store_anomaly.date_ranges import contiguous_ranges, date_ranges_text
from store_anomaly.holiday_calendar import holiday_frame
from store_anomaly.kpis.assets import store_daily_metrics, unwritten_dates
from store_anomaly.kpis.catalog import DQ_COLUMNS, KPI_COLUMNS
from store_anomaly.mysql import read_concurrently
from store_anomaly.partitions import business_dates, daily_partitions, dates_written_in_run, per_partition_evaluations
from store_anomaly.resources import PlatformSettings, SourceDatabase, Warehouse
from store_anomaly.sources import extracts
from store_anomaly.sources.assets import date_scope
from store_anomaly.sources.extracts import (
    DATED_TABLES,
    UNATTRIBUTABLE_SCHEMA,
    orphan_items_params,
    orphan_items_sql,
    source_row_totals_sql,
    unattributable_params,
    unattributable_sql,
    valid_trade_sql,
)
from store_anomaly.sources.feeds import LATE_FEED_REASON, source_gap_dates

# Share of a range's source rows that the KPI rules may exclude before the check warns.
EXCLUDED_SHARE_WARNING = 0.05
# Revenue is stored with 4 decimals; sums may differ by rounding only.
REVENUE_TOLERANCE_USD = 0.01


def _range(context: AssetCheckExecutionContext) -> tuple[date, date]:
    return business_dates(context.partition_time_window)


def _partitioned_check(**kwargs):
    """`@asset_check` on store_daily_metrics' partitions; the result is recorded for each partition of a range."""

    def decorate(check_fn):
        @functools.wraps(check_fn)
        def per_partition(context: AssetCheckExecutionContext, **resources):
            yield from per_partition_evaluations(context, check_fn(context, **resources))

        return asset_check(asset=store_daily_metrics, partitions_def=daily_partitions, **kwargs)(per_partition)

    return decorate


@_partitioned_check(description="Exactly one row per store and business date.", blocking=True)
def unique_store_days(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    start, end = _range(context)
    duplicates = warehouse.fetch_frame(
        "SELECT shop_no, metric_date, COUNT(*) FROM store_daily_metrics WHERE metric_date BETWEEN %s AND %s "
        "GROUP BY shop_no, metric_date HAVING COUNT(*) > 1",
        (start, end),
        {"shop_no": pl.String, "metric_date": pl.Date, "rows": pl.Int64},
    )
    return AssetCheckResult(
        passed=duplicates.is_empty(),
        metadata={"duplicate_store_days": duplicates.height, "examples": str(duplicates.head(5).rows())},
    )


@_partitioned_check(description="No KPI is negative.")
def no_negative_kpis(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    start, end = _range(context)
    counts = ", ".join(f"COALESCE(SUM({kpi} < 0), 0)" for kpi in KPI_COLUMNS)
    frame = warehouse.fetch_frame(
        f"SELECT {counts} FROM store_daily_metrics WHERE metric_date BETWEEN %s AND %s",
        (start, end),
        {kpi: pl.Int64 for kpi in KPI_COLUMNS},
    )
    negatives = {kpi: value for kpi, value in frame.row(0, named=True).items() if value}
    return AssetCheckResult(passed=not negatives, metadata={"negative_rows_by_kpi": negatives})


@_partitioned_check(
    description="Every in-scope store has a row for every business date; out-of-scope stores have none."
)
def every_in_scope_store_present(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    start, end = _range(context)
    frame = warehouse.fetch_frame(
        """SELECT
             (SELECT COUNT(*) FROM source_opshop_daily o WHERE o.business_date BETWEEN %s AND %s AND o.in_scope
                AND NOT EXISTS (SELECT 1 FROM store_daily_metrics m
                                WHERE m.metric_date = o.business_date AND m.shop_no = o.shop_no)),
             (SELECT COUNT(*) FROM store_daily_metrics m WHERE m.metric_date BETWEEN %s AND %s
                AND NOT EXISTS (SELECT 1 FROM source_opshop_daily o WHERE o.business_date = m.metric_date
                                AND o.shop_no = m.shop_no AND o.in_scope)),
             (SELECT COUNT(*) FROM store_daily_metrics m WHERE m.metric_date BETWEEN %s AND %s AND m.is_closed)""",
        (start, end, start, end, start, end),
        {"missing": pl.Int64, "unexpected": pl.Int64, "closed": pl.Int64},
    )
    missing, unexpected, closed = frame.row(0)
    return AssetCheckResult(
        passed=missing == 0 and unexpected == 0,
        metadata={"missing_store_days": missing, "unexpected_store_days": unexpected, "closed_store_days": closed},
    )


def _stored_scope(warehouse: Warehouse, settings: PlatformSettings, start: date, end: date) -> extracts.DateScope:
    """The source scope of [start, end] for the stores the warehouse already holds for those days."""
    shops = warehouse.fetch_frame(
        "SELECT DISTINCT dept_id, time_zone, other_dept_ids FROM source_opshop_daily "
        "WHERE business_date BETWEEN %s AND %s AND dept_id IS NOT NULL",
        (start, end),
        {"dept_id": pl.Int64, "time_zone": pl.String, "other_dept_ids": pl.String},
    )
    return date_scope(start, end, shops, settings)


def _revenue_totals(
    warehouse: Warehouse, sales_order_source: SourceDatabase, settings: PlatformSettings, start: date, end: date
) -> tuple[float, int, dict]:
    """Source revenue and orders of [start, end] by the contract's rules, and the warehouse's totals."""
    scope = _stored_scope(warehouse, settings, start, end)
    source = extracts.fetch_parts(
        sales_order_source,
        lambda part: source_row_totals_sql(
            "t_trade", "create_time", valid_trade_sql(part.bounds), part, value="t.pay_money"
        ),
        scope,
        {"dept_id": pl.Int64, "revenue": pl.Float64, "orders": pl.Int64},
    )
    warehouse_totals = warehouse.fetch_frame(
        """SELECT
             (SELECT COALESCE(SUM(revenue), 0) FROM source_sales_order_daily WHERE business_date BETWEEN %s AND %s),
             (SELECT COALESCE(SUM(order_count), 0) FROM source_sales_order_daily WHERE business_date BETWEEN %s AND %s),
             (SELECT COALESCE(SUM(s.revenue), 0) FROM source_sales_order_daily s JOIN source_opshop_daily o
                ON o.dept_id = s.dept_id AND o.business_date = s.business_date AND o.in_scope
                WHERE s.business_date BETWEEN %s AND %s),
             (SELECT COALESCE(SUM(s.order_count), 0) FROM source_sales_order_daily s JOIN source_opshop_daily o
                ON o.dept_id = s.dept_id AND o.business_date = s.business_date AND o.in_scope
                WHERE s.business_date BETWEEN %s AND %s),
             (SELECT COALESCE(SUM(revenue), 0) FROM store_daily_metrics WHERE metric_date BETWEEN %s AND %s),
             (SELECT COALESCE(SUM(order_count), 0) FROM store_daily_metrics WHERE metric_date BETWEEN %s AND %s),
             (SELECT COALESCE(SUM(amount), 0) FROM excluded_source_rows
                WHERE business_date BETWEEN %s AND %s AND source = 'sales_order')""",
        (start, end) * 7,
        {
            "extract_revenue": pl.Float64,
            "extract_orders": pl.Int64,
            "in_scope_revenue": pl.Float64,
            "in_scope_orders": pl.Int64,
            "metrics_revenue": pl.Float64,
            "metrics_orders": pl.Int64,
            "excluded_revenue": pl.Float64,
        },
    ).row(0, named=True)
    return float(source["revenue"].sum()), int(source["orders"].sum()), warehouse_totals


@_partitioned_check(
    description=(
        "Revenue and orders reconcile: the sales source's totals for the contract's rules equal the extract's, "
        "and the extract splits exactly into store_daily_metrics plus excluded_source_rows."
    ),
    blocking=True,
)
def revenue_reconciles_with_source(
    context: AssetCheckExecutionContext,
    warehouse: Warehouse,
    sales_order_source: SourceDatabase,
    settings: PlatformSettings,
) -> AssetCheckResult:
    start, end = _range(context)
    # Dates a late feed left unwritten keep their earlier rows: only the written dates reconcile.
    stored = _stored_extracts(warehouse, start, end)
    calendar = holiday_frame(start, end, settings.holiday_country, settings.holiday_subdivision)
    late = set().union(
        *unwritten_dates(warehouse, settings, stored["scope"], stored["sales"], calendar["business_date"].to_list())
    )
    written = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    parts = [
        _revenue_totals(warehouse, sales_order_source, settings, first, last)
        for first, last in contiguous_ranges(day for day in written if day not in late)
    ]
    totals = (
        "extract_revenue",
        "extract_orders",
        "in_scope_revenue",
        "in_scope_orders",
        "metrics_revenue",
        "metrics_orders",
        "excluded_revenue",
    )
    source_revenue = sum(part[0] for part in parts)
    source_orders = sum(part[1] for part in parts)
    warehouse_totals = {key: sum(part[2][key] for part in parts) for key in totals}

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= REVENUE_TOLERANCE_USD

    passed = (
        close(source_revenue, warehouse_totals["extract_revenue"])
        and source_orders == warehouse_totals["extract_orders"]
        and close(warehouse_totals["in_scope_revenue"], warehouse_totals["metrics_revenue"])
        and warehouse_totals["in_scope_orders"] == warehouse_totals["metrics_orders"]
        and close(warehouse_totals["metrics_revenue"] + warehouse_totals["excluded_revenue"], source_revenue)
    )
    return AssetCheckResult(
        passed=passed,
        metadata={
            "source_revenue": round(source_revenue, 4),
            "source_orders": source_orders,
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in warehouse_totals.items()},
        },
    )


@_partitioned_check(
    description=(
        "Surfaces the rows the KPI rules excluded (NULL or negative amounts, open or over-long shifts, unfinished "
        f"production, orphans...). Warns when more than {EXCLUDED_SHARE_WARNING:.0%} of source rows were excluded."
    )
)
def excluded_rows_surfaced(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    start, end = _range(context)
    sums = ", ".join(f"COALESCE(SUM({column}), 0)" for column in DQ_COLUMNS)
    counters = warehouse.fetch_frame(
        f"SELECT {sums}, COALESCE(SUM(dq_excluded_rows), 0), "
        # every source row once: counted trades and production, all shifts, and the invalid trades and production
        "COALESCE(SUM(order_count + production_count + shift_count + dq_null_pay_money + dq_negative_pay_money "
        "+ dq_unknown_status_trades + dq_implausible_pay_money + dq_unfinished_production "
        "+ dq_negative_production_duration + dq_overlong_production), 0) "
        "FROM store_daily_metrics WHERE metric_date BETWEEN %s AND %s",
        (start, end),
        {**{column: pl.Int64 for column in DQ_COLUMNS}, "excluded": pl.Int64, "rows": pl.Int64},
    ).row(0, named=True)
    out_of_scope = warehouse.fetch_frame(
        "SELECT reason, SUM(row_count) FROM excluded_source_rows WHERE business_date BETWEEN %s AND %s GROUP BY reason",
        (start, end),
        {"reason": pl.String, "rows": pl.Int64},
    )
    excluded, rows = counters.pop("excluded"), counters.pop("rows")
    share = excluded / rows if rows else 0.0
    return AssetCheckResult(
        passed=share <= EXCLUDED_SHARE_WARNING,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "excluded_rows": excluded,
            "excluded_share": round(share, 5),
            "excluded_by_rule": counters,
            "out_of_scope_rows_by_reason": dict(out_of_scope.iter_rows()),
        },
    )


@_partitioned_check(
    description=(
        "Counts the source rows no partition can hold (a NULL dept_id, dated after tomorrow, before the first "
        "partition or not at all, items whose trade does not exist) and the store-master rows read defensively (names cut to "
        "128 characters, zero open dates, stores with several t_shop or t_shop_dept rows). They never fail the "
        "run; the check warns, naming each source table and column."
    )
)
def source_rows_no_partition_can_hold(
    context: AssetCheckExecutionContext,
    warehouse: Warehouse,
    sales_order_source: SourceDatabase,
    opproduction_source: SourceDatabase,
    opqualitycontrol_source: SourceDatabase,
    opempefficiency_source: SourceDatabase,
) -> AssetCheckResult:
    start, end = _range(context)
    first_partition = daily_partitions.start.date()
    today = datetime.now(UTC).date()
    sources = {
        "sales_order": sales_order_source,
        "opproduction": opproduction_source,
        "opqualitycontrol": opqualitycontrol_source,
        "opempefficiency": opempefficiency_source,
    }
    # every count is an independent query on the sources: all at once
    reads = [
        functools.partial(
            sources[source].fetch_frame,
            unattributable_sql(table, timestamp),
            unattributable_params(start, end, first_partition, today),
            UNATTRIBUTABLE_SCHEMA,
        )
        for source, table, timestamp in DATED_TABLES
    ]
    reads.append(
        functools.partial(
            sales_order_source.fetch_frame, orphan_items_sql(), orphan_items_params(start, end), {"items": pl.Int64}
        )
    )
    *dated, orphans = read_concurrently(reads)
    counts: dict[str, int] = {}
    for (source, table, timestamp), frame in zip(DATED_TABLES, dated, strict=True):
        null_dept, future, old, undated = frame.row(0)
        counts[f"{source}.{table}.dept_id is NULL"] = null_dept
        counts[f"{source}.{table}.{timestamp} after tomorrow ({today})"] = future
        counts[f"{source}.{table}.{timestamp} before the first partition ({first_partition})"] = old
        counts[f"{source}.{table}.{timestamp} is NULL"] = undated
    counts["sales_order.t_trade_item.trade_id has no t_trade"] = orphans.item()
    master = warehouse.fetch_frame(
        "SELECT COUNT(DISTINCT CASE WHEN shop_name_truncated THEN shop_no END), "
        "COUNT(DISTINCT CASE WHEN open_date_zero THEN shop_no END), "
        "COUNT(DISTINCT CASE WHEN other_dept_ids IS NOT NULL THEN shop_no END), "
        "COUNT(DISTINCT CASE WHEN several_shop_rows THEN shop_no END) "
        "FROM source_opshop_daily WHERE business_date BETWEEN %s AND %s",
        (start, end),
        {"truncated": pl.Int64, "zero_dates": pl.Int64, "several_depts": pl.Int64, "several_rows": pl.Int64},
    ).row(0)
    counts["opshop.t_shop.shop_name longer than 128 characters (cut)"] = master[0]
    counts["opshop.t_shop.open_date zero date (read as NULL)"] = master[1]
    counts["opshop.t_shop_dept.shop_no several rows (rows kept under the first dept_id)"] = master[2]
    counts["opshop.t_shop.shop_no several rows (the row with the highest id read)"] = master[3]
    found = {name: count for name, count in counts.items() if count}
    return AssetCheckResult(
        passed=not found,
        severity=AssetCheckSeverity.WARN,
        metadata={"rows_by_table_and_column": found, "total": sum(found.values())},
    )


def _stored_extracts(warehouse: Warehouse, start: date, end: date) -> dict[str, pl.DataFrame]:
    """The run's stored scope and extracts, as the late-feed and gap rules read them."""
    keys = {"business_date": pl.Date, "dept_id": pl.Int64}

    def read(table: str, column: str) -> pl.DataFrame:
        return warehouse.fetch_frame(
            f"SELECT business_date, dept_id, {column} FROM {table} WHERE business_date BETWEEN %s AND %s",
            (start, end),
            {**keys, column: pl.Int64},
        )

    scope = warehouse.fetch_frame(
        "SELECT business_date, dept_id, in_scope FROM source_opshop_daily WHERE business_date BETWEEN %s AND %s "
        "AND dept_id IS NOT NULL",
        (start, end),
        {**keys, "in_scope": pl.Boolean},
    )
    return {
        "scope": scope,
        "sales": read("source_sales_order_daily", "source_rows"),
        "opproduction": read("source_opproduction_daily", "source_rows"),
        "opempefficiency": read("source_opempefficiency_daily", "shift_count"),
    }


@_partitioned_check(
    description=f"No late feed: {LATE_FEED_REASON} on none of the run's dates, and no public holiday whose stored "
    "trades vanished from the source (such dates are not written)."
)
def no_late_feed(
    context: AssetCheckExecutionContext, warehouse: Warehouse, settings: PlatformSettings
) -> AssetCheckResult:
    start, end = _range(context)
    stored = _stored_extracts(warehouse, start, end)
    calendar = holiday_frame(start, end, settings.holiday_country, settings.holiday_subdivision)
    late, emptied = unwritten_dates(
        warehouse, settings, stored["scope"], stored["sales"], calendar["business_date"].to_list()
    )
    return AssetCheckResult(
        passed=not late and not emptied,
        metadata={
            "late_feed_dates": date_ranges_text(late) or "none",
            "holidays_emptied_in_the_source": date_ranges_text(emptied) or "none",
            "to_fix": f"store-anomaly backfill --start {min(late + emptied)} --end {max(late + emptied)} once the "
            "feed has caught up"
            if late or emptied
            else "",
        },
    )


@_partitioned_check(
    description="Production and attendance delivered rows on every trading day (a gap leaves their KPIs NULL)."
)
def no_daily_source_gap(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    start, end = _range(context)
    stored = _stored_extracts(warehouse, start, end)
    count_column = {"opproduction": "source_rows", "opempefficiency": "shift_count"}
    gaps = {
        source: date_ranges_text(
            source_gap_dates(stored["scope"], stored["sales"], stored[source].rename({column: "count"}), "count")
        )
        for source, column in count_column.items()
    }
    gaps = {source: text for source, text in gaps.items() if text}
    return AssetCheckResult(passed=not gaps, severity=AssetCheckSeverity.WARN, metadata={"gap_dates": gaps})


# How many business dates back, ending at the run's last one, the warehouse is compared with the sources.
RECENT_DAYS = 14


def _compared_with_sources(
    warehouse: Warehouse,
    sales_order_source: SourceDatabase,
    opproduction_source: SourceDatabase,
    opempefficiency_source: SourceDatabase,
    settings: PlatformSettings,
    start: date,
    end: date,
) -> pl.DataFrame:
    """The stored KPIs of [start, end] beside the same KPIs re-read from the sources (`{kpi}_source`), per store and
    day, with `differs`."""
    stored = warehouse.fetch_frame(
        "SELECT m.dept_id, m.metric_date, m.order_count, m.revenue, m.items_sold, m.production_count, m.shift_count "
        "FROM store_daily_metrics m WHERE m.metric_date BETWEEN %s AND %s",
        (start, end),
        {
            "dept_id": pl.Int64,
            "business_date": pl.Date,
            "order_count": pl.Int64,
            "revenue": pl.Float64,
            "items_sold": pl.Int64,
            "production_count": pl.Int64,
            "shift_count": pl.Int64,
        },
    )
    if stored.is_empty():
        return stored.with_columns(pl.lit(False).alias("differs"))
    scope = _stored_scope(warehouse, settings, start, end)
    keys = ["dept_id", "business_date"]
    sales, items, production, shifts = extracts.fetch_parts_concurrently(
        (
            (sales_order_source, extracts.sales_sql, extracts.SALES_SCHEMA),
            (sales_order_source, extracts.items_sql, extracts.ITEMS_SCHEMA),
            (opproduction_source, extracts.production_sql, extracts.PRODUCTION_SCHEMA),
            (opempefficiency_source, extracts.attendance_sql, extracts.ATTENDANCE_SCHEMA),
        ),
        scope,
    )
    source = (
        stored.select(keys)
        .join(sales.select(*keys, "order_count", "revenue"), on=keys, how="left")
        .join(items, on=keys, how="left")
        .join(production.select(*keys, "production_count"), on=keys, how="left")
        .join(shifts.select(*keys, "shift_count"), on=keys, how="left")
        .fill_null(0)
    )
    differs = (
        ((pl.col("revenue") - pl.col("revenue_source")).abs() > REVENUE_TOLERANCE_USD)
        | (pl.col("order_count") != pl.col("order_count_source"))
        | (pl.col("items_sold") != pl.col("items_sold_source"))
        # a gap day's NULL production or shift counts are the gap check's business
        | (pl.col("production_count").is_not_null() & (pl.col("production_count") != pl.col("production_count_source")))
        | (pl.col("shift_count") != pl.col("shift_count_source"))
    )
    return stored.join(source, on=keys, suffix="_source").with_columns(differs.fill_null(False).alias("differs"))


@_partitioned_check(
    description=(
        f"The warehouse's last {RECENT_DAYS} business dates (ending at the run's last) still match the sources: "
        "per store and day, orders, revenue, items, production orders and shifts re-read from the sources equal "
        "the stored KPIs. A difference means rows arrived or changed after the day was computed. The dates this "
        "run has just written from the sources are not read again (a row arriving since is the source "
        "observations' business: it marks the date stale, and the next run compares it)."
    )
)
def recent_days_match_sources(
    context: AssetCheckExecutionContext,
    warehouse: Warehouse,
    sales_order_source: SourceDatabase,
    opproduction_source: SourceDatabase,
    opempefficiency_source: SourceDatabase,
    settings: PlatformSettings,
) -> AssetCheckResult:
    _, end = _range(context)
    window = [end - timedelta(days=back) for back in range(RECENT_DAYS - 1, -1, -1)]
    # Re-reading the dates this run wrote would compare the sources with what this run read of them minutes ago:
    # in a daily run, 4 of the 14 dates; in a backfill, all of them. Dates it skipped (a late feed) keep rows of
    # an earlier run, and are compared.
    written = dates_written_in_run(context.instance, context.run.run_id, store_daily_metrics.key)
    to_compare = [day for day in window if day not in written]
    parts = [
        _compared_with_sources(
            warehouse, sales_order_source, opproduction_source, opempefficiency_source, settings, first, last
        )
        for first, last in contiguous_ranges(to_compare)
    ]
    compared = pl.concat(parts) if parts else pl.DataFrame(schema={"business_date": pl.Date, "differs": pl.Boolean})
    stale = sorted(set(compared.filter(pl.col("differs"))["business_date"].to_list()))
    return AssetCheckResult(
        passed=not stale,
        metadata={
            "compared_store_days": compared.height,
            "compared_dates": date_ranges_text(to_compare) or "none",
            "stale_dates": date_ranges_text(stale) or "none",
            "to_fix": f"store-anomaly backfill --start {stale[0]} --end {end}" if stale else "",
        },
    )


KPI_CHECKS = [
    no_late_feed,
    no_daily_source_gap,
    recent_days_match_sources,
    unique_store_days,
    no_negative_kpis,
    every_in_scope_store_present,
    revenue_reconciles_with_source,
    excluded_rows_surfaced,
    source_rows_no_partition_can_hold,
]
