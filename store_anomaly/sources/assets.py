"""Source-extract assets: one per operational database, each a daily aggregate pushed down to the source.

`source_opshop_daily` decides which store is scored on which day (and why not); the four others aggregate
their source per department and store-local business date, orphans included, with the counts of the rows
the source contract excludes.

The store master is read defensively, in SQL: a shop name longer than the contract's 128 characters is cut to
128 (and flagged), a MySQL zero date reads as NULL (and is flagged), a store with two t_shop_dept rows
keeps its first dept_id with the others listed in `other_dept_ids`, whose rows the extracts count under it,
and a shop_no with several t_shop rows (a master without the contract's UNIQUE key, a store registered again)
is read from its row with the highest id (and flagged, `several_shop_rows`).
"""

import polars as pl
from dagster import AssetExecutionContext, AssetIn

from store_anomaly.partitions import business_dates, daily_table_asset, require_materialized
from store_anomaly.resources import PlatformSettings, SourceDatabase
from store_anomaly.sources import extracts
from store_anomaly.sources.extracts import DateScope, fetch_parts
from store_anomaly.sources.scope import dept_aliases, dept_time_zones, store_scope_days
from store_anomaly.table_schemas import table_schema

GROUP = "sources"

SHOP_NAME_LENGTH = 128
_ZERO_DATE = "(MONTH(s.open_date) = 0 OR DAYOFMONTH(s.open_date) = 0)"
SHOPS_SQL = f"""
    SELECT s.shop_no, MIN(d.dept_id), LEFT(s.shop_name, {SHOP_NAME_LENGTH}), s.status, s.shop_type, s.time_zone,
           CASE WHEN {_ZERO_DATE} THEN NULL ELSE s.open_date END,
           NULLIF(SUBSTRING(GROUP_CONCAT(d.dept_id ORDER BY d.dept_id), LENGTH(MIN(d.dept_id)) + 2), ''),
           CHAR_LENGTH(s.shop_name) > {SHOP_NAME_LENGTH},
           COALESCE({_ZERO_DATE}, FALSE),
           EXISTS (SELECT 1 FROM t_shop o WHERE o.shop_no = s.shop_no AND o.id <> s.id)
    FROM t_shop s LEFT JOIN t_shop_dept d ON d.shop_no = s.shop_no
    WHERE NOT EXISTS (SELECT 1 FROM t_shop o WHERE o.shop_no = s.shop_no AND o.id > s.id)
    GROUP BY s.id, s.shop_no, s.shop_name, s.status, s.shop_type, s.time_zone, s.open_date
"""
SHOPS_SCHEMA = {
    "shop_no": pl.String,
    "dept_id": pl.Int64,
    "shop_name": pl.String,
    "status": pl.Int64,
    "shop_type": pl.Int64,
    "time_zone": pl.String,
    "open_date": pl.Date,
    "other_dept_ids": pl.String,
    "shop_name_truncated": pl.Boolean,
    "open_date_zero": pl.Boolean,
    "several_shop_rows": pl.Boolean,
}

_KEY_COLUMNS = (
    ("dept_id", "BIGINT", "department id, the key every source uses", False),
    ("business_date", "DATE", "store-local business date (orphans: default zone)", False),
)


def _counter(name: str, description: str) -> tuple[str, str, str, bool]:
    return (name, "BIGINT", description, False)


def date_scope(start, end, shops: pl.DataFrame, settings: PlatformSettings) -> DateScope:
    """The extracts' scope from store rows (dept_id, time_zone, other_dept_ids) and the settings."""
    return DateScope(
        start,
        end,
        dept_time_zones(shops.select("dept_id", "time_zone").unique()),
        settings.default_time_zone,
        dept_aliases(shops),
        settings.bounds,
    )


def _date_scope(context: AssetExecutionContext, scope_days: pl.DataFrame, settings: PlatformSettings) -> DateScope:
    require_materialized(context, "source_opshop_daily")
    start, end = business_dates(context.partition_time_window)
    return date_scope(start, end, scope_days, settings)


def _source_asset(table, primary_key: list[str], **kwargs):
    return daily_table_asset(
        group_name=GROUP, partition_expr="business_date", table=table, primary_key=primary_key, **kwargs
    )


OPSHOP_SCHEMA = table_schema(
    ("business_date", "DATE", "business date", False),
    ("shop_no", "VARCHAR(16)", "store number, e.g. US00001", False),
    ("dept_id", "BIGINT", "department id (NULL: no t_shop_dept row)"),
    ("shop_name", "VARCHAR(128)", "store name"),
    ("status", "TINYINT", "1 active, 2 not yet open, 3 closed"),
    ("shop_type", "TINYINT", "1 retail store, 9 test kitchen"),
    ("time_zone", "VARCHAR(64)", "IANA zone of the store's business day"),
    ("open_date", "DATE", "opening date (NULL also for a MySQL zero date, see open_date_zero)"),
    ("in_scope", "BOOLEAN", "scored on this date", False),
    ("scope_reason", "VARCHAR(32)", "in_scope, or why the store is not scored", False),
    ("other_dept_ids", "VARCHAR(255)", "further t_shop_dept rows of the store, whose rows count under dept_id"),
    ("shop_name_truncated", "BOOLEAN", f"the source's shop_name was longer than {SHOP_NAME_LENGTH} characters"),
    ("open_date_zero", "BOOLEAN", "the source's open_date was a MySQL zero date, read as NULL"),
    ("several_shop_rows", "BOOLEAN", "the source's t_shop held several rows of this shop_no: the highest id is read"),
)


@_source_asset(OPSHOP_SCHEMA, ["business_date", "shop_no"], deps=["opshop"])
def source_opshop_daily(
    context: AssetExecutionContext, opshop_source: SourceDatabase, settings: PlatformSettings
) -> pl.DataFrame:
    """Every store of the store master for every business date: in scope or the reason it is not."""
    start, end = business_dates(context.partition_time_window)
    shops = opshop_source.fetch_frame(SHOPS_SQL, None, SHOPS_SCHEMA)
    scope = store_scope_days(shops, start, end, settings.excluded_shop_numbers)
    context.add_output_metadata(
        {
            "stores": shops.height,
            "in_scope_store_days": int(scope["in_scope"].sum()),
            "scope_reasons": dict(scope.group_by("scope_reason").len().iter_rows()),
            "shop_names_truncated": int(shops["shop_name_truncated"].sum()),
            "open_dates_zero": int(shops["open_date_zero"].sum()),
            "stores_with_several_depts": int(shops["other_dept_ids"].is_not_null().sum()),
            "stores_with_several_master_rows": int(shops["several_shop_rows"].sum()),
        }
    )
    return scope


SALES_TABLE = table_schema(
    *_KEY_COLUMNS,
    ("revenue", "DECIMAL(16,4)", "SUM(pay_money) of completed trades with pay_money >= 0", False),
    ("order_count", "BIGINT", "count of those trades", False),
    ("items_sold", "BIGINT", "SUM(t_trade_item.quantity) of those trades", False),
    _counter("dq_null_pay_money", "completed trades with NULL pay_money (excluded)"),
    _counter("dq_negative_pay_money", "completed trades with negative pay_money (excluded)"),
    _counter("dq_refunded_trades", "refunded trades (status 2, excluded)"),
    _counter("dq_cancelled_trades", "cancelled trades (status 3, excluded)"),
    _counter("dq_unknown_status_trades", "trades with a status outside 1-3 or NULL (excluded)"),
    _counter("dq_large_pay_money", f"counted trades above ${extracts.LARGE_PAY_MONEY_USD} (kept, suspicious)"),
    _counter("source_rows", "all t_trade rows of the department and day"),
    _counter("dq_implausible_pay_money", "completed trades above the plausibility bound (excluded)"),
    _counter("dq_nonpositive_item_quantity", "items of counted trades with quantity <= 0 or NULL (excluded)"),
)


@_source_asset(
    SALES_TABLE,
    ["business_date", "dept_id"],
    ins={"source_opshop_daily": AssetIn()},
    deps=["sales_order"],
)
def source_sales_order_daily(
    context: AssetExecutionContext,
    sales_order_source: SourceDatabase,
    settings: PlatformSettings,
    source_opshop_daily: pl.DataFrame,
) -> pl.DataFrame:
    """Orders, revenue and items per department and business date, aggregated in the sales database."""
    scope = _date_scope(context, source_opshop_daily, settings)
    sales, items = extracts.fetch_parts_concurrently(
        (
            (sales_order_source, extracts.sales_sql, extracts.SALES_SCHEMA),
            (sales_order_source, extracts.items_sql, extracts.ITEMS_SCHEMA),
        ),
        scope,
    )
    return sales.join(items, on=["dept_id", "business_date"], how="left").with_columns(
        pl.col("items_sold", "dq_nonpositive_item_quantity").fill_null(0)
    )


PRODUCTION_TABLE = table_schema(
    *_KEY_COLUMNS,
    ("production_seconds_sum", "DOUBLE", "SUM(finish_time - start_time) of finished orders, seconds", False),
    ("production_count", "BIGINT", "finished production orders with finish >= start", False),
    _counter("dq_unfinished_production", "production orders with no finish_time (excluded)"),
    _counter("dq_negative_production_duration", "production orders finishing before they start (excluded)"),
    _counter("source_rows", "all t_production_order rows of the department and day"),
    _counter("dq_overlong_production", "production orders longer than the plausibility bound (excluded)"),
)


@_source_asset(
    PRODUCTION_TABLE,
    ["business_date", "dept_id"],
    ins={"source_opshop_daily": AssetIn()},
    deps=["opproduction"],
)
def source_opproduction_daily(
    context: AssetExecutionContext,
    opproduction_source: SourceDatabase,
    settings: PlatformSettings,
    source_opshop_daily: pl.DataFrame,
) -> pl.DataFrame:
    """Drink production durations per department and business date of start_time."""
    scope = _date_scope(context, source_opshop_daily, settings)
    return fetch_parts(opproduction_source, extracts.production_sql, scope, extracts.PRODUCTION_SCHEMA)


QUALITY_TABLE = table_schema(
    *_KEY_COLUMNS,
    ("qc_score", "DOUBLE", "AVG(score) of the day's inspections (NULL: none scored)"),
    ("qc_inspections", "BIGINT", "inspections with a score", False),
    _counter("dq_null_qc_score", "inspections without a score (excluded from qc_score)"),
    ("expired_qty", "BIGINT", "SUM(expired_qty) of expiry records", False),
    _counter("expiry_records", "t_expiry_management rows"),
    _counter("source_rows", "all t_task_form rows of the department and day"),
    _counter("dq_implausible_qc_score", "inspections scored outside the plausible range (excluded from qc_score)"),
    _counter("dq_null_expired_qty", "expiry records with a NULL expired_qty (excluded from expired_qty)"),
)


@_source_asset(
    QUALITY_TABLE,
    ["business_date", "dept_id"],
    ins={"source_opshop_daily": AssetIn()},
    deps=["opqualitycontrol"],
)
def source_opqualitycontrol_daily(
    context: AssetExecutionContext,
    opqualitycontrol_source: SourceDatabase,
    settings: PlatformSettings,
    source_opshop_daily: pl.DataFrame,
) -> pl.DataFrame:
    """Inspection scores and expired quantities per department and business date."""
    scope = _date_scope(context, source_opshop_daily, settings)
    inspections, expiry = extracts.fetch_parts_concurrently(
        (
            (opqualitycontrol_source, extracts.inspections_sql, extracts.INSPECTIONS_SCHEMA),
            (opqualitycontrol_source, extracts.expiry_sql, extracts.EXPIRY_SCHEMA),
        ),
        scope,
    )
    return inspections.join(expiry, on=["dept_id", "business_date"], how="full", coalesce=True).with_columns(
        pl.col(
            "qc_inspections",
            "dq_null_qc_score",
            "dq_implausible_qc_score",
            "expired_qty",
            "expiry_records",
            "source_rows",
            "dq_null_expired_qty",
        ).fill_null(0)
    )


ATTENDANCE_TABLE = table_schema(
    *_KEY_COLUMNS,
    ("staff_hours", "DOUBLE", "SUM(clock_out - clock_in) of closed shifts of 0-16 h, hours", False),
    ("headcount", "BIGINT", "distinct employees who clocked in", False),
    _counter("shift_count", "all shifts clocked in that day"),
    _counter("dq_open_shifts", "shifts with no clock_out (excluded from hours)"),
    _counter("dq_overlong_shifts", "shifts over 16 h (excluded from hours)"),
    _counter("dq_nonpositive_shifts", "shifts of zero or negative length (excluded from hours)"),
    _counter("dq_null_employee_id", "shifts with a NULL employee_id (hours kept, not in headcount)"),
)


@_source_asset(
    ATTENDANCE_TABLE,
    ["business_date", "dept_id"],
    ins={"source_opshop_daily": AssetIn()},
    deps=["opempefficiency"],
)
def source_opempefficiency_daily(
    context: AssetExecutionContext,
    opempefficiency_source: SourceDatabase,
    settings: PlatformSettings,
    source_opshop_daily: pl.DataFrame,
) -> pl.DataFrame:
    """Staff hours and headcount per department and business date of clock_in."""
    scope = _date_scope(context, source_opshop_daily, settings)
    return fetch_parts(opempefficiency_source, extracts.attendance_sql, scope, extracts.ATTENDANCE_SCHEMA)


SOURCE_ASSETS = [
    source_opshop_daily,
    source_sales_order_daily,
    source_opproduction_daily,
    source_opqualitycontrol_daily,
    source_opempefficiency_daily,
]
