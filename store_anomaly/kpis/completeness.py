"""Which business dates a computation needs: a store's first in-scope day, and the dates missing before it.

An asset that reads earlier days (the SPC lookback) must not compute from a window with holes: a missing day
would silently shrink or shift its baselines. Days before a store's first in-scope day are not missing: the
store did not trade yet. A store's first in-scope day is the later of its `open_date` and its first trade in
the sales-order source (in its own time zone), so history the sources never held is never asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import polars as pl


def first_in_scope_days(stores: pl.DataFrame, first_trades: pl.DataFrame) -> pl.DataFrame:
    """shop_no, first_day for stores with a trade.

    `stores`: shop_no, dept_id, time_zone, open_date of the in-scope stores; `first_trades`: dept_id,
    first_trade (naive UTC datetime of the department's first t_trade row)."""
    if stores.is_empty() or first_trades.is_empty():
        return pl.DataFrame(schema={"shop_no": pl.String, "first_day": pl.Date})
    joined = stores.unique(["shop_no", "dept_id"]).join(first_trades, on="dept_id")
    local_days = [
        group.with_columns(
            first_trade_day=pl.col("first_trade").dt.replace_time_zone("UTC").dt.convert_time_zone(zone).dt.date()
        ).drop("first_trade")
        for (zone,), group in joined.group_by("time_zone")
    ]
    return (
        pl.concat(local_days)
        .group_by("shop_no")
        .agg(first_trade_day=pl.col("first_trade_day").min(), open_date=pl.col("open_date").max())
        .select("shop_no", first_day=pl.max_horizontal("first_trade_day", "open_date"))
        .sort("shop_no")
    )


def missing_dates(present: Iterable[date], first_days: pl.DataFrame, start: date, end: date) -> list[date]:
    """Dates of [start, end], from the first store's first in-scope day on, with no stored row, sorted."""
    if first_days.is_empty():
        return []
    first = max(start, first_days["first_day"].min())
    if first > end:
        return []
    wanted = {first + timedelta(days=offset) for offset in range((end - first).days + 1)}
    return sorted(wanted - set(present))
