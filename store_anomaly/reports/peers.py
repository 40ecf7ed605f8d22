"""Weekly peer comparison: how each store ranks among the in-scope stores, per KPI (pure, no Dagster).

Public API
----------
`compute_peer_comparison(metrics, week_starts_from, week_starts_to) -> pl.DataFrame`
    Weeks start on Monday; both bounds are moved back to their Monday and are inclusive. One row per
    week x store x KPI with a value. Columns: week_start (Date, Monday), shop_no, shop_name, metric_name,
    value (f64), peer_median (f64: median of `value` over all stores with a value that week, the store
    included), peer_count (i64), rank (i64, 1 = best, ties share the best rank), percentile (f64 0-100,
    higher = better: 100 * (peer_count - rank) / (peer_count - 1); null when the store is alone),
    vs_median_pct (f64: 100 * (value / peer_median - 1)), better_when ('higher' | 'lower' | 'n/a'),
    days_in_week (i64: open days the store reported that week).

Weekly value per KPI (open days only):
    sums: revenue, order_count, items_sold, production_count, expired_qty, staff_hours;
    ratios of sums: aov = revenue / order_count, orders_per_labor_hour = order_count / staff_hours
    (days where both are known);
    weighted mean: avg_production_seconds weighted by production_count (plain mean when no counts);
    means: headcount, qc_score (inspections of the week; null when none).

Direction: higher is better except avg_production_seconds and expired_qty (lower is better). staff_hours
and headcount are volumes, neither better: they are ranked largest first and `better_when` is 'n/a'.

Partial weeks (a store that opened mid-week, the first and last week of the range, closed days) are
included; `days_in_week` says how many days the value covers, so a sum over 3 days is not mistaken for a
weak full week.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from store_anomaly.kpis.catalog import KPIS

# Which way is good for each KPI (+1 higher, -1 lower, 0 neither), from the catalog.
KPI_DIRECTION: dict[str, int] = {kpi.column: kpi.direction for kpi in KPIS}

SUM_METRICS = ("revenue", "order_count", "items_sold", "production_count", "expired_qty", "staff_hours")
MEAN_METRICS = ("headcount", "qc_score")

PEER_SCHEMA = {
    "week_start": pl.Date,
    "shop_no": pl.String,
    "shop_name": pl.String,
    "metric_name": pl.String,
    "value": pl.Float64,
    "peer_median": pl.Float64,
    "peer_count": pl.Int64,
    "rank": pl.Int64,
    "percentile": pl.Float64,
    "vs_median_pct": pl.Float64,
    "better_when": pl.String,
    "days_in_week": pl.Int64,
}


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _sum_or_null(column: str) -> pl.Expr:
    return pl.when(pl.col(column).count() > 0).then(pl.col(column).sum())


def _weekly_values(days: pl.DataFrame) -> pl.DataFrame:
    revenue_and_orders = pl.col("revenue").is_not_null() & pl.col("order_count").is_not_null()
    orders = pl.col("order_count").filter(revenue_and_orders).sum()
    orders_and_hours = pl.col("order_count").is_not_null() & pl.col("staff_hours").is_not_null()
    hours = pl.col("staff_hours").filter(orders_and_hours).sum()
    seconds = pl.col("avg_production_seconds").cast(pl.Float64)
    timed = seconds.is_not_null() & pl.col("production_count").is_not_null()
    produced = pl.col("production_count").filter(timed).sum()
    return days.group_by("week_start", "shop_no").agg(
        pl.len().cast(pl.Int64).alias("days_in_week"),
        pl.col("shop_name").drop_nulls().last().alias("shop_name"),
        *[_sum_or_null(metric).cast(pl.Float64).alias(metric) for metric in SUM_METRICS],
        *[pl.col(metric).cast(pl.Float64).mean().alias(metric) for metric in MEAN_METRICS],
        pl.when(orders > 0).then(pl.col("revenue").filter(revenue_and_orders).sum() / orders).alias("aov"),
        pl.when(hours > 0)
        .then(pl.col("order_count").filter(orders_and_hours).sum() / hours)
        .alias("orders_per_labor_hour"),
        pl.when(produced > 0)
        .then((seconds * pl.col("production_count")).filter(timed).sum() / produced)
        .otherwise(seconds.mean())
        .alias("avg_production_seconds"),
    )


def compute_peer_comparison(metrics: pl.DataFrame, week_starts_from: date, week_starts_to: date) -> pl.DataFrame:
    """Weekly value, peer median, rank and percentile per store x KPI; see the module docstring."""
    first, last = monday_of(week_starts_from), monday_of(week_starts_to)
    if first > last:
        raise ValueError(f"week_starts_from ({week_starts_from}) is after week_starts_to ({week_starts_to})")
    days = metrics.with_columns(pl.col("metric_date").dt.truncate("1w").alias("week_start")).filter(
        pl.col("week_start").is_between(first, last) & ~pl.col("is_closed").fill_null(False)
    )
    if days.is_empty():
        return pl.DataFrame(schema=PEER_SCHEMA)
    weekly = _weekly_values(days)
    long = weekly.unpivot(
        index=["week_start", "shop_no", "shop_name", "days_in_week"],
        on=list(KPI_DIRECTION),
        variable_name="metric_name",
        value_name="value",
    ).drop_nulls("value")
    direction = pl.col("metric_name").replace_strict(KPI_DIRECTION, default=0, return_dtype=pl.Int64)
    # a sortable "goodness": lower-is-better KPIs are negated so rank 1 is always the largest goodness
    goodness = pl.when(direction < 0).then(-pl.col("value")).otherwise(pl.col("value"))
    group = ["week_start", "metric_name"]
    ranked = long.with_columns(
        pl.col("value").median().over(group).alias("peer_median"),
        pl.col("value").count().over(group).cast(pl.Int64).alias("peer_count"),
        goodness.rank("min", descending=True).over(group).cast(pl.Int64).alias("rank"),
        pl.when(direction > 0)
        .then(pl.lit("higher"))
        .when(direction < 0)
        .then(pl.lit("lower"))
        .otherwise(pl.lit("n/a"))
        .alias("better_when"),
    ).with_columns(
        pl.when(pl.col("peer_count") > 1)
        .then(100.0 * (pl.col("peer_count") - pl.col("rank")) / (pl.col("peer_count") - 1))
        .alias("percentile"),
        pl.when(pl.col("peer_median") != 0)
        .then(100.0 * (pl.col("value") / pl.col("peer_median") - 1.0))
        .alias("vs_median_pct"),
    )
    return ranked.select(list(PEER_SCHEMA)).cast(PEER_SCHEMA).sort("week_start", "metric_name", "rank", "shop_no")
