"""Aggregation queries pushed down to the sources: raw rows never leave a source database.

Every query groups one source's rows by department and store-local business date (see `local_time`) and
counts, beside each KPI input, the rows the source contract excludes, so nothing is dropped silently. Rows
of every department are returned, orphans included: the scope decision is made later, against the store
master, where it can be counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from store_anomaly.sources.local_time import local_date_sql, utc_window

# A completed trade above this amount is kept (the contract counts it) but flagged as suspicious.
LARGE_PAY_MONEY_USD = 1_000
# Shifts longer than this are excluded from staff hours (source contract).
MAX_SHIFT_HOURS = 16


@dataclass(frozen=True)
class DateScope:
    """What every extract needs: the business dates and each department's time zone."""

    start: date
    end: date
    dept_time_zones: dict[int, str]
    default_time_zone: str

    def local_date(self, timestamp_sql: str, dept_sql: str = "dept_id") -> str:
        utc_from, utc_to = utc_window(self.start, self.end)
        return local_date_sql(timestamp_sql, dept_sql, self.dept_time_zones, self.default_time_zone, utc_from, utc_to)

    def params(self) -> list:
        """Parameters of `window_sql`: the UTC bounds of the rows to scan, then the business-date bounds."""
        utc_from, utc_to = utc_window(self.start, self.end)
        return [utc_from, utc_to, self.start, self.end]


def _grouped(select: str, table: str, timestamp: str, scope: DateScope, join: str = "") -> str:
    """SELECT ... grouped by department and business date, scanning only the UTC window (index on time)."""
    return (
        f"SELECT t.dept_id, {scope.local_date('t.' + timestamp, 't.dept_id')} AS business_date, {select} "
        f"FROM {table} t {join} WHERE t.{timestamp} >= %s AND t.{timestamp} < %s "
        "GROUP BY t.dept_id, business_date HAVING business_date BETWEEN %s AND %s"
    )


VALID_TRADE = "(t.trade_status = 1 AND t.pay_money IS NOT NULL AND t.pay_money >= 0)"

SALES_SCHEMA = {
    "dept_id": pl.Int64,
    "business_date": pl.Date,
    "revenue": pl.Float64,
    "order_count": pl.Int64,
    "dq_null_pay_money": pl.Int64,
    "dq_negative_pay_money": pl.Int64,
    "dq_refunded_trades": pl.Int64,
    "dq_cancelled_trades": pl.Int64,
    "dq_unknown_status_trades": pl.Int64,
    "dq_large_pay_money": pl.Int64,
    "source_rows": pl.Int64,
}


def sales_sql(scope: DateScope) -> str:
    return _grouped(
        f"""SUM(CASE WHEN {VALID_TRADE} THEN t.pay_money ELSE 0 END),
            SUM({VALID_TRADE}),
            SUM(t.trade_status = 1 AND t.pay_money IS NULL),
            SUM(t.trade_status = 1 AND t.pay_money < 0),
            SUM(t.trade_status = 2),
            SUM(t.trade_status = 3),
            SUM(t.trade_status NOT IN (1, 2, 3)),
            SUM({VALID_TRADE} AND t.pay_money > {LARGE_PAY_MONEY_USD}),
            COUNT(*)""",
        "t_trade",
        "create_time",
        scope,
    )


ITEMS_SCHEMA = {"dept_id": pl.Int64, "business_date": pl.Date, "items_sold": pl.Int64}


def items_sql(scope: DateScope) -> str:
    return _grouped(
        "SUM(i.quantity)", "t_trade", "create_time", scope, join="JOIN t_trade_item i ON i.trade_id = t.id"
    ).replace("WHERE t.create_time", f"WHERE {VALID_TRADE} AND t.create_time")


PRODUCTION_SCHEMA = {
    "dept_id": pl.Int64,
    "business_date": pl.Date,
    "production_seconds_sum": pl.Float64,
    "production_count": pl.Int64,
    "dq_unfinished_production": pl.Int64,
    "dq_negative_production_duration": pl.Int64,
    "source_rows": pl.Int64,
}

_VALID_PRODUCTION = "(t.finish_time IS NOT NULL AND t.finish_time >= t.start_time)"


def production_sql(scope: DateScope) -> str:
    return _grouped(
        f"""SUM(CASE WHEN {_VALID_PRODUCTION} THEN TIMESTAMPDIFF(SECOND, t.start_time, t.finish_time) ELSE 0 END),
            SUM({_VALID_PRODUCTION}),
            SUM(t.finish_time IS NULL),
            SUM(t.finish_time < t.start_time),
            COUNT(*)""",
        "t_production_order",
        "start_time",
        scope,
    )


ATTENDANCE_SCHEMA = {
    "dept_id": pl.Int64,
    "business_date": pl.Date,
    "staff_hours": pl.Float64,
    "headcount": pl.Int64,
    "shift_count": pl.Int64,
    "dq_open_shifts": pl.Int64,
    "dq_overlong_shifts": pl.Int64,
    "dq_nonpositive_shifts": pl.Int64,
}

_SHIFT_SECONDS = "TIMESTAMPDIFF(SECOND, t.clock_in, t.clock_out)"
_VALID_SHIFT = f"(t.clock_out IS NOT NULL AND {_SHIFT_SECONDS} > 0 AND {_SHIFT_SECONDS} <= {MAX_SHIFT_HOURS * 3600})"


def attendance_sql(scope: DateScope) -> str:
    # headcount counts everyone who clocked in that day, open shifts included: they were at work.
    return _grouped(
        f"""SUM(CASE WHEN {_VALID_SHIFT} THEN {_SHIFT_SECONDS} ELSE 0 END) / 3600,
            COUNT(DISTINCT t.employee_id),
            COUNT(*),
            SUM(t.clock_out IS NULL),
            SUM(t.clock_out IS NOT NULL AND {_SHIFT_SECONDS} > {MAX_SHIFT_HOURS * 3600}),
            SUM(t.clock_out IS NOT NULL AND {_SHIFT_SECONDS} <= 0)""",
        "t_attendance",
        "clock_in",
        scope,
    )


INSPECTIONS_SCHEMA = {
    "dept_id": pl.Int64,
    "business_date": pl.Date,
    "qc_score": pl.Float64,
    "qc_inspections": pl.Int64,
    "dq_null_qc_score": pl.Int64,
    "source_rows": pl.Int64,
}


def inspections_sql(scope: DateScope) -> str:
    return _grouped("AVG(t.score), COUNT(t.score), SUM(t.score IS NULL), COUNT(*)", "t_task_form", "task_time", scope)


EXPIRY_SCHEMA = {"dept_id": pl.Int64, "business_date": pl.Date, "expired_qty": pl.Int64, "expiry_records": pl.Int64}


def expiry_sql(scope: DateScope) -> str:
    return _grouped("SUM(t.expired_qty), COUNT(*)", "t_expiry_management", "record_time", scope)


def source_row_totals_sql(table: str, timestamp: str, condition: str, scope: DateScope, value: str = "0") -> str:
    """Totals of `value` and of rows over the window, per department: the independent side of reconciliation."""
    return (
        f"SELECT t.dept_id, COALESCE(SUM({value}), 0), COUNT(*) FROM {table} t "
        f"WHERE {condition} AND t.{timestamp} >= %s AND t.{timestamp} < %s "
        f"AND {scope.local_date('t.' + timestamp, 't.dept_id')} BETWEEN %s AND %s GROUP BY t.dept_id"
    )
