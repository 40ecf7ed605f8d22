"""Benchmark: the platform end to end at 1,000 stores x 365 days.

    .venv/bin/python benchmarks/scale.py [--stores 1000] [--days 365] [--orders 40] [--instance sqlite|mysql|platform]
                                         [--keep] [--reuse-sources] [--floor-passes 2]
                                         [--chunk-days 31] [--home DIR] [--daily-only] [--daily-runs 1]

1. Generates the sources with the demo generator (every source table filled) into `scale_*` databases on the
   local server: the chain's listed stores plus synthetic small stores of about `--orders` orders a weekday,
   drawn and loaded `--chunk-days` business days at a time (memory), secondary indexes built after the load.
2. Times the bare source aggregation queries of the whole range (the floor, as in `backfill.py`).
3. Backfills every asset over the range as `store-anomaly backfill` does (one run, in process), recorded in a
   fresh DAGSTER_HOME: the default SQLite instance, or `--instance mysql` (dagster-mysql, a database
   `scale_dagster` on the same server), or `--instance platform` (the instance `make demo` and deploy/ use,
   dagster_instance/dagster.yaml, in that database).
4. Runs one daily window (the last 4 days) as the schedule runs it: `dagster job execute -m
   store_anomaly.definitions -j daily_refresh_job` with the range tags, in its own process (`--daily-runs N`:
   N times, then the best, median and worst).

`--keep --home DIR` keeps the databases and the Dagster home; `--daily-only --home DIR` then runs only step 4
against that kept, backfilled warehouse (minutes rather than the whole benchmark, to iterate on the daily run).

Each step runs in a child process, so the peak memory printed is that step's own (maximum resident set).
Prints: generation seconds, floor, backfill seconds and its ratio to the floor, daily-run seconds, peak
memory per step, rows per source and warehouse table. The databases are dropped at the end unless `--keep`.
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
from store_anomaly.settings import SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR

HERE = Path(__file__).resolve().parent
SERVER = os.environ.get("STORE_ANOMALY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
PREFIX = "scale_"
DAGSTER_DB = f"{PREFIX}dagster"
START = date(2025, 1, 1)


def urls(server: MySQLUrl) -> dict[str, str]:
    found = {source: server.with_database(f"{PREFIX}{source}").to_url() for source in SOURCE_ENV_VARS}
    found["warehouse"] = server.with_database(f"{PREFIX}warehouse").to_url()
    return found


def generate(args: argparse.Namespace, where: dict[str, str]) -> dict:
    """The demo generator with small synthetic stores (about `--orders` orders on a weekday)."""
    from dataclasses import replace

    from store_anomaly.sources import demo_data

    make_store = demo_data.synthetic_store

    def small_store(number: int):
        store = make_store(number)
        return replace(store, weekday_orders=args.orders * store.weekday_orders / 200.0)

    demo_data.synthetic_store = small_store
    summary = demo_data.generate_demo_sources(
        {s: where[s] for s in SOURCE_ENV_VARS},
        start=args.start,
        end=args.end,
        stores=args.stores,
        chunk_days=args.chunk_days,
    )
    return {"seconds": summary.elapsed_seconds, "rows": dict(summary.row_counts)}


def floor(args: argparse.Namespace, where: dict[str, str]) -> dict:
    sys.path.insert(0, str(HERE))
    from backfill import source_query_floor

    return {"seconds": min(source_query_floor(where, args.start, args.end) for _ in range(args.floor_passes))}


def backfill(args: argparse.Namespace, where: dict[str, str]) -> dict:
    from dagster import DagsterInstance

    from store_anomaly.runner import run_backfill

    with DagsterInstance.get() as instance:
        started = time.perf_counter()
        result = run_backfill(args.start, args.end, instance=instance, raise_on_error=False)
        seconds = time.perf_counter() - started
        events = len(instance.all_logs(result.run_id))
    return {"seconds": seconds, "success": result.success, "events": events}


STEPS = {"generate": generate, "floor": floor, "backfill": backfill}


def run_child(step: str, args: argparse.Namespace, env: dict[str, str]) -> dict:
    command = [sys.executable, __file__, "--child", step, *passed_arguments(args)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def passed_arguments(args: argparse.Namespace) -> list[str]:
    return [
        f"--stores={args.stores}",
        f"--days={args.days}",
        f"--orders={args.orders}",
        f"--floor-passes={args.floor_passes}",
        f"--chunk-days={args.chunk_days}",
    ]


def daily_run(args: argparse.Namespace, env: dict[str, str]) -> dict:
    """The last four days as the schedule runs them, in a process of its own; wall seconds and peak memory."""
    from store_anomaly.partitions import partition_range_tags

    tags = json.dumps(partition_range_tags(args.end - timedelta(days=3), args.end))
    dagster = str(Path(sys.executable).parent / "dagster")
    command = [dagster, "job", "execute", "-m", "store_anomaly.definitions", "-j", "daily_refresh_job", "--tags", tags]
    measure = (
        "import resource, subprocess, sys, time; began = time.perf_counter(); "
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "seconds = time.perf_counter() - began; "
        "print(done.stderr[-3000:] if done.returncode else '', file=sys.stderr); "
        "print(done.returncode, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", measure, *command], env=env, capture_output=True, text=True, check=False
    )
    code, seconds, peak = done.stdout.split()
    if code != "0":
        raise SystemExit(f"daily run failed:\n{done.stderr}")
    return {"seconds": float(seconds), "peak_kib": int(peak)}


def table_rows(url: str) -> dict[str, int]:
    parsed = MySQLUrl.parse(url)
    with parsed.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
            (parsed.database,),
        )
        rows = {}
        for (table,) in cursor.fetchall():
            cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
            rows[table] = cursor.fetchone()[0]
    return rows


def drop(server: MySQLUrl, names) -> None:
    with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def report_backfill(figures: dict, args: argparse.Namespace, env: dict[str, str]) -> None:
    figures["backfill"] = run_child("backfill", args, env)
    ratio = (
        f"{figures['backfill']['seconds'] / figures['floor']['seconds']:.1f} x the floor"
        if "floor" in figures
        else "floor not measured"
    )
    print(
        f"backfill, every asset:      {figures['backfill']['seconds']:8.1f} s  {ratio}, "
        f"peak {figures['backfill']['peak_kib'] / 1024:,.0f} MiB, {figures['backfill']['events']:,} events, "
        f"success={figures['backfill']['success']}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders", type=float, default=40.0, help="weekday orders of a synthetic store")
    parser.add_argument(
        "--instance",
        choices=["sqlite", "mysql", "platform"],
        default="sqlite",
        help="the Dagster instance: SQLite (Dagster's default), dagster-mysql, or the platform's own "
        "(dagster_instance/dagster.yaml: the batched MySQL event log, as `make demo` and deploy/ use it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scale_* databases")
    parser.add_argument("--reuse-sources", action="store_true", help="the scale_* sources exist: do not generate")
    parser.add_argument(
        "--floor-passes", type=int, default=2, help="times the floor is measured (the best kept; 0: not measured)"
    )
    parser.add_argument(
        "--chunk-days", type=int, default=31, help="business days the generator draws and loads at a time"
    )
    parser.add_argument("--home", help="the DAGSTER_HOME to use (kept); default: a fresh temporary directory")
    parser.add_argument(
        "--daily-only",
        action="store_true",
        help="only the daily window, against the kept scale_* sources and backfilled warehouse (implies --keep)",
    )
    parser.add_argument(
        "--daily-runs",
        type=int,
        default=1,
        help="daily windows run one after the other (each printed, then the best, median and worst: on a shared "
        "machine the spread is the neighbours', the best the platform's own cost)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.start = START
    args.end = START + timedelta(days=args.days - 1)
    server = MySQLUrl.parse(SERVER)
    where = urls(server)
    if args.child:
        child = STEPS[args.child](args, where)
        child["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(child))
        return 0

    env = {**os.environ, **{variable: where[source] for source, variable in SOURCE_ENV_VARS.items()}}
    env[WAREHOUSE_ENV_VAR] = where["warehouse"]
    env["STORE_ANOMALY_PARTITIONS_START"] = args.start.isoformat()
    if args.daily_only:
        args.keep = args.reuse_sources = True
        args.floor_passes = 0
    home = args.home or tempfile.mkdtemp(prefix="scale_dagster_home_")
    os.makedirs(home, exist_ok=True)
    env["DAGSTER_HOME"] = home
    env["STORE_ANOMALY_REPORTS_DIR"] = os.path.join(home, "reports")
    if not args.daily_only:
        drop(server, [f"{PREFIX}warehouse", DAGSTER_DB])
    if args.instance == "platform":
        # the instance the platform ships (dagster_instance/dagster.yaml: the batched MySQL event log), its
        # database on the same server; --daily-only needs the same option to find the backfill's runs
        env.update(
            DAGSTER_MYSQL_HOST=server.host,
            DAGSTER_MYSQL_PORT=str(server.port),
            DAGSTER_MYSQL_USER=server.user,
            DAGSTER_MYSQL_PASSWORD=server.password or "",
            DAGSTER_MYSQL_DB=DAGSTER_DB,
        )
        if not args.daily_only:
            with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE `{DAGSTER_DB}`")
            shutil.copyfile(HERE.parent / "dagster_instance" / "dagster.yaml", Path(home, "dagster.yaml"))
    if args.instance == "mysql" and not args.daily_only:
        drop(server, [DAGSTER_DB])
        with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{DAGSTER_DB}`")
        Path(home, "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\nstorage:\n  mysql:\n    mysql_db:\n"
            f"      hostname: {server.host}\n      port: {server.port}\n      username: {server.user}\n"
            f"      password: '{server.password}'\n      db_name: {DAGSTER_DB}\n"
        )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    # the server is part of the machine a figure was measured on (its buffer pool changed nothing measurable here)
    with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@innodb_buffer_pool_size")
        version, pool = cursor.fetchone()
    print(f"MySQL server: {version}, innodb_buffer_pool_size {int(pool) / 2**20:,.0f} MiB")
    print(
        f"{args.stores} stores x {args.days} days ({args.start} .. {args.end}), synthetic stores ~{args.orders:g} "
        f"orders a weekday, {args.instance} Dagster instance"
    )
    figures = {}
    if not args.reuse_sources:
        figures["generate"] = run_child("generate", args, env)
        print(
            f"generation:                 {figures['generate']['seconds']:8.1f} s  "
            f"peak {figures['generate']['peak_kib'] / 1024:,.0f} MiB",
            flush=True,
        )
    if args.floor_passes:
        figures["floor"] = run_child("floor", args, env)
        print(f"floor (source queries):     {figures['floor']['seconds']:8.1f} s", flush=True)
    if not args.daily_only:
        report_backfill(figures, args, env)
    daily = []
    for _ in range(args.daily_runs):
        daily.append(daily_run(args, env))
        print(
            f"daily run (4 days, dagster job execute): {daily[-1]['seconds']:8.1f} s  "
            f"peak {daily[-1]['peak_kib'] / 1024:,.0f} MiB",
            flush=True,
        )
    if len(daily) > 1:
        seconds = sorted(run["seconds"] for run in daily)
        print(
            f"daily runs: best {seconds[0]:.1f} s, median {seconds[len(seconds) // 2]:.1f} s, worst {seconds[-1]:.1f} s "
            f"of {len(seconds)}; peak {max(run['peak_kib'] for run in daily) / 1024:,.0f} MiB",
            flush=True,
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print("rows per table:")
    for name in (*SOURCE_ENV_VARS, "warehouse"):
        for table, count in table_rows(where[name]).items():
            print(f"  {name:<17} {table:<36} {count:>12,}")
    if not args.keep:
        drop(server, [*(MySQLUrl.parse(url).database for url in where.values()), DAGSTER_DB])
    return 0


if __name__ == "__main__":
    sys.exit(main())
