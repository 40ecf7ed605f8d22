"""Per-group window statistics on frames sorted by group, as plain column operations (no group-by).

The default rule set's frames hold one row per store, baseline epoch and day, sorted by (sid, epoch_start,
metric_date) on a complete calendar: each group (`GROUP`) is a contiguous run of consecutive days. On such a
frame a per-group shift is a plain shift masked by the row's index within its group (`GROUP_INDEX`, see
`add_group_index`), and a per-group window sum is the difference of two such shifts of a per-group running sum.
Sums are of integers (the callers quantise first), so they are exact: the same values as the group-wise
`rolling_sum(...).over(GROUP)` they replace, at a fraction of the cost (a group-by per expression is what the
scoring spent most of its time on). The same weekday's rows are every 7th row of a group, so a window over a
store's same-weekday values is a sum of shifts by multiples of 7.
"""

from __future__ import annotations

import polars as pl

GROUP = ["sid", "epoch_start"]
# a row's index within its group (0 on the group's first row)
GROUP_INDEX = "_i"
# rows of a slice the running sums allow: |value| <= 2^40 per row (the callers' clip), so a running sum over the
# whole slice stays inside int64
MAX_SLICE_ROWS = 2**22


def group_index(group: list[str] = GROUP) -> pl.Expr:
    """The row's index within its group, on a frame sorted by `group` (each group's rows contiguous)."""
    first = pl.any_horizontal(*[pl.col(c) != pl.col(c).shift(1) for c in group]).fill_null(True)
    position = pl.int_range(pl.len(), dtype=pl.Int64)
    return position - pl.when(first).then(position).forward_fill()


def add_group_index(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with `GROUP_INDEX` (re)computed: taken again after every cut of rows, since it counts the rows kept."""
    if df.height > MAX_SLICE_ROWS:
        raise ValueError(f"{df.height} rows in one slice: score fewer stores at a time (at most {MAX_SLICE_ROWS})")
    return df.with_columns(group_index().alias(GROUP_INDEX))


def lag(values: pl.Expr, rows: int) -> pl.Expr:
    """`values` `rows` rows back in the same group (null before the group's first row): `shift(rows).over(GROUP)`."""
    if rows == 0:
        return values
    return pl.when(pl.col(GROUP_INDEX) >= rows).then(values.shift(rows))


def running_sum(values: pl.Expr) -> pl.Expr:
    """Per-group running sum (today included) of integer `values` without nulls: `cum_sum().over(GROUP)`."""
    total = values.cum_sum()
    return total - pl.when(pl.col(GROUP_INDEX) == 0).then(total - values).forward_fill()


def window_sum(running: str, window: int, offset: int = 0) -> pl.Expr:
    """Sum over the `window` rows ending `offset` rows back (clipped at the group's first row), from the column
    `running` (a `running_sum`): `values.shift(offset).fill_null(0).rolling_sum(window, min_samples=1)` per group."""

    def upto(rows: int) -> pl.Expr:  # the running sum `rows` rows back, 0 before the group's first row
        return pl.col(running) if rows == 0 else lag(pl.col(running), rows).fill_null(0)

    return upto(offset) - upto(offset + window)


def weekday_sum(values: str, weeks: int) -> pl.Expr:
    """Sum of the column `values` (integers without nulls) on the same weekday over the `weeks` weeks before the
    row, within the group: `values.shift(1).rolling_sum(weeks, min_samples=1)` over the group's same-weekday rows,
    on a complete calendar."""
    return pl.sum_horizontal(*[lag(pl.col(values), 7 * k).fill_null(0) for k in range(1, weeks + 1)])
