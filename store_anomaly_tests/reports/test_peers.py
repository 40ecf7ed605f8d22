"""Weekly peer comparison: Monday weeks, per-metric aggregates, direction-aware rank and percentile."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from store_anomaly.reports import compute_peer_comparison

MONDAY = date(2025, 11, 3)


def _day(day: date, shop: str, orders: int, revenue: float, seconds: float, produced: int, **extra) -> dict:
    row = {
        "metric_date": day,
        "shop_no": shop,
        "shop_name": shop.lower(),
        "revenue": revenue,
        "order_count": orders,
        "aov": revenue / orders,
        "items_sold": orders * 2,
        "avg_production_seconds": seconds,
        "production_count": produced,
        "staff_hours": 50.0,
        "headcount": 6,
        "orders_per_labor_hour": orders / 50.0,
        "qc_score": None,
        "expired_qty": 2,
        "is_closed": False,
    }
    row.update(extra)
    return row


def _metrics() -> pl.DataFrame:
    rows = []
    for i in range(7):
        day = MONDAY + timedelta(days=i)
        rows.append(_day(day, "US00001", 100, 800.0, 200.0, 100, qc_score=90.0 if i == 2 else None))
        rows.append(_day(day, "US00002", 200, 1200.0, 150.0, 200))
        rows.append(_day(day, "US00003", 150, 1500.0, 180.0, 150, expired_qty=0))
    # US00003 is slow on one busy day: the weighted mean must count it by its production count
    rows[-1] = _day(MONDAY + timedelta(days=6), "US00003", 150, 1500.0, 300.0, 450, expired_qty=0)
    # the following week: US00002 is closed for two days, US00004 opens on Friday
    for i in range(7):
        day = MONDAY + timedelta(days=7 + i)
        rows.append(_day(day, "US00002", 200, 1200.0, 150.0, 200, is_closed=i < 2))
        if i >= 4:
            rows.append(_day(day, "US00004", 80, 640.0, 160.0, 80))
    return pl.DataFrame(rows)


def _value(frame: pl.DataFrame, shop: str, metric: str, week: date = MONDAY) -> dict:
    return frame.filter(
        (pl.col("shop_no") == shop) & (pl.col("metric_name") == metric) & (pl.col("week_start") == week)
    ).row(0, named=True)


def test_weekly_aggregates_per_metric():
    peers = compute_peer_comparison(_metrics(), MONDAY, MONDAY)
    assert set(peers["week_start"]) == {MONDAY}
    assert _value(peers, "US00001", "revenue")["value"] == 5600.0
    assert _value(peers, "US00001", "order_count")["value"] == 700.0
    assert _value(peers, "US00003", "aov")["value"] == pytest.approx(10.0)  # sum revenue / sum orders
    assert _value(peers, "US00001", "orders_per_labor_hour")["value"] == pytest.approx(700 / 350)
    weighted = (6 * 150 * 180.0 + 450 * 300.0) / (6 * 150 + 450)
    assert _value(peers, "US00003", "avg_production_seconds")["value"] == pytest.approx(weighted)
    assert _value(peers, "US00001", "qc_score")["value"] == 90.0
    assert _value(peers, "US00001", "headcount")["value"] == 6.0
    assert _value(peers, "US00001", "revenue")["days_in_week"] == 7


def test_rank_percentile_and_median_are_direction_aware():
    peers = compute_peer_comparison(_metrics(), MONDAY, MONDAY)
    revenue = {r["shop_no"]: r for r in peers.filter(pl.col("metric_name") == "revenue").iter_rows(named=True)}
    assert {s: r["rank"] for s, r in revenue.items()} == {"US00003": 1, "US00002": 2, "US00001": 3}
    assert {s: r["percentile"] for s, r in revenue.items()} == {"US00003": 100.0, "US00002": 50.0, "US00001": 0.0}
    assert revenue["US00001"]["peer_median"] == 8400.0 and revenue["US00001"]["peer_count"] == 3
    assert revenue["US00001"]["vs_median_pct"] == pytest.approx(100 * (5600 / 8400 - 1))
    assert revenue["US00001"]["better_when"] == "higher"
    speed = {
        r["shop_no"]: r["rank"]
        for r in peers.filter(pl.col("metric_name") == "avg_production_seconds").iter_rows(named=True)
    }
    assert speed == {"US00002": 1, "US00001": 2, "US00003": 3}  # fastest first (US00003: 220 s weighted)
    expired = peers.filter(pl.col("metric_name") == "expired_qty").sort("rank")
    assert expired["shop_no"][0] == "US00003" and expired["better_when"][0] == "lower"
    ties = peers.filter(pl.col("metric_name") == "staff_hours")
    assert set(ties["rank"]) == {1} and ties["better_when"][0] == "n/a"
    qc = peers.filter(pl.col("metric_name") == "qc_score")
    assert qc.height == 1 and qc["percentile"][0] is None  # alone: no percentile


def test_partial_weeks_and_closed_days_and_monday_bounds():
    peers = compute_peer_comparison(_metrics(), MONDAY + timedelta(days=9), MONDAY + timedelta(days=12))
    assert set(peers["week_start"]) == {MONDAY + timedelta(days=7)}  # both bounds moved to their Monday
    week = MONDAY + timedelta(days=7)
    assert _value(peers, "US00002", "revenue", week)["days_in_week"] == 5  # two closed days left out
    assert _value(peers, "US00002", "revenue", week)["value"] == 6000.0
    assert _value(peers, "US00004", "revenue", week)["days_in_week"] == 3
    with pytest.raises(ValueError):
        compute_peer_comparison(_metrics(), MONDAY + timedelta(days=14), MONDAY)
    assert compute_peer_comparison(_metrics(), date(2026, 1, 5), date(2026, 1, 5)).height == 0
