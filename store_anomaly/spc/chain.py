"""Chain-relative scoring: the movement the whole chain shares on a day, estimated from the same day's cross-section.

A store's residual on the transformed scale, r = y - expected (a log ratio observed / expected for log-scale KPIs),
mixes what is specific to the store with what every store sees that day: the season, the weather, a city-wide
event. Per metric and day, the chain effect is the median of r over the stores in the cross-section (those with a
baseline that trade that day); subtracting it leaves the store-specific part. A store in the cross-section is
compared with the median of the *other* stores (leave-one-out), so its own anomaly never moves its own
reference; a store outside it (warming up, closed, on a holiday) with the median of all of them.

Only the same day's rows are used (no later day), the median is an order statistic (the same input rows give the
same value whatever the range computed), and nothing is adjusted on a day with fewer than `min_stores` stores in
the cross-section. Vectorised: one group-by over days and one join for any number of residual columns; the
leave-one-out median needs no per-row rank (see `add_chain_effects`).
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
    return add_chain_effects(frame, [(residual, member, out)], min_stores, leave_one_out)


def add_chain_effects(
    frame: pl.DataFrame,
    specs: list[tuple[str, pl.Expr, str]],
    min_stores: int,
    leave_one_out: bool,
    counts: bool = True,
) -> pl.DataFrame:
    """`add_chain_effect` for several (residual, member, out) columns at once: one group-by over days, one join.

    `counts`: also add `{out}_n`. The same as `chain_stats` over the whole frame followed by `apply_chain_stats`.
    """
    values = cross_section_values(frame, specs)
    return apply_chain_stats(frame, chain_stats([values], len(specs)), specs, min_stores, leave_one_out, counts)


def cross_section_values(frame: pl.DataFrame, specs: list[tuple[str, pl.Expr, str]]) -> pl.DataFrame:
    """The narrow frame `chain_stats` needs from one slice of stores: metric_date and, per spec, the residual on
    the rows of the cross-section (null elsewhere)."""
    return frame.select(
        "metric_date",
        *[
            pl.when(member & pl.col(residual).is_not_null()).then(pl.col(residual)).alias(f"_cv{i}")
            for i, (residual, member, _) in enumerate(specs)
        ],
    )


def chain_stats(values: list[pl.DataFrame], count: int) -> pl.DataFrame:
    """Per day and residual column, the size n of the cross-section and its order statistics s[b], s[b+1],
    s[b+2] (b = (n - 2) // 2), from `cross_section_values` of every slice of stores (they may be scored in
    chunks: the day's cross-section is every store's)."""
    aggs: list[pl.Expr] = []
    picks: list[pl.Expr] = []
    for i in range(count):
        name = f"_cv{i}"
        aggs += [
            pl.col(name).drop_nulls().sort().alias(f"{name}_s"),
            pl.col(name).count().cast(pl.Int64).alias(f"{name}_n"),
        ]
        n, s = pl.col(f"{name}_n"), pl.col(f"{name}_s")
        b = ((n - 2) // 2).clip(lower_bound=0)
        picks += [s.list.get(b + k, null_on_oob=True).alias(f"{name}_q{k}") for k in range(3)]
    return (
        pl.concat([v.lazy() for v in values])
        .group_by("metric_date")
        .agg(aggs)
        .select("metric_date", *[pl.col(f"_cv{i}_n") for i in range(count)], *picks)
        .collect()
    )


def apply_chain_stats(
    frame: pl.DataFrame,
    stats: pl.DataFrame,
    specs: list[tuple[str, pl.Expr, str]],
    min_stores: int,
    leave_one_out: bool,
    counts: bool = True,
) -> pl.DataFrame:
    """Add each spec's chain effect `out` (and `{out}_n` with `counts`) to `frame` (any slice of stores) from the
    day's `chain_stats`.

    The leave-one-out median of a member row with value v needs only the order statistics around the day's
    median: with s the day's sorted cross-section (n values), b = (n - 2) // 2 and j = the number of values below v
    (removing any copy of v leaves the same values), the k-th of the remaining values is s[k + (j <= k)], and
    j <= k exactly when s[k] >= v. The medians' ranks k (lo, hi) are b or b + 1, so s[b], s[b+1], s[b+2] suffice.
    """
    frame = frame.with_columns(cross_section_values(frame, specs).drop("metric_date"))
    frame = frame.join(stats, on="metric_date", how="left", maintain_order="left")
    outs = []
    drop = []
    for i, (_, _, out) in enumerate(specs):
        name = f"_cv{i}"
        n = pl.col(f"{name}_n")
        q0, q1, q2 = (pl.col(f"{name}_q{k}") for k in range(3))
        full = pl.when(n % 2 == 0).then((q0 + q1) / 2).otherwise(q1)
        if leave_one_out:
            # n odd: the two middle values of the n - 1 left are ranks b, b + 1; n even: the middle one is rank b
            v = pl.col(name)
            lo = pl.when(q0 >= v).then(q1).otherwise(q0)  # rank b of what is left
            hi = pl.when(q1 >= v).then(q2).otherwise(q1)  # rank b + 1 of what is left
            loo = pl.when(n % 2 == 1).then((lo + hi) / 2).otherwise((lo + lo) / 2)
            effect = pl.when(v.is_not_null()).then(loo).otherwise(full)
        else:
            effect = full
        outs.append(pl.when(n >= min_stores).then(effect).alias(out))
        if counts:
            outs.append(n.fill_null(0).alias(f"{out}_n"))
        drop += [name, f"{name}_n", f"{name}_q0", f"{name}_q1", f"{name}_q2"]
    return frame.with_columns(outs).drop(drop)
