"""Health scores are a function of the rows, not of the order they come in (pure, no database)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from store_anomaly.reports.health import compute_health_scores
from store_anomaly.spc import SpcConfig, compute_spc
from store_anomaly.spc.simulate import StoreSpec, simulate_stores


def test_the_worst_metric_of_tied_kpis_does_not_depend_on_the_order_of_the_rows():
    config = SpcConfig.default()
    end = date(2025, 12, 31)
    start = end - timedelta(days=20)
    metrics = simulate_stores(
        [StoreSpec(f"US{i:05d}") for i in range(3)], start - timedelta(days=config.lookback_days), end, seed=7
    )
    limits = compute_spc(metrics, start, end, config).limits
    metrics = metrics.filter(pl.col("metric_date") >= start)
    as_given = compute_health_scores(metrics, limits).sort("metric_date", "shop_no")
    reversed_rows = compute_health_scores(metrics.reverse(), limits.reverse()).sort("metric_date", "shop_no")
    ties = as_given.filter(pl.col("worst_metric_score") == 0).height
    assert ties > 0  # days on which several KPIs share the worst score of 0: where the order used to decide
    assert as_given.equals(reversed_rows)
