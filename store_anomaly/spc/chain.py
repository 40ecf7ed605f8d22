"""Chain-relative scoring: the movement the whole chain shares on a day, estimated from the same day's cross-section.

A store's residual on the transformed scale, r = y - expected (a log ratio observed / expected for log-scale KPIs),
mixes what is specific to the store with what every store sees that day: the season, the weather, a city-wide
event. Per metric and day, the chain effect is the median of r over the stores in the cross-section (those with a
baseline that trade that day); subtracting it leaves the store-specific part. A store in the cross-section is
compared with the median of the *other* stores (leave-one-out), so its own anomaly never moves its own
reference; a store outside it (warming up, closed, on a holiday) with the median of all of them.

Only the same day's rows are used (no later day), the median is an order statistic (the same input rows give the
same value whatever the range computed), and nothing is adjusted on a day with fewer than `min_stores` stores in
the cross-section. Vectorised: one group-by over days and one join per call.
"""

from __future__ import annotations

import polars as pl


def add_chain_effect(
    frame: pl.DataFrame,
    residual: str,
    member: pl.Expr,
    min_stores: int,
    leave_one_out: bool,
    out: str,
) -> pl.DataFrame:
    """Add `out` (the chain effect to subtract from `residual`; null when fewer than `min_stores` stores are in the
    day's cross-section) and `{out}_n` (stores in the cross-section that day, 0 when none).

    `frame` holds one row per store and day (column ``metric_date``); `member` says which rows form the
    cross-section (rows with a null `residual` never do). The row order of `frame` is kept.
    """
    v = pl.when(member & pl.col(residual).is_not_null()).then(pl.col(residual))
    frame = frame.with_columns(v.alias("_cv"))
    # the three order statistics around the median that the full and the leave-one-out medians can need:
    # s[b], s[b+1], s[b+2] with b = (n - 2) // 2 (0-based ranks of the sorted cross-section)
    stats = (
        frame.lazy()
        .filter(pl.col("_cv").is_not_null())
        .group_by("metric_date")
        .agg(pl.col("_cv").sort().alias("_cs"), pl.len().cast(pl.Int64).alias("_cn"))
        .with_columns(((pl.col("_cn") - 2) // 2).clip(lower_bound=0).alias("_cb"))
        .with_columns(*[pl.col("_cs").list.get(pl.col("_cb") + i, null_on_oob=True).alias(f"_cq{i}") for i in range(3)])
        .drop("_cs")
        .collect()
    )
    frame = frame.join(stats, on="metric_date", how="left", maintain_order="left")
    n, b = pl.col("_cn"), pl.col("_cb")
    full = pl.when(n % 2 == 0).then((pl.col("_cq0") + pl.col("_cq1")) / 2).otherwise(pl.col("_cq1"))
    if leave_one_out:
        # rank j (0-based) of the row in the day's sorted cross-section; ties give the same remaining values
        j = (pl.col("_cv").rank("ordinal").over("metric_date") - 1).cast(pl.Int64)
        m = n - 1  # values left once the row is removed; their median is (a[lo] + a[hi]) / 2
        lo, hi = (m - 1) // 2, m // 2

        def pick(k: pl.Expr) -> pl.Expr:  # a[k] = s[k + (k >= j)], one of s[b..b+2]
            idx = k + (k >= j).cast(pl.Int64) - b
            return pl.when(idx == 0).then(pl.col("_cq0")).when(idx == 1).then(pl.col("_cq1")).otherwise(pl.col("_cq2"))

        effect = pl.when(pl.col("_cv").is_not_null()).then((pick(lo) + pick(hi)) / 2).otherwise(full)
    else:
        effect = full
    frame = frame.with_columns(
        pl.when(n >= min_stores).then(effect).alias(out),
        n.fill_null(0).alias(f"{out}_n"),
    )
    return frame.drop("_cv", "_cn", "_cb", "_cq0", "_cq1", "_cq2")
