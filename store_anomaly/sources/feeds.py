"""When a source has not delivered: the source contract's late feed and daily source gap, defined once.

A **late feed** is a business date on which the sales-order source holds no trade for any in-scope store
while the date is neither a public holiday nor a configured closure day (`STORE_ANOMALY_CLOSED_DAYS`): the
feed has stopped, the chain has not closed, so the date is never written as a closure. A **daily source gap**
is a date with trades on which production or attendance holds no row for any in-scope store: those KPIs are
unknown (NULL), not zero. Quality control and expiry logs are sparse by nature and never gaps.

Pure functions over the per-department daily extracts, so the KPI assets (which skip late dates) and the
checks on the stored extracts apply the very same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from store_anomaly.settings import CLOSED_DAYS_ENV_VAR

# Daily sources whose silence on a trading day is a gap, with the KPIs that become unknown.
DAILY_SOURCES: dict[str, tuple[str, ...]] = {
    "opproduction": ("avg_production_seconds", "production_count"),
    "opempefficiency": ("staff_hours", "headcount", "orders_per_labor_hour"),
}
LATE_FEED_REASON = (
    "the sales-order source holds no trade for any in-scope store, and the date is neither a public holiday "
    f"nor a configured closure day ({CLOSED_DAYS_ENV_VAR})"
)


def _in_scope(scope_days: pl.DataFrame) -> pl.DataFrame:
    return scope_days.filter(pl.col("in_scope")).select("business_date", "dept_id").unique()


def _dates_with_rows(scope_days: pl.DataFrame, daily: pl.DataFrame, count_column: str) -> set[date]:
    rows = daily.filter(pl.col(count_column) > 0).select("business_date", "dept_id")
    return set(_in_scope(scope_days).join(rows, on=["business_date", "dept_id"])["business_date"].to_list())


def trading_dates(scope_days: pl.DataFrame, sales_daily: pl.DataFrame) -> set[date]:
    """Dates on which the sales-order source holds at least one trade (any status) of an in-scope store."""
    return _dates_with_rows(scope_days, sales_daily, "source_rows")


def late_feed_dates(
    scope_days: pl.DataFrame, sales_daily: pl.DataFrame, holiday_dates: Iterable[date], closed_days: Iterable[date]
) -> list[date]:
    """The late-feed dates among the scope's dates with an in-scope store, sorted.

    `scope_days` is `source_opshop_daily` (business_date, dept_id, in_scope); `sales_daily` the sales extract
    (business_date, dept_id, source_rows)."""
    dates = set(_in_scope(scope_days)["business_date"].to_list())
    excused = set(holiday_dates) | set(closed_days)
    return sorted(dates - trading_dates(scope_days, sales_daily) - excused)


def silent_holidays(
    scope_days: pl.DataFrame, sales_daily: pl.DataFrame, holiday_dates: Iterable[date], closed_days: Iterable[date]
) -> list[date]:
    """The public holidays (not configured closure days) among the scope's dates with an in-scope store on which
    the sales-order source holds no trade, sorted: written as closures, unless they already hold trading rows (the
    KPI assets check that: the calendar's holidays include days the stores trade on, and an emptied feed on one of
    them never replaces its rows with a closure). A configured closure day is the operators' word: written."""
    dates = set(_in_scope(scope_days)["business_date"].to_list())
    return sorted((dates & set(holiday_dates)) - set(closed_days) - trading_dates(scope_days, sales_daily))


def source_gap_dates(
    scope_days: pl.DataFrame, sales_daily: pl.DataFrame, daily: pl.DataFrame, count_column: str
) -> list[date]:
    """Trading dates on which a daily source (`daily`, counting its rows in `count_column`) holds no row for
    any in-scope store, sorted."""
    return sorted(trading_dates(scope_days, sales_daily) - _dates_with_rows(scope_days, daily, count_column))
