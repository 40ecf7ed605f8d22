"""Daily store health score, 0-100 with a grade A-F, from how far each KPI sits from its SPC baseline (pure).

Public API
----------
`HealthConfig` (frozen dataclass, documented defaults below).

`compute_health_scores(metrics, limits, config=HealthConfig(), chunk_stores=CHUNK_STORES) -> pl.DataFrame`
    One row per store x open day of `metrics` (closed days are left out), columns:
    metric_date (Date), shop_no, shop_name, health_score (f64 0-100, 1 decimal, null when no dimension has
    data), grade (A-F, null with health_score), sales_score, operations_score, staffing_score,
    quality_score (f64 0-100 or null), dimensions_scored (i64), missing_dimensions (comma list of
    dimensions without data, null when none), weights_used (the effective weights, e.g.
    "sales=0.53,operations=0.33,staffing=0.13"), worst_metric, worst_metric_score (the lowest metric score
    that day when below 100, else null).

Formula
-------
1. Per metric and day: z = (value - center_line) / sigma with the limits in force that day (`limits`
   joined on metric_date, shop_no, metric_name; sigma null or <= 0 means no score), and the limits'
   `drift_z` (the recent level against the lagged drift reference) where the rule set provides it: the
   worse of the two counts, so a slow slide that the daily centre line follows still lowers the score.
2. Badness, direction-aware (`KPI_DIRECTION`): a KPI where higher is better counts only its drop
   (bad = max(0, -z)); lower-is-better (avg_production_seconds, expired_qty) only its rise
   (bad = max(0, z)); staffing volumes (staff_hours, headcount) both ways (bad = |z|).
3. Metric score = 100 * clip(1 - (bad - z_free) / (z_zero - z_free), 0, 1): full marks within `z_free`
   sigma (1.0) on the bad side, zero at `z_zero` sigma (4.0), linear in between. Where SPC holds an anchored
   reference (`anchor_value`, the level before the change under test, and `recent_level`, the last week's
   weekday-adjusted level), the sustained change against it is scored too, on the bad side: full marks within
   `anchor_free` (5%), zero at `anchor_zero` (40%) worse; the metric scores the lower of the two. The daily z
   and the drift both measure against references that follow a slide; the anchor does not, so a store that
   lost half its sales cannot score A.
4. Dimension score = mean of its metric scores that day (sales: revenue, order_count, aov; operations:
   avg_production_seconds, production_count, expired_qty; staffing: staff_hours, headcount,
   orders_per_labor_hour; quality: qc_score). qc_score is sparse: a day uses the latest inspection score
   within `qc_carry_days` (14) days, scored against the limits of the inspection day.
5. health_score = sum(weight * dimension score) / sum(weight) over the dimensions with a score: a dimension
   without data shares its weight among the others in proportion to their weights; `missing_dimensions`
   and `weights_used` say so. Default weights: sales 0.40, operations 0.25, staffing 0.20, quality 0.15.
6. Grade: A >= 90, B >= 80, C >= 70, D >= 60, F below 60.

`limits` may hold several rule sets: `config.rule_set` picks one; when None the first rule set in sort
order is used for each store x metric x day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from store_anomaly.kpis.catalog import KPIS

# Which way is good for each KPI (+1 higher, -1 lower, 0 neither), from the catalog.
KPI_DIRECTION: dict[str, int] = {kpi.column: kpi.direction for kpi in KPIS}

DEFAULT_DIMENSIONS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("sales", 0.40, ("revenue", "order_count", "aov")),
    ("operations", 0.25, ("avg_production_seconds", "production_count", "expired_qty")),
    ("staffing", 0.20, ("staff_hours", "headcount", "orders_per_labor_hour")),
    ("quality", 0.15, ("qc_score",)),
)

GRADE_CUTOFFS: tuple[tuple[float, str], ...] = ((90.0, "A"), (80.0, "B"), (70.0, "C"), (60.0, "D"))


@dataclass(frozen=True)
class HealthConfig:
    """dimensions: (name, weight, metrics); z_free / z_zero: the metric-score ramp in sigmas; anchor_free /
    anchor_zero: the ramp of the sustained change against the anchored reference (0.05 / 0.40: full marks within
    5% of the level before the change, zero at 40% worse);
    qc_carry_days: how long an inspection score stays valid; sparse_metrics: metrics carried forward that
    way; rule_set: which rule set of `limits` to use (None: first in sort order)."""

    dimensions: tuple[tuple[str, float, tuple[str, ...]], ...] = DEFAULT_DIMENSIONS
    z_free: float = 1.0
    z_zero: float = 4.0
    anchor_free: float = 0.05
    anchor_zero: float = 0.40
    qc_carry_days: int = 14
    sparse_metrics: tuple[str, ...] = ("qc_score",)
    rule_set: str | None = None

    def __post_init__(self) -> None:
        if not self.z_zero > self.z_free >= 0:
            raise ValueError("need z_zero > z_free >= 0")
        if any(weight <= 0 for _, weight, _ in self.dimensions):
            raise ValueError("dimension weights must be positive")


def grade_expr(score: pl.Expr) -> pl.Expr:
    expr = pl.when(score.is_null()).then(pl.lit(None, dtype=pl.String))
    for cutoff, grade in GRADE_CUTOFFS:
        expr = expr.when(score >= cutoff).then(pl.lit(grade))
    return expr.otherwise(pl.lit("F"))


# The control-limit columns the scores read (the asset loads these only); the anchored reference's two may be
# missing from limits written before it existed.
ANCHOR_LIMIT_COLUMNS = ("anchor_value", "recent_level")
HEALTH_LIMIT_COLUMNS = (
    "metric_date",
    "shop_no",
    "metric_name",
    "center_line",
    "sigma",
    "drift_z",
    "rule_set",
    *ANCHOR_LIMIT_COLUMNS,
)


def _limits(limits: pl.DataFrame, config: HealthConfig) -> pl.DataFrame:
    # the anchored reference is read where the limits carry it (limits written before it existed do not)
    frame = limits.select(
        *[c for c in HEALTH_LIMIT_COLUMNS if c not in ANCHOR_LIMIT_COLUMNS],
        *[
            (pl.col(c).cast(pl.Float64) if c in limits.columns else pl.lit(None, pl.Float64)).alias(c)
            for c in ANCHOR_LIMIT_COLUMNS
        ],
    )
    if config.rule_set is not None:
        frame = frame.filter(pl.col("rule_set") == config.rule_set)
    return frame.sort("rule_set").unique(["metric_date", "shop_no", "metric_name"], keep="first")


# Stores scored at a time: every score is a store's own, so the slices never change the result; they bound the
# temporaries (a year of 1,000 stores is 3.6M metric scores joined to as many limits).
CHUNK_STORES = 200


def compute_health_scores(
    metrics: pl.DataFrame,
    limits: pl.DataFrame,
    config: HealthConfig | None = None,
    chunk_stores: int = CHUNK_STORES,
) -> pl.DataFrame:
    """Daily health per store; see the module docstring. `chunk_stores`: stores scored at a time (memory only;
    the result is the same)."""
    config = config or HealthConfig()
    size = max(1, chunk_stores)
    shops = metrics["shop_no"].unique().sort()
    if shops.len() <= size:
        return _health_scores(metrics, limits, config)
    parts = []
    for first in range(0, shops.len(), size):
        chunk = shops.slice(first, size).implode()
        parts.append(
            _health_scores(
                metrics.filter(pl.col("shop_no").is_in(chunk)), limits.filter(pl.col("shop_no").is_in(chunk)), config
            )
        )
    return pl.concat(parts).sort("metric_date", "shop_no")


def _health_scores(metrics: pl.DataFrame, limits: pl.DataFrame, config: HealthConfig) -> pl.DataFrame:
    days = metrics.filter(~pl.col("is_closed").fill_null(False))
    metric_dim = {m: name for name, _, ms in config.dimensions for m in ms}
    base = days.select("metric_date", "shop_no", "shop_name").unique(["metric_date", "shop_no"])
    long = (
        # one value column for integer and decimal KPIs alike
        days.select("metric_date", "shop_no", *[pl.col(m).cast(pl.Float64) for m in metric_dim])
        .unpivot(index=["metric_date", "shop_no"], variable_name="metric_name", value_name="value")
        .drop_nulls("value")
    )
    ramp = config.z_zero - config.z_free
    direction = pl.col("metric_name").replace_strict(KPI_DIRECTION, default=0, return_dtype=pl.Int64)
    # The day's deviation and, where the rule set has one, the sustained drift against the lagged reference:
    # a slow slide moves the daily centre line along with it, so the drift is what keeps it visible.
    daily_z = (pl.col("value") - pl.col("center_line")) / pl.col("sigma")
    drift_z = pl.col("drift_z").fill_null(0.0)
    bad = (
        pl.when(direction > 0)
        .then(pl.max_horizontal(-daily_z, -drift_z, pl.lit(0.0)))
        .when(direction < 0)
        .then(pl.max_horizontal(daily_z, drift_z, pl.lit(0.0)))
        .otherwise(pl.max_horizontal(daily_z.abs(), drift_z.abs()))
    )
    # The sustained change against the anchored reference (the level before the change under test, which does
    # not follow a decline): a store that lost half its sales scores zero on them however settled it looks.
    change = pl.col("recent_level") / pl.col("anchor_value") - 1.0
    anchor_bad = (
        pl.when(pl.col("anchor_value").is_null() | (pl.col("anchor_value") <= 0))
        .then(pl.lit(0.0))
        .when(direction > 0)
        .then(pl.max_horizontal(-change, pl.lit(0.0)))
        .when(direction < 0)
        .then(pl.max_horizontal(change, pl.lit(0.0)))
        .otherwise(change.abs())
    ).fill_null(0.0)
    anchor_ramp = config.anchor_zero - config.anchor_free
    scored = (
        long.join(_limits(limits, config), on=["metric_date", "shop_no", "metric_name"], how="inner")
        .filter(pl.col("sigma") > 0)
        .with_columns(
            (
                100.0
                * pl.min_horizontal(
                    (1.0 - (bad - config.z_free) / ramp).clip(0.0, 1.0),
                    (1.0 - (anchor_bad - config.anchor_free) / anchor_ramp).clip(0.0, 1.0),
                )
            ).alias("metric_score")
        )
        .select("metric_date", "shop_no", "metric_name", "metric_score")
    )
    dense = scored.filter(~pl.col("metric_name").is_in(list(config.sparse_metrics)))
    carried = []
    for metric in config.sparse_metrics:
        if metric not in metric_dim:
            continue
        inspections = (
            scored.filter(pl.col("metric_name") == metric)
            .select("shop_no", pl.col("metric_date").alias("inspected_on"), "metric_score")
            .sort("inspected_on")
        )
        carried.append(
            base.select("metric_date", "shop_no")
            .sort("metric_date")
            .join_asof(
                inspections,
                left_on="metric_date",
                right_on="inspected_on",
                by="shop_no",
                strategy="backward",
                tolerance=timedelta(days=config.qc_carry_days),
                check_sortedness=False,  # both sides are sorted by date above; polars cannot check per group
            )
            .drop_nulls("metric_score")
            .select("metric_date", "shop_no", pl.lit(metric).alias("metric_name"), "metric_score")
        )
    all_scores = pl.concat([dense, *carried]).with_columns(
        pl.col("metric_name").replace_strict(metric_dim, return_dtype=pl.String).alias("dimension")
    )
    names = [name for name, _, _ in config.dimensions]
    weights = {name: weight for name, weight, _ in config.dimensions}
    per_day = all_scores.group_by("metric_date", "shop_no").agg(
        *[pl.col("metric_score").filter(pl.col("dimension") == d).mean().alias(f"{d}_score") for d in names],
        # ties (several KPIs at the same score) go to the first name: the same whatever order the rows came in
        pl.col("metric_name").sort_by("metric_score", "metric_name").first().alias("worst_metric"),
        pl.col("metric_score").min().alias("worst_metric_score"),
    )
    out = base.join(per_day, on=["metric_date", "shop_no"], how="left")
    weight_sum = pl.sum_horizontal([pl.col(f"{d}_score").is_not_null().cast(pl.Float64) * weights[d] for d in names])
    weighted = pl.sum_horizontal([pl.col(f"{d}_score").fill_null(0.0) * weights[d] for d in names])
    out = out.with_columns(
        pl.when(weight_sum > 0).then((weighted / weight_sum).round(1)).alias("health_score"),
        pl.sum_horizontal([pl.col(f"{d}_score").is_not_null().cast(pl.Int64) for d in names]).alias(
            "dimensions_scored"
        ),
        pl.concat_str(
            [pl.when(pl.col(f"{d}_score").is_null()).then(pl.lit(d)) for d in names], separator=",", ignore_nulls=True
        ).alias("missing_dimensions"),
        pl.concat_str(
            [
                pl.when(pl.col(f"{d}_score").is_not_null()).then(
                    pl.lit(f"{d}=") + (weights[d] / weight_sum).round(2).cast(pl.String)
                )
                for d in names
            ],
            separator=",",
            ignore_nulls=True,
        ).alias("weights_used"),
        *[pl.col(f"{d}_score").round(1) for d in names],
    ).with_columns(
        grade_expr(pl.col("health_score")).alias("grade"),
        pl.when(pl.col("missing_dimensions") != "").then(pl.col("missing_dimensions")).alias("missing_dimensions"),
        pl.when(pl.col("weights_used") != "").then(pl.col("weights_used")).alias("weights_used"),
        pl.when(pl.col("worst_metric_score") < 100).then(pl.col("worst_metric")).alias("worst_metric"),
        pl.when(pl.col("worst_metric_score") < 100)
        .then(pl.col("worst_metric_score").round(1))
        .alias("worst_metric_score"),
    )
    return out.select(
        "metric_date",
        "shop_no",
        "shop_name",
        "health_score",
        "grade",
        *[f"{d}_score" for d in names],
        "dimensions_scored",
        "missing_dimensions",
        "weights_used",
        "worst_metric",
        "worst_metric_score",
    ).sort("metric_date", "shop_no")
