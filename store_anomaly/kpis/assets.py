"""KPI assets: `store_daily_metrics` (the warehouse contract's daily table) and `excluded_source_rows`."""

import polars as pl
from dagster import AssetExecutionContext, AssetIn, Output

from store_anomaly.date_ranges import date_ranges_text
from store_anomaly.holiday_calendar import holiday_frame
from store_anomaly.kpis.catalog import DQ_COUNTERS, DQ_EXCLUDED_TOTAL, KPIS
from store_anomaly.kpis.metrics import build_store_daily_metrics
from store_anomaly.kpis.metrics import (
    excluded_source_rows as compute_excluded_source_rows,
)
from store_anomaly.mysql import table_exists
from store_anomaly.partitions import SKIPPED_DATES_KEY, business_dates, daily_table_asset, require_materialized
from store_anomaly.resources import PlatformSettings, Warehouse
from store_anomaly.settings import CLOSED_DAYS_ENV_VAR
from store_anomaly.sources.feeds import LATE_FEED_REASON, late_feed_dates, silent_holidays, source_gap_dates
from store_anomaly.table_schemas import table_schema

GROUP = "kpis"

STORE_DAILY_METRICS_TABLE = table_schema(
    ("metric_date", "DATE", "store-local business date", False),
    ("shop_no", "VARCHAR(16)", "store number", False),
    ("dept_id", "BIGINT", "department id", False),
    ("shop_name", "VARCHAR(128)", "store name"),
    *((kpi.column, kpi.mysql_type, kpi.description, kpi.nullable) for kpi in KPIS),
    ("is_closed", "BOOLEAN", "the store took no order that day (closure, outage or missing data)", False),
    ("holiday_name", "VARCHAR(128)", "public holiday of the calendar, if any"),
    ("qc_inspections", "BIGINT", "scored inspections", False),
    ("shift_count", "BIGINT", "shifts clocked in", False),
    *((counter.column, "BIGINT", counter.description, False) for counter in (*DQ_COUNTERS, DQ_EXCLUDED_TOTAL)),
    (
        "source_gaps",
        "VARCHAR(64)",
        "daily sources that delivered no row for any store that trading day (their KPIs are NULL), e.g. opproduction",
    ),
)

EXCLUDED_SOURCE_ROWS_TABLE = table_schema(
    ("business_date", "DATE", "business date of the rows", False),
    ("source", "VARCHAR(32)", "source database", False),
    ("dept_id", "BIGINT", "department id of the rows", False),
    ("shop_no", "VARCHAR(16)", "owning store, if the store master knows the department"),
    ("reason", "VARCHAR(32)", "orphan_dept, test_store, not_yet_open, before_open_date, ...", False),
    ("row_count", "BIGINT", "source rows left out of store_daily_metrics", False),
    ("amount", "DECIMAL(16,4)", "their valid revenue (sales source), else 0", False),
)

_SOURCE_INS = {
    "source_opshop_daily": AssetIn(),
    "source_sales_order_daily": AssetIn(),
    "source_opproduction_daily": AssetIn(),
    "source_opqualitycontrol_daily": AssetIn(),
    "source_opempefficiency_daily": AssetIn(),
}
# The source databases themselves (observed per business date): a KPI partition is stale when a source's rows
# for its date changed after it was computed, and the lineage graph names that source.
SOURCE_DATABASES = ["opshop", "sales_order", "opproduction", "opqualitycontrol", "opempefficiency"]


def stored_trading_dates(warehouse: Warehouse, dates: list) -> list:
    """Those of `dates` on which store_daily_metrics already holds a store that took orders, sorted."""
    if not dates:
        return []
    with warehouse.connect() as connection, connection.cursor() as cursor:
        if not table_exists(cursor, "store_daily_metrics"):
            return []
        cursor.execute(
            "SELECT DISTINCT metric_date FROM store_daily_metrics WHERE metric_date BETWEEN %s AND %s "
            "AND order_count > 0",
            (min(dates), max(dates)),
        )
        stored = {row[0] for row in cursor.fetchall()}
    return sorted(stored & set(dates))


def unwritten_dates(
    warehouse: Warehouse, settings: PlatformSettings, scope: pl.DataFrame, sales: pl.DataFrame, holidays: list
) -> tuple[list, list]:
    """The dates the KPI assets do not write: (the late-feed dates of `sources.feeds`, the public holidays without
    a trade that already hold trading rows: a feed that lost them, never replaced by a closure)."""
    late = late_feed_dates(scope, sales, holidays, settings.closed_dates)
    emptied = stored_trading_dates(warehouse, silent_holidays(scope, sales, holidays, settings.closed_dates))
    return late, emptied


def late_feed_skip(
    context: AssetExecutionContext,
    settings: PlatformSettings,
    warehouse: Warehouse,
    scope: pl.DataFrame,
    sales: pl.DataFrame,
    calendar: pl.DataFrame,
) -> list:
    """The run's dates not written (`unwritten_dates`), said in the run's log."""
    late, emptied = unwritten_dates(warehouse, settings, scope, sales, calendar["business_date"].to_list())
    if late:
        context.log.warning(
            f"late feed on {date_ranges_text(late)}: {LATE_FEED_REASON}. Not written (rows already stored for "
            "those dates are kept); the run's other dates are. Re-run once the feed has caught up: "
            f"store-anomaly backfill --start {late[0]} --end {late[-1]}"
        )
    if emptied:
        context.log.warning(
            f"the sales-order source holds no trade on {date_ranges_text(emptied)}, a public holiday, but the "
            "warehouse holds trading rows for it: not written as a closure (the stored rows are kept). Re-run once "
            f"the source holds that day's trades again, or configure the closure in {CLOSED_DAYS_ENV_VAR}."
        )
    return sorted({*late, *emptied})


@daily_table_asset(
    group_name=GROUP,
    partition_expr="metric_date",
    table=STORE_DAILY_METRICS_TABLE,
    primary_key=["metric_date", "shop_no"],
    ins=_SOURCE_INS,
    deps=SOURCE_DATABASES,
)
def store_daily_metrics(
    context: AssetExecutionContext,
    settings: PlatformSettings,
    warehouse: Warehouse,
    source_opshop_daily: pl.DataFrame,
    source_sales_order_daily: pl.DataFrame,
    source_opproduction_daily: pl.DataFrame,
    source_opqualitycontrol_daily: pl.DataFrame,
    source_opempefficiency_daily: pl.DataFrame,
):
    """Daily KPIs per in-scope store, exactly as the source contract defines them, closed days explicit.

    A late feed's dates are not written (a stopped feed is never a closure); a daily source's gap leaves its
    KPIs NULL on those dates."""
    require_materialized(context, *_SOURCE_INS)
    start, end = business_dates(context.partition_time_window)
    calendar = holiday_frame(start, end, settings.holiday_country, settings.holiday_subdivision)
    late = late_feed_skip(context, settings, warehouse, source_opshop_daily, source_sales_order_daily, calendar)
    gaps = {
        "opproduction": source_gap_dates(
            source_opshop_daily, source_sales_order_daily, source_opproduction_daily, "source_rows"
        ),
        "opempefficiency": source_gap_dates(
            source_opshop_daily, source_sales_order_daily, source_opempefficiency_daily, "shift_count"
        ),
    }
    for source, dates in gaps.items():
        if dates:
            context.log.warning(f"{source} delivered no row for any store on {date_ranges_text(dates)}: KPIs NULL")
    metrics = build_store_daily_metrics(
        source_opshop_daily,
        {
            "sales": source_sales_order_daily.drop("source_rows"),
            "production": source_opproduction_daily.drop("source_rows"),
            "attendance": source_opempefficiency_daily,
            "quality": source_opqualitycontrol_daily.drop("source_rows", "expiry_records"),
        },
        calendar,
        gaps,
    ).filter(~pl.col("metric_date").is_in(late))
    # Each partition's own figures (a range run would otherwise stamp the range's totals on every day).
    per_day = metrics.group_by("metric_date").agg(
        stores=pl.col("shop_no").n_unique(),
        closed_store_days=pl.col("is_closed").sum(),
        revenue=pl.col("revenue").sum(),
        orders=pl.col("order_count").sum(),
        excluded_rows=pl.col("dq_excluded_rows").sum(),
    )
    for day in per_day.iter_rows(named=True):
        context.add_asset_metadata(
            {
                "stores": int(day["stores"]),
                "closed_store_days": int(day["closed_store_days"]),
                "revenue": round(float(day["revenue"]), 2),
                "orders": int(day["orders"]),
                "excluded_rows": int(day["excluded_rows"]),
            },
            partition_key=day["metric_date"].isoformat(),
        )
    return Output(
        metrics,
        metadata={
            SKIPPED_DATES_KEY: [day.isoformat() for day in late],
            "late_feed_dates": date_ranges_text(late) or "none",
            "source_gap_dates": {source: date_ranges_text(dates) for source, dates in gaps.items() if dates},
        },
    )


@daily_table_asset(
    group_name=GROUP,
    partition_expr="business_date",
    table=EXCLUDED_SOURCE_ROWS_TABLE,
    primary_key=["business_date", "source", "dept_id"],
    ins=_SOURCE_INS,
    deps=SOURCE_DATABASES,
)
def excluded_source_rows(
    context: AssetExecutionContext,
    settings: PlatformSettings,
    warehouse: Warehouse,
    source_opshop_daily: pl.DataFrame,
    source_sales_order_daily: pl.DataFrame,
    source_opproduction_daily: pl.DataFrame,
    source_opqualitycontrol_daily: pl.DataFrame,
    source_opempefficiency_daily: pl.DataFrame,
):
    """Source rows no in-scope store owns (orphan departments, test kitchens, stores not yet open), counted.

    A late feed's dates are not written, like store_daily_metrics's."""
    require_materialized(context, *_SOURCE_INS)
    start, end = business_dates(context.partition_time_window)
    calendar = holiday_frame(start, end, settings.holiday_country, settings.holiday_subdivision)
    late = late_feed_skip(context, settings, warehouse, source_opshop_daily, source_sales_order_daily, calendar)

    def rows(frame: pl.DataFrame, count: pl.Expr, amount: pl.Expr | None = None) -> pl.DataFrame:
        return frame.select(
            "dept_id", "business_date", row_count=count, amount=amount if amount is not None else pl.lit(0.0)
        )

    excluded = compute_excluded_source_rows(
        source_opshop_daily,
        {
            "sales_order": rows(source_sales_order_daily, pl.col("source_rows"), pl.col("revenue")),
            "opproduction": rows(source_opproduction_daily, pl.col("source_rows")),
            "opqualitycontrol": rows(source_opqualitycontrol_daily, pl.col("source_rows") + pl.col("expiry_records")),
            "opempefficiency": rows(source_opempefficiency_daily, pl.col("shift_count")),
        },
    ).filter(~pl.col("business_date").is_in(late))
    return Output(
        excluded,
        metadata={
            "rows_excluded": int(excluded["row_count"].sum()),
            "by_reason": dict(excluded.group_by("reason").agg(pl.col("row_count").sum()).iter_rows()),
            SKIPPED_DATES_KEY: [day.isoformat() for day in late],
        },
    )


KPI_ASSETS = [store_daily_metrics, excluded_source_rows]
