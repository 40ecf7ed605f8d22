"""Small builders of `store_daily_metrics` frames for the SPC tests."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from store_anomaly.spc.config import METRICS

INT_METRICS = ("order_count", "items_sold", "production_count", "headcount", "expired_qty")


def frame_from_series(
    shop_no: str,
    start: date,
    values: dict[str, list[float] | np.ndarray],
    closed: list[bool] | None = None,
    holiday: list[str | None] | None = None,
) -> pl.DataFrame:
    """A wide frame for one store; metrics not given are filled with a flat, plausible constant + small noise."""
    n = len(next(iter(values.values())))
    rng = np.random.default_rng(sum(map(ord, shop_no)))
    defaults = {
        "revenue": 3000.0,
        "order_count": 450.0,
        "aov": 6.67,
        "items_sold": 680.0,
        "avg_production_seconds": 190.0,
        "production_count": 440.0,
        "staff_hours": 80.0,
        "headcount": 10.0,
        "orders_per_labor_hour": 5.6,
        "qc_score": 92.0,
        "expired_qty": 3.0,
    }
    cols: dict[str, object] = {
        "metric_date": [start + timedelta(days=i) for i in range(n)],
        "shop_no": [shop_no] * n,
        "dept_id": [1] * n,
        "shop_name": [shop_no] * n,
    }
    for m in METRICS:
        if m in values:
            cols[m] = np.asarray(values[m], dtype=float)
        else:
            base = defaults[m]
            v = base * (1 + rng.normal(0, 0.03, n))
            cols[m] = v
    cols["is_closed"] = closed if closed is not None else [False] * n
    cols["holiday_name"] = holiday if holiday is not None else [None] * n
    df = pl.DataFrame(cols).with_columns(pl.col("metric_date").cast(pl.Date), pl.col("holiday_name").cast(pl.String))
    return df.with_columns(*[pl.col(c).round(0).cast(pl.Int64) for c in INT_METRICS])


def weekly_series(
    n: int,
    base: float,
    sd: float,
    seed: int,
    start: date,
    profile: tuple[float, ...] = (0.95, 0.95, 1.0, 1.0, 1.05, 1.15, 0.9),
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wd = np.array([(start + timedelta(days=i)).weekday() for i in range(n)])
    return base * np.array(profile)[wd] * np.exp(rng.normal(0, sd, n))
