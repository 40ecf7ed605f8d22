"""Hand-built frames for the alert and report tests: a small chain of stores and a toy SPC engine.

The toy engine is only a test double with the shape of the real `store_anomaly_flags` and
`store_spc_control_limits` frames: per store x metric, a weekday center line and one sigma from the first
`baseline_days` days, and three Western Electric rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import polars as pl

from store_anomaly.spc import FLAGS_SCHEMA

SHOPS = tuple(f"US{n:05d}" for n in range(1, 11))
WEEKDAY_FACTOR = (1.0, 0.95, 0.97, 1.0, 1.1, 1.3, 1.2)  # Monday..Sunday

Factor = Callable[[str, date], float]


def make_metrics(
    *,
    start: date = date(2025, 7, 7),
    days: int = 168,
    shops: tuple[str, ...] = SHOPS,
    seed: int = 7,
    traffic: Factor | None = None,
    noise: float = 0.05,
    first_day: dict[str, date] | None = None,
) -> pl.DataFrame:
    """Wide store_daily_metrics. `traffic(shop, day)` multiplies the order count (1.0 = normal)."""
    rng = np.random.default_rng(seed)
    rows = []
    for index, shop in enumerate(shops):
        base_orders = 380 + 25 * index
        for offset in range(days):
            day = start + timedelta(days=offset)
            if first_day and shop in first_day and day < first_day[shop]:
                continue
            factor = traffic(shop, day) if traffic else 1.0
            orders = round(base_orders * WEEKDAY_FACTOR[day.weekday()] * factor * (1 + rng.normal(0, noise)))
            aov = 7.5 * (1 + rng.normal(0, 0.02))
            staff = 60.0 * (1 + rng.normal(0, 0.03))
            production = round(orders * 0.95)
            rows.append(
                {
                    "metric_date": day,
                    "shop_no": shop,
                    "dept_id": 1000 + index,
                    "shop_name": f"Store {index + 1}",
                    "revenue": orders * aov,
                    "order_count": orders,
                    "aov": aov,
                    "items_sold": round(orders * 1.6),
                    "avg_production_seconds": 180.0 * (1 + rng.normal(0, 0.03)),
                    "production_count": production,
                    "staff_hours": staff,
                    "headcount": int(8 + rng.integers(-1, 2)),
                    "orders_per_labor_hour": orders / staff,
                    "qc_score": float(92 + rng.normal(0, 2)) if offset % 10 == 0 else None,
                    "expired_qty": int(rng.poisson(3)),
                    "is_closed": False,
                    "holiday_name": None,
                    "dq_null_pay_money": 0,
                }
            )
    return pl.DataFrame(rows).with_columns(pl.col("holiday_name").cast(pl.String))


FLAG_METRICS = (
    "revenue",
    "order_count",
    "items_sold",
    "aov",
    "avg_production_seconds",
    "production_count",
    "staff_hours",
    "orders_per_labor_hour",
)


def make_limits_and_flags(
    metrics: pl.DataFrame, *, baseline_days: int = 56, metrics_to_flag: tuple[str, ...] = FLAG_METRICS
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(limits, flags) from a fixed baseline: the first `baseline_days` days of each store."""
    long = (
        metrics.select("shop_no", "metric_date", *[pl.col(m).cast(pl.Float64) for m in metrics_to_flag])
        .unpivot(index=["shop_no", "metric_date"], variable_name="metric_name", value_name="value")
        .with_columns(pl.col("metric_date").dt.weekday().alias("weekday"))
        .with_columns(
            (pl.col("metric_date") - pl.col("metric_date").min().over("shop_no")).dt.total_days().alias("age")
        )
    )
    base = long.filter(pl.col("age") < baseline_days)
    centers = base.group_by("shop_no", "metric_name", "weekday").agg(pl.col("value").mean().alias("center_line"))
    sigmas = (
        base.join(centers, on=["shop_no", "metric_name", "weekday"])
        .group_by("shop_no", "metric_name")
        .agg((pl.col("value") - pl.col("center_line")).std().alias("sigma"))
    )
    scored = (
        long.filter(pl.col("age") >= baseline_days)
        .join(centers, on=["shop_no", "metric_name", "weekday"])
        .join(sigmas, on=["shop_no", "metric_name"])
        .with_columns(((pl.col("value") - pl.col("center_line")) / pl.col("sigma")).alias("z_score"))
        .sort("shop_no", "metric_name", "metric_date")
    )
    limits = scored.select(
        "metric_date",
        "shop_no",
        "metric_name",
        "center_line",
        "sigma",
        (pl.col("center_line") + 3 * pl.col("sigma")).alias("ucl"),
        (pl.col("center_line") - 3 * pl.col("sigma")).alias("lcl"),
        pl.lit(baseline_days).alias("baseline_days"),
        pl.lit("toy").alias("rule_set"),
    )
    over = ("shop_no", "metric_name")
    z = pl.col("z_score")
    rules = scored.with_columns(
        (z.abs() > 3).alias("beyond_3_sigma"),
        (
            ((z > 2).cast(pl.Int32).rolling_sum(3).over(over) >= 2) & (z > 0)
            | ((z < -2).cast(pl.Int32).rolling_sum(3).over(over) >= 2) & (z < 0)
        ).alias("two_of_three_beyond_2_sigma"),
        (
            ((z > 1).cast(pl.Int32).rolling_sum(5).over(over) >= 4) & (z > 0)
            | ((z < -1).cast(pl.Int32).rolling_sum(5).over(over) >= 4) & (z < 0)
        ).alias("four_of_five_beyond_1_sigma"),
    )
    severity = {"beyond_3_sigma": "CRITICAL", "two_of_three_beyond_2_sigma": "WARNING"}
    frames = []
    for rule in ("beyond_3_sigma", "two_of_three_beyond_2_sigma", "four_of_five_beyond_1_sigma"):
        frames.append(
            rules.filter(pl.col(rule).fill_null(False)).select(
                "metric_date",
                "shop_no",
                "metric_name",
                pl.lit(rule).alias("rule"),
                pl.col("value").alias("observed_value"),
                pl.col("center_line").alias("expected_value"),
                "z_score",
                pl.lit(severity.get(rule, "WARNING")).alias("severity"),
                pl.when(z > 0).then(pl.lit("up")).otherwise(pl.lit("down")).alias("direction"),
                pl.lit("toy").alias("rule_set"),
                pl.lit("").alias("detail"),
            )
        )
    return limits, pl.concat(frames).sort("metric_date", "shop_no", "metric_name", "rule")


def flag(
    day: date,
    shop: str,
    metric: str = "revenue",
    *,
    severity: str = "WARNING",
    direction: str = "down",
    rule: str = "beyond_2_sigma",
    z: float | None = None,
    observed: float = 3000.0,
    expected: float = 3700.0,
) -> dict:
    """One hand-written flag row."""
    if z is None:
        z = {"INFO": 1.5, "WARNING": 2.5, "CRITICAL": 3.5}[severity] * (-1 if direction == "down" else 1)
    return {
        "metric_date": day,
        "shop_no": shop,
        "metric_name": metric,
        "rule": rule,
        "observed_value": observed,
        "expected_value": expected,
        "z_score": z,
        "severity": severity,
        "direction": direction,
        "rule_set": "test",
        "detail": "",
    }


def flags_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FLAGS_SCHEMA)


def slide(shop: str, begins: date, depth: float = 0.25, ramp_days: int = 35) -> Factor:
    """A traffic slide at `shop`: 1.0 until `begins`, then a linear fall to 1 - depth over `ramp_days`."""

    def factor(s: str, day: date) -> float:
        if s != shop or day < begins:
            return 1.0
        return 1.0 - depth * min(1.0, (day - begins).days / ramp_days)

    return factor
