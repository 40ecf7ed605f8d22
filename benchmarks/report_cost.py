"""What building the HTML reports costs at chain scale: synthetic report data (no database), timed build.

    .venv/bin/python benchmarks/report_cost.py [--stores 1000] [--days 396]

Builds `ReportData` for N stores x D business dates (every KPI, limits, a flag per store every 20 days, daily
health, weekly peers, one open alert per 10 stores) and times `write_pages` into a temporary folder: the
figure is the page-building share of a report asset's run (the window's SQL reads come on top of it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from store_anomaly.alerts.config import ALERT_SCHEMA, KPI_COLUMNS
from store_anomaly.reports.data import ReportData
from store_anomaly.reports.site import write_pages


def synthetic(stores: int, days: int, seed: int = 7) -> ReportData:
    rng = np.random.default_rng(seed)
    last = date(2026, 2, 15)
    first = last - timedelta(days=days - 1)
    dates = pl.date_range(first, last, eager=True)
    shops = [f"US{i:05d}" for i in range(1, stores + 1)]
    grid = pl.DataFrame({"shop_no": shops}).join(pl.DataFrame({"metric_date": dates}), how="cross")
    n = grid.height
    metrics = grid.with_columns(
        pl.col("shop_no").alias("shop_name"),
        *[pl.Series(kpi, rng.gamma(20, 50, n)) for kpi in KPI_COLUMNS],
        pl.lit(False).alias("is_closed"),
        pl.Series("dq_excluded_rows", rng.poisson(1, n)),
    )
    limits = (
        metrics.select("metric_date", "shop_no", *KPI_COLUMNS)
        .unpivot(index=["metric_date", "shop_no"], variable_name="metric_name", value_name="center_line")
        .with_columns(
            (pl.col("center_line") * 1.3).alias("ucl"),
            (pl.col("center_line") * 0.7).alias("lcl"),
            pl.lit(None, pl.Float64).alias("anchor_value"),
            pl.lit(None, pl.Date).alias("anchor_since"),
        )
    )
    flags = metrics.filter(pl.col("metric_date").dt.ordinal_day() % 20 == 0).select(
        "metric_date",
        "shop_no",
        pl.lit("revenue").alias("metric_name"),
        pl.lit("level_shift").alias("rule"),
        pl.lit("WARNING").alias("severity"),
        pl.lit("down").alias("direction"),
        pl.col("revenue").alias("observed_value"),
        pl.lit(-4.2).alias("z_score"),
        pl.lit("below the lower limit").alias("detail"),
    )
    health = grid.with_columns(
        pl.Series("health_score", rng.uniform(40, 100, n)),
        pl.lit("B").alias("grade"),
        pl.lit("revenue").alias("worst_metric"),
    )
    weeks = grid.filter(pl.col("metric_date").dt.weekday() == 1).rename({"metric_date": "week_start"})
    peers = pl.concat(
        weeks.with_columns(
            pl.lit(metric).alias("metric_name"),
            pl.Series("value", rng.gamma(20, 50, weeks.height)),
            pl.lit(900.0).alias("peer_median"),
            pl.lit(stores).alias("peer_count"),
            pl.Series("rank", rng.integers(1, stores + 1, weeks.height)),
            pl.Series("percentile", rng.uniform(0, 100, weeks.height)),
            pl.lit(1.5).alias("vs_median_pct"),
        )
        for metric in ("revenue", "order_count", "aov")
    )
    alerting = shops[::10]
    alerts = pl.DataFrame(
        {
            "alert_id": [f"A-{i:010x}" for i in range(len(alerting))],
            "shop_no": alerting,
            "metric_name": ["revenue"] * len(alerting),
            "severity": ["WARNING"] * len(alerting),
            "first_severity": ["WARNING"] * len(alerting),
            "opened_on": [last - timedelta(days=20)] * len(alerting),
            "last_seen_on": [last] * len(alerting),
            "status": ["open"] * len(alerting),
            "description": ["Revenue is 18% below its baseline since 2026-01-26. More."] * len(alerting),
            "metric_names": ["revenue,order_count"] * len(alerting),
        }
    )
    alerts = alerts.select(
        pl.col(c).cast(t) if c in alerts.columns else pl.lit(None, t).alias(c) for c, t in ALERT_SCHEMA.items()
    )
    return ReportData(first, last, metrics, limits, flags, health, peers, alerts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--days", type=int, default=396)
    args = parser.parse_args()
    data = synthetic(args.stores, args.days)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        site = write_pages(data, Path(folder) / "reports")
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(folder).rglob("*.html"))
        index = site.index.stat().st_size
        gallery = (Path(folder) / "reports" / "spc.html").stat().st_size
    print(
        f"{args.stores} stores x {args.days} days: {site.pages} pages in {seconds:.1f} s "
        f"({1000 * seconds / site.pages:.0f} ms a page), {size / 1e6:.0f} MB of HTML, index.html {index / 1e6:.1f} MB, "
        f"spc.html {gallery / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
