"""Benchmark: the whole demo history backfilled end to end, against the floor of the bare source queries, then
the demo's daily window as the schedule runs it.

    .venv/bin/python benchmarks/backfill.py [--start 2025-03-24] [--end 2026-02-15] [--stores 10] [--generate]
        [--instance mysql|sqlite] [--no-memory] [--daily-runs 3]

Reads the demo sources (the demo generator's variables, default: the demo databases on the local server),
writes into a scratch warehouse `store_anomaly_benchmark` (dropped first) and a temporary Dagster instance:
`--instance mysql` (default) is the demo's instance (dagster_instance/dagster.yaml: dagster-mysql with the
batched event log) on a scratch database `store_anomaly_benchmark_dagster` of the sources' server, `sqlite`
Dagster's default storage. Prints: the backfill's seconds (and, unless `--no-memory`, the same run against an
in-memory instance first), each step's seconds, rows written per table, the seconds of the source aggregation
queries alone (the floor, the better of two passes) and the ratio; then `--daily-runs` times the daily window
of the range's last 4 days through `dagster job execute -m store_anomaly.definitions -j daily_refresh_job`
with the range tags (a fresh process each: what the schedule's run costs, code loading included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import DEMO_END, DEMO_START, SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR, demo_source_urls_from_env

BENCHMARK_WAREHOUSE = "store_anomaly_benchmark"
BENCHMARK_INSTANCE_DB = "store_anomaly_benchmark_dagster"
DEMO_INSTANCE_YAML = Path(__file__).resolve().parents[1] / "dagster_instance" / "dagster.yaml"
DAILY_WINDOW_DAYS = 4


def step_seconds(instance, run_id: str) -> list[tuple[str, float]]:
    """(step, wall seconds) of each step of a run, in the order they started."""
    stats = sorted(instance.get_run_step_stats(run_id), key=lambda stat: stat.start_time or 0)
    return [(stat.step_key, (stat.end_time or 0) - (stat.start_time or 0)) for stat in stats]


def daily_window(home: str, end: date) -> float:
    """Wall seconds of `dagster job execute ... daily_refresh_job` over the DAILY_WINDOW_DAYS ending at `end`."""
    tags = {
        "dagster/asset_partition_range_start": (end - timedelta(days=DAILY_WINDOW_DAYS - 1)).isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }
    command = [str(Path(sys.executable).with_name("dagster")), "job", "execute", "-m", "store_anomaly.definitions"]
    command += ["-j", "daily_refresh_job", "--tags", json.dumps(tags)]
    started = time.perf_counter()
    subprocess.run(command, env={**os.environ, "DAGSTER_HOME": home}, check=True, capture_output=True)
    return time.perf_counter() - started


def source_query_floor(urls: dict[str, str], start: date, end: date) -> float:
    """Seconds of the extract queries alone (store master read, then each source's aggregations, in the parts
    the extract assets read them)."""
    import polars as pl

    from store_anomaly.resources import SourceDatabase
    from store_anomaly.sources import extracts
    from store_anomaly.sources.assets import SHOPS_SCHEMA, SHOPS_SQL
    from store_anomaly.sources.scope import dept_time_zones

    started = time.perf_counter()
    with MySQLUrl.parse(urls["opshop"]).connect(read_only=True) as connection, connection.cursor() as cursor:
        cursor.execute(SHOPS_SQL)
        shops = pl.DataFrame(cursor.fetchall(), schema=list(SHOPS_SCHEMA), orient="row")
    scope = extracts.DateScope(start, end, dept_time_zones(shops), "America/New_York")
    for source, sql_of, schema in extracts.SOURCE_EXTRACTS:
        database = SourceDatabase(name=source, url=urls[source])
        extracts.fetch_parts(database, sql_of, scope, schema)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date.fromisoformat(DEMO_START))
    parser.add_argument("--end", type=date.fromisoformat, default=date.fromisoformat(DEMO_END))
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--generate", action="store_true", help="(re)generate the demo sources first")
    parser.add_argument("--instance", choices=("mysql", "sqlite"), default="mysql")
    parser.add_argument("--no-memory", action="store_true", help="skip the run against an in-memory instance")
    parser.add_argument("--daily-runs", type=int, default=3)
    args = parser.parse_args()

    load_before = f"{os.getloadavg()[0]:.1f}"
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

    from store_anomaly.partitions import apply_bookkeeping_defaults
    from store_anomaly.runner import run_backfill

    apply_bookkeeping_defaults()  # as the CLI and the Makefile set them
    in_memory_seconds = None
    if not args.no_memory:
        # The platform's own work: the same run against an in-memory instance.
        started = time.perf_counter()
        run_backfill(args.start, args.end, instance=DagsterInstance.ephemeral())
        in_memory_seconds = time.perf_counter() - started
        with warehouse.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{BENCHMARK_WAREHOUSE}`")
    # As users run it: recorded in a DAGSTER_HOME instance, so the UI shows it.
    home = tempfile.mkdtemp(prefix="store-anomaly-benchmark-")
    os.environ["DAGSTER_HOME"] = home
    instance_db = warehouse.with_database(BENCHMARK_INSTANCE_DB)
    if args.instance == "mysql":
        with warehouse.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{BENCHMARK_INSTANCE_DB}`")
            cursor.execute(f"CREATE DATABASE `{BENCHMARK_INSTANCE_DB}`")
        os.environ.update(
            {
                "DAGSTER_MYSQL_HOST": instance_db.host,
                "DAGSTER_MYSQL_PORT": str(instance_db.port),
                "DAGSTER_MYSQL_USER": instance_db.user,
                "DAGSTER_MYSQL_PASSWORD": instance_db.password,
                "DAGSTER_MYSQL_DB": BENCHMARK_INSTANCE_DB,
            }
        )
        shutil.copy(DEMO_INSTANCE_YAML, Path(home, "dagster.yaml"))
    with DagsterInstance.get() as instance:
        started = time.perf_counter()
        result = run_backfill(args.start, args.end, instance=instance)
        seconds = time.perf_counter() - started
        events = len(instance.all_logs(result.run_id))
        steps = step_seconds(instance, result.run_id)
    daily = [daily_window(home, args.end) for _ in range(args.daily_runs)]
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
    print(f"load average before / after: {load_before} / {os.getloadavg()[0]:.1f} (1 min)")
    print(f"backfill recorded in a {args.instance} instance:  {seconds:8.2f} s  ({events:,} events in its event log)")
    if in_memory_seconds is not None:
        print(f"same backfill, in-memory instance:            {in_memory_seconds:8.2f} s")
    print(f"bare source aggregation queries (floor):      {floor:8.2f} s")
    print(
        f"ratio to the floor: {seconds / floor:.1f} x"
        + (f" (in-memory {in_memory_seconds / floor:.1f} x)" if in_memory_seconds is not None else "")
    )
    if daily:
        print(
            f"daily window ({DAILY_WINDOW_DAYS} days to {args.end}) through `dagster job execute`: "
            + ", ".join(f"{value:.1f}" for value in daily)
            + " s"
        )
    print("steps of the backfill (seconds):")
    for step, step_wall in steps:
        print(f"  {step:<58} {step_wall:7.2f}")
    print(f"peak memory of the benchmark process:         {peak_mib:,.0f} MiB")
    print("rows written:")
    for table, count in rows.items():
        print(f"  {table:<34} {count:>10,}")

    with warehouse.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{BENCHMARK_WAREHOUSE}`")
        cursor.execute(f"DROP DATABASE IF EXISTS `{BENCHMARK_INSTANCE_DB}`")
    shutil.rmtree(home, ignore_errors=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
