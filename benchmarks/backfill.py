"""Benchmark: the whole demo history backfilled end to end, against the floor of the bare source queries.

    .venv/bin/python benchmarks/backfill.py [--start 2025-03-24] [--end 2026-02-15] [--stores 10] [--generate]

Reads the demo sources (the demo generator's variables, default: the demo databases on the local server),
writes into a scratch warehouse `store_anomaly_benchmark` (dropped first) and a temporary Dagster instance,
and prints: the backfill's wall seconds and peak memory, rows written per table, and the seconds of the
source aggregation queries alone, run once each for the same range, so the platform's overhead is a ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import date

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import DEMO_END, DEMO_START, SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR, demo_source_urls_from_env

BENCHMARK_WAREHOUSE = "store_anomaly_benchmark"


def source_query_floor(urls: dict[str, str], start: date, end: date) -> float:
    """Seconds of the extract queries alone (store master read, then each source's aggregations)."""
    import polars as pl

    from store_anomaly.sources import extracts
    from store_anomaly.sources.assets import SHOPS_SCHEMA, SHOPS_SQL
    from store_anomaly.sources.scope import dept_time_zones

    started = time.perf_counter()
    with MySQLUrl.parse(urls["opshop"]).connect(read_only=True) as connection, connection.cursor() as cursor:
        cursor.execute(SHOPS_SQL)
        shops = pl.DataFrame(cursor.fetchall(), schema=list(SHOPS_SCHEMA), orient="row")
    scope = extracts.DateScope(start, end, dept_time_zones(shops), "America/New_York")
    queries = {
        "sales_order": [extracts.sales_sql(scope), extracts.items_sql(scope)],
        "opproduction": [extracts.production_sql(scope)],
        "opqualitycontrol": [extracts.inspections_sql(scope), extracts.expiry_sql(scope)],
        "opempefficiency": [extracts.attendance_sql(scope)],
    }
    for source, sqls in queries.items():
        with MySQLUrl.parse(urls[source]).connect(read_only=True) as connection, connection.cursor() as cursor:
            for sql in sqls:
                cursor.execute(sql, scope.params())
                cursor.fetchall()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date.fromisoformat(DEMO_START))
    parser.add_argument("--end", type=date.fromisoformat, default=date.fromisoformat(DEMO_END))
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--generate", action="store_true", help="(re)generate the demo sources first")
    args = parser.parse_args()

    urls = demo_source_urls_from_env()  # the demo databases; the platform reads them below
    for source, variable in SOURCE_ENV_VARS.items():
        os.environ[variable] = urls[source]
    if args.generate:
        from store_anomaly.sources.demo_data import generate_demo_sources

        started = time.perf_counter()
        generate_demo_sources(urls, start=args.start, end=args.end, stores=args.stores)
        print(f"demo sources generated in {time.perf_counter() - started:.1f} s")

    warehouse = MySQLUrl.parse(urls["opshop"]).with_database(BENCHMARK_WAREHOUSE)
    with warehouse.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{BENCHMARK_WAREHOUSE}`")
    os.environ[WAREHOUSE_ENV_VAR] = warehouse.to_url()

    floor = min(source_query_floor(urls, args.start, args.end) for _ in range(2))

    from dagster import DagsterInstance

    from store_anomaly.runner import run_backfill

    # The platform's own work: the same run against an in-memory instance.
    started = time.perf_counter()
    in_memory = run_backfill(args.start, args.end, instance=DagsterInstance.ephemeral())
    in_memory_seconds = time.perf_counter() - started
    # As users run it: recorded in a DAGSTER_HOME instance (default SQLite storage), so the UI shows it.
    with tempfile.TemporaryDirectory() as home:
        os.environ["DAGSTER_HOME"] = home
        with DagsterInstance.get() as instance:
            started = time.perf_counter()
            result = run_backfill(args.start, args.end, instance=instance)
            seconds = time.perf_counter() - started
            events = len(instance.all_logs(result.run_id))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with warehouse.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
            (BENCHMARK_WAREHOUSE,),
        )
        tables = [row[0] for row in cursor.fetchall()]
        rows = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
            rows[table] = cursor.fetchone()[0]
        with MySQLUrl.parse(urls["sales_order"]).connect() as sales, sales.cursor() as sales_cursor:
            sales_cursor.execute("SELECT COUNT(*) FROM t_trade")
            trades = sales_cursor.fetchone()[0]

    days = (args.end - args.start).days + 1
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"range: {args.start} .. {args.end} ({days} business days), {trades:,} source trades")
    print(f"backfill recorded in a DAGSTER_HOME instance: {seconds:8.2f} s  ({events:,} events in its event log)")
    print(f"same backfill, in-memory instance:            {in_memory_seconds:8.2f} s  success={in_memory.success}")
    print(f"bare source aggregation queries (floor):      {floor:8.2f} s")
    print(f"ratios to the floor: recorded {seconds / floor:.1f} x, in-memory {in_memory_seconds / floor:.1f} x")
    print(f"peak memory of the benchmark process:         {peak_mib:,.0f} MiB")
    print("rows written:")
    for table, count in rows.items():
        print(f"  {table:<34} {count:>10,}")

    with warehouse.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{BENCHMARK_WAREHOUSE}`")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
