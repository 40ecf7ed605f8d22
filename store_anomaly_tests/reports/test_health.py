"""Store health score: direction-aware metric scores, dimension weights, redistribution, grades."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from store_anomaly.reports import HealthConfig, compute_health_scores
from store_anomaly.reports.health import grade_expr

D = date(2025, 10, 1)
KPIS = (
    "revenue",
    "order_count",
    "aov",
    "items_sold",
    "avg_production_seconds",
    "production_count",
    "staff_hours",
    "headcount",
    "orders_per_labor_hour",
    "qc_score",
    "expired_qty",
)


def _row(day: date, shop: str = "US00001", **values) -> dict:
    row = {"metric_date": day, "shop_no": shop, "shop_name": "Flagship", "is_closed": False}
    row.update({k: 100.0 for k in KPIS if k != "qc_score"})
    row["qc_score"] = None
    row.update(values)
    return row


def _frames(rows: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    metrics = pl.DataFrame(rows, schema_overrides={k: pl.Float64 for k in KPIS})
    limits = (
        metrics.select("metric_date", "shop_no")
        .join(pl.DataFrame({"metric_name": list(KPIS)}), how="cross")
        .with_columns(
            pl.lit(100.0).alias("center_line"),
            pl.lit(10.0).alias("sigma"),
            pl.lit(None, dtype=pl.Float64).alias("drift_z"),
            pl.lit("default").alias("rule_set"),
        )
    )
    return metrics, limits


def _by_day(scores: pl.DataFrame, shop: str = "US00001") -> dict[date, dict]:
    return {r["metric_date"]: r for r in scores.filter(pl.col("shop_no") == shop).iter_rows(named=True)}


def test_perfect_day_scores_100_and_grade_a():
    metrics, limits = _frames([_row(D, qc_score=100.0)])
    row = compute_health_scores(metrics, limits).row(0, named=True)
    assert row["health_score"] == 100.0 and row["grade"] == "A"
    assert row["missing_dimensions"] is None and row["dimensions_scored"] == 4
    assert row["weights_used"] == "sales=0.4,operations=0.25,staffing=0.2,quality=0.15"
    assert row["worst_metric"] is None


def test_direction_aware_scores_and_weighted_health():
    metrics, limits = _frames(
        [
            _row(D, qc_score=100.0),
            # revenue 2.5 sigma low (bad), production time 2.5 sigma FAST (fine), staff hours 2.5 sigma high (bad:
            # staffing is two-sided), expired 4 sigma high (bad, zero), aov 2.5 sigma high (fine)
            _row(
                D + timedelta(1),
                revenue=75.0,
                aov=125.0,
                avg_production_seconds=75.0,
                staff_hours=125.0,
                expired_qty=140.0,
            ),
        ]
    )
    row = _by_day(compute_health_scores(metrics, limits))[D + timedelta(1)]
    assert row["sales_score"] == pytest.approx((50 + 100 + 100) / 3, abs=0.05)
    assert row["operations_score"] == pytest.approx((100 + 100 + 0) / 3, abs=0.05)
    assert row["staffing_score"] == pytest.approx((50 + 100 + 100) / 3, abs=0.05)
    assert row["quality_score"] == 100.0  # yesterday's inspection still counts
    expected = 0.40 * 250 / 3 + 0.25 * 200 / 3 + 0.20 * 250 / 3 + 0.15 * 100
    assert row["health_score"] == pytest.approx(expected, abs=0.06)
    assert row["grade"] == "B"
    assert (row["worst_metric"], row["worst_metric_score"]) == ("expired_qty", 0.0)


def test_production_time_rise_is_bad_and_revenue_rise_is_not():
    metrics, limits = _frames([_row(D, revenue=140.0, avg_production_seconds=140.0)])
    row = compute_health_scores(metrics, limits).row(0, named=True)
    assert row["sales_score"] == 100.0
    assert row["operations_score"] == pytest.approx(200 / 3, abs=0.05)


def test_missing_dimension_shares_its_weight_and_says_so():
    metrics, limits = _frames([_row(D, staff_hours=None, headcount=None, orders_per_labor_hour=None, revenue=60.0)])
    row = compute_health_scores(metrics, limits).row(0, named=True)
    assert row["staffing_score"] is None and row["quality_score"] is None
    assert row["missing_dimensions"] == "staffing,quality"
    assert row["weights_used"] == "sales=0.62,operations=0.38"
    sales = (0 + 100 + 100) / 3  # revenue 4 sigma low scores 0
    assert row["health_score"] == pytest.approx((0.40 * sales + 0.25 * 100) / 0.65, abs=0.06)
    assert row["dimensions_scored"] == 2


def test_sparse_qc_is_carried_for_14_days_only():
    rows = [_row(D, qc_score=80.0)] + [_row(D + timedelta(i)) for i in range(1, 17)]
    metrics, limits = _frames(rows)
    days = _by_day(compute_health_scores(metrics, limits))
    assert days[D]["quality_score"] == 66.7  # z -2: 100 * (1 - (2 - 1) / (4 - 1))
    assert days[D + timedelta(14)]["quality_score"] == days[D]["quality_score"]
    assert days[D + timedelta(15)]["quality_score"] is None
    assert days[D + timedelta(15)]["missing_dimensions"] == "quality"


def test_no_limits_closed_days_and_other_rule_sets():
    metrics, limits = _frames([_row(D), _row(D + timedelta(1), is_closed=True)])
    other = limits.with_columns(pl.lit(0.0).alias("center_line"), pl.lit("other").alias("rule_set"))
    scores = compute_health_scores(metrics, pl.concat([limits, other]), HealthConfig(rule_set="default"))
    assert scores["metric_date"].to_list() == [D]  # the closed day is left out
    assert scores["health_score"].to_list() == [100.0]
    empty = compute_health_scores(metrics, limits.head(0))
    row = empty.row(0, named=True)
    assert row["health_score"] is None and row["grade"] is None
    assert row["missing_dimensions"] == "sales,operations,staffing,quality"


def test_grade_cutoffs():
    scores = pl.DataFrame({"s": [100.0, 90.0, 89.9, 80.0, 70.0, 60.0, 59.9, 0.0, None]})
    grades = scores.select(grade_expr(pl.col("s")).alias("g"))["g"].to_list()
    assert grades == ["A", "A", "B", "B", "C", "D", "F", "F", None]


def test_bad_config():
    with pytest.raises(ValueError):
        HealthConfig(z_free=3.0, z_zero=2.0)


def test_a_store_that_lost_half_its_sales_cannot_score_a():
    """The centre lines have followed the slide (every value sits on its centre line, z = 0), but the anchored
    reference holds the level before it: revenue, orders, drinks produced and orders per labour hour at half."""
    metrics, limits = _frames([_row(D, qc_score=100.0)])
    fallen = ("revenue", "order_count", "production_count", "orders_per_labor_hour")
    anchored = limits.with_columns(
        pl.when(pl.col("metric_name").is_in(fallen)).then(pl.lit(200.0)).alias("anchor_value"),
        pl.when(pl.col("metric_name").is_in(fallen)).then(pl.lit(100.0)).alias("recent_level"),
    )
    plain = compute_health_scores(metrics, limits).row(0, named=True)
    row = compute_health_scores(metrics, anchored).row(0, named=True)
    assert plain["grade"] == "A"
    assert row["sales_score"] < 40 and row["grade"] in ("D", "F")
    # within 5% of the anchor is full marks; a rise of sales is never bad
    near = limits.with_columns(pl.lit(100.0).alias("anchor_value"), pl.lit(96.0).alias("recent_level"))
    assert compute_health_scores(metrics, near).row(0, named=True)["health_score"] == 100.0
    rise = limits.with_columns(pl.lit(100.0).alias("anchor_value"), pl.lit(150.0).alias("recent_level"))
    scores = compute_health_scores(metrics, rise).row(0, named=True)
    assert scores["sales_score"] == 100.0


def test_scoring_stores_in_chunks_changes_nothing():
    """Stores scored a chunk at a time (memory) give the frame of all at once, rows and order."""
    rows = [
        _row(
            D + timedelta(days=day),
            f"US{shop:05d}",
            revenue=100.0 - 7.0 * ((day * shop) % 5),
            staff_hours=100.0 + 3.0 * ((day + shop) % 4),
            qc_score=90.0 if (day + shop) % 6 == 0 else None,
            is_closed=(day + shop) % 11 == 0,
        )
        for day in range(20)
        for shop in range(7)
    ]
    metrics, limits = _frames(rows)
    whole = compute_health_scores(metrics, limits, chunk_stores=1000)
    assert whole["shop_no"].n_unique() == 7
    for chunk in (1, 2, 3):
        assert compute_health_scores(metrics, limits, chunk_stores=chunk).equals(whole, null_equal=True)
