"""What building the HTML reports costs at chain scale: synthetic report data, timed build.

    .venv/bin/python benchmarks/report_cost.py [--stores 1000] [--days 396]
    .venv/bin/python benchmarks/report_cost.py --stores 1000 --database report_cost_1000 [--keep]

Builds `ReportData` for N stores x D business dates (every KPI, limits, a flag per store every 20 days, daily
health, weekly peers, one open alert per 10 stores) and times `write_pages` into a temporary folder: the
figure is the page-building share of a report asset's run. With `--database`, the same rows (every data-quality
counter added, no alerts table) are first bulk-loaded into that database of the server of
STORE_ANOMALY_TEST_MYSQL_URL (default: mysql://root@127.0.0.1:3306/test), tables holding the columns the reports read with
their tables' primary keys, and the window's read (`load_report_data`) is timed too: the report asset's whole
run; then the read through the report asset's window cache after a daily run (its last 4 days changed: only those
read from the database, the rows checked equal to the whole read's). The database is reused when it holds the tables already (load once, time several builds), and dropped at
the end unless `--keep`. Prints the process's peak memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from store_anomaly.alerts.config import ALERT_SCHEMA, KPI_COLUMNS
from store_anomaly.kpis.catalog import DQ_COLUMNS
from store_anomaly.mysql import MySQLUrl, bulk_load, create_database, quote_identifier, table_exists
from store_anomaly.reports import data as report_data
from store_anomaly.reports.data import WINDOW_TABLES, ReportData, load_report_data
from store_anomaly.reports.site import write_pages
from store_anomaly.reports.window_cache import ReportWindowCache
from store_anomaly.settings import TEST_MYSQL_URL_ENV_VAR

# The warehouse tables the reports read: (name, columns, primary key), as the assets declare their keys.
TABLES = (
    ("store_daily_metrics", report_data.METRICS_COLUMNS, ("metric_date", "shop_no")),
    ("store_spc_control_limits", report_data.LIMITS_COLUMNS, ("metric_date", "shop_no", "metric_name")),
    ("store_anomaly_flags", report_data.FLAGS_COLUMNS, ("metric_date", "shop_no", "metric_name", "rule")),
    ("store_health_scores", report_data.HEALTH_COLUMNS, ("metric_date", "shop_no")),
    # the week's rows belong to the Sunday that ends it (the asset's partition column and key)
    (
        "store_peer_comparison",
        {**report_data.PEERS_COLUMNS, "week_end": pl.Date()},
        ("week_end", "shop_no", "metric_name"),
    ),
)
_SQL_TYPES = {
    pl.Date: "DATE",
    pl.String: "VARCHAR(64)",
    pl.Float64: "DOUBLE",
    pl.Int64: "BIGINT",
    pl.Boolean: "TINYINT(1)",
}


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


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def server() -> MySQLUrl:
    return MySQLUrl.parse(os.environ.get(TEST_MYSQL_URL_ENV_VAR, "mysql://root@127.0.0.1:3306/test"))


def loaded(database: str) -> bool:
    """Whether `database` holds every report table already."""
    with server().connect() as connection, connection.cursor() as cursor:
        return all(table_exists(cursor, table, database) for table, _, _ in TABLES)


def load_warehouse(data: ReportData, database: str) -> None:
    """The report tables of `data` in `database` (created; left as they are when they exist already)."""
    with server().connect() as connection:
        create_database(connection, database)
    with server().with_database(database).connect(local_infile=True) as connection:
        frames = {
            "store_daily_metrics": data.metrics.with_columns(pl.lit(0, pl.Int64).alias(c) for c in DQ_COLUMNS),
            "store_spc_control_limits": data.limits,
            "store_anomaly_flags": data.flags,
            "store_health_scores": data.health,
            "store_peer_comparison": data.peers.with_columns(week_end=pl.col("week_start") + pl.duration(days=6)),
        }
        for table, columns, key in TABLES:
            with connection.cursor() as cursor:
                if table_exists(cursor, table):
                    continue
                body = [f"{quote_identifier(c)} {_SQL_TYPES[type(t)]} NULL" for c, t in columns.items()]
                body.append(f"PRIMARY KEY ({', '.join(quote_identifier(c) for c in key)})")
                cursor.execute(f"CREATE TABLE {quote_identifier(table)} ({', '.join(body)}) ENGINE=InnoDB")
            started = time.perf_counter()
            # in key order: InnoDB appends instead of splitting pages
            bulk_load(connection, quote_identifier(table), frames[table].select(list(columns)).sort(*key))
            connection.commit()
            print(f"loaded {table}: {frames[table].height:,} rows in {time.perf_counter() - started:.1f} s")


# A daily run's days: what the report asset reads again after one.
CHANGED_DAYS = 4


def read_through_cache(connection, whole: ReportData) -> tuple[float, float]:
    """(seconds filling a `ReportWindowCache`, seconds of `load_report_data` through it once its last CHANGED_DAYS
    days changed, as after a daily run); checks the rows equal `whole`'s."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        cache = ReportWindowCache.open(folder, "report_cost")
        cache.marker = 1
        load_report_data(connection, cache=cache)
        cached_fill = time.perf_counter() - started
        cache = ReportWindowCache.open(folder, "report_cost")
        cache.marker = 2
        cache.changed = {name: {whole.last - timedelta(days=n) for n in range(CHANGED_DAYS)} for name in WINDOW_TABLES}
        started = time.perf_counter()
        cached = load_report_data(connection, cache=cache)
        seconds = time.perf_counter() - started
    if cache.reread is None or not all(getattr(cached, name).equals(getattr(whole, name)) for name in WINDOW_TABLES):
        raise SystemExit("the window read through the cache differs from the whole read")
    return cached_fill, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--days", type=int, default=396)
    parser.add_argument("--database", help="bulk-load the rows into this database and time the window's read too")
    parser.add_argument("--keep", action="store_true", help="keep --database for the next run")
    args = parser.parse_args()
    read = None
    if not args.database:
        data = synthetic(args.stores, args.days)
    else:
        if not loaded(args.database):
            load_warehouse(synthetic(args.stores, args.days), args.database)
            print("loaded: run again to time the read and the pages without the rows' generation in the peak")
        try:
            started = time.perf_counter()
            with server().with_database(args.database).connect() as connection:
                data = load_report_data(connection)
                read = time.perf_counter() - started
                read_peak = peak_gib()
                cached_fill, cached_read = read_through_cache(connection, data)
        finally:
            if not args.keep:
                with server().connect() as connection, connection.cursor() as cursor:
                    cursor.execute(f"DROP DATABASE {quote_identifier(args.database)}")
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
    if read is not None:
        print(
            f"the window's read (load_report_data): {read:.1f} s, peak {read_peak:.2f} GiB by its end; "
            f"read and pages: {read + seconds:.1f} s"
        )
        print(
            f"the window's read through the report asset's cache, its last {CHANGED_DAYS} days changed: "
            f"{cached_read:.2f} s (filling the cache, a whole read and its files: {cached_fill:.1f} s)"
        )
    print(f"peak memory {peak_gib():.2f} GiB")


if __name__ == "__main__":
    main()
