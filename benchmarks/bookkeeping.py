"""Benchmark: what Dagster's bookkeeping costs a backfill, per instance storage and event option.

    .venv/bin/python benchmarks/bookkeeping.py [--start 2025-03-24] [--end 2026-02-15] [--variants a,b,...]

Runs the same `store-anomaly backfill` range (the runner, in process, as the CLI does) once per variant, each
in a fresh child process with a fresh DAGSTER_HOME and a fresh scratch warehouse, on the demo sources (the
demo generator's variables). Variants:

- memory: an in-memory instance (the platform's own work, nothing recorded)
- sqlite-per-day: the default SQLite instance, one planned event per asset and partition (Dagster's default)
- sqlite: SQLite, one planned event per asset for the run's range (DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS)
- mysql-per-day, mysql: the same on a dagster-mysql instance storage, a database `store_anomaly_bench_dagster`
  on the sources' server (dropped before and after)
- mysql-batched: the demo's instance (dagster_instance/dagster.yaml: dagster-mysql run and schedule storage, the
  event log of store_anomaly/instance_storage.py writing a step's events in one transaction) with
  DAGSTER_EVENT_BATCH_SIZE=1000

Prints per variant: wall seconds of the run, events in its event log, and the events by type.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import DEMO_END, DEMO_START, SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR, demo_source_urls_from_env

WAREHOUSE = "store_anomaly_bench_bookkeeping"
DAGSTER_DB = "store_anomaly_bench_dagster"
RANGED = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
BATCH = "DAGSTER_EVENT_BATCH_SIZE"
VARIANTS = {
    "memory": ("memory", {BATCH: "0"}),
    "sqlite-per-day": ("sqlite", {RANGED: "0", BATCH: "0"}),
    "sqlite": ("sqlite", {RANGED: "1", BATCH: "0"}),
    "mysql-per-day": ("mysql", {RANGED: "0", BATCH: "0"}),
    "mysql": ("mysql", {RANGED: "1", BATCH: "0"}),
    # The demo's and deploy/'s instance: dagster_instance/dagster.yaml, the batched event log.
    "mysql-batched": ("mysql-batched", {RANGED: "1", BATCH: "1000"}),
}
DEMO_INSTANCE_YAML = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dagster_instance", "dagster.yaml"
)


def mysql_instance_yaml(server: MySQLUrl) -> str:
    return (
        "telemetry:\n  enabled: false\nstorage:\n  mysql:\n    mysql_db:\n"
        f"      hostname: {server.host}\n      port: {server.port}\n      username: {server.user}\n"
        f"      password: '{server.password}'\n      db_name: {DAGSTER_DB}\n"
    )


def drop_databases(server: MySQLUrl) -> None:
    with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{WAREHOUSE}`")
        cursor.execute(f"DROP DATABASE IF EXISTS `{DAGSTER_DB}`")


def child(start: date, end: date, storage: str) -> None:
    """One backfill in this process; prints its figures as one JSON line."""
    from dagster import DagsterInstance

    from store_anomaly.runner import run_backfill

    instance = DagsterInstance.ephemeral() if storage == "memory" else DagsterInstance.get()
    started = time.perf_counter()
    result = run_backfill(start, end, instance=instance)
    seconds = time.perf_counter() - started
    kinds = Counter(
        record.dagster_event.event_type_value for record in instance.all_logs(result.run_id) if record.dagster_event
    )
    print(json.dumps({"seconds": seconds, "events": sum(kinds.values()), "kinds": dict(kinds)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date.fromisoformat(DEMO_START))
    parser.add_argument("--end", type=date.fromisoformat, default=date.fromisoformat(DEMO_END))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.start, args.end, args.child)
        return 0

    urls = demo_source_urls_from_env()
    server = MySQLUrl.parse(urls["opshop"])
    env = {**os.environ, **{variable: urls[source] for source, variable in SOURCE_ENV_VARS.items()}}
    env[WAREHOUSE_ENV_VAR] = server.with_database(WAREHOUSE).to_url()
    print(f"range {args.start} .. {args.end}, {(args.end - args.start).days + 1} business days")
    for name in args.variants.split(","):
        storage, variables = VARIANTS[name]
        drop_databases(server)
        with tempfile.TemporaryDirectory() as home:
            if storage.startswith("mysql"):
                with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
                    cursor.execute(f"CREATE DATABASE `{DAGSTER_DB}`")
                with open(os.path.join(home, "dagster.yaml"), "w") as file:
                    if storage == "mysql":
                        file.write(mysql_instance_yaml(server))
                    else:
                        with open(DEMO_INSTANCE_YAML) as demo:
                            file.write(demo.read())
            run_env = {
                **{k: v for k, v in env.items() if k not in (RANGED, BATCH)},
                **variables,
                "DAGSTER_HOME": home,
                "DAGSTER_MYSQL_HOST": server.host,
                "DAGSTER_MYSQL_PORT": str(server.port),
                "DAGSTER_MYSQL_USER": server.user,
                "DAGSTER_MYSQL_PASSWORD": server.password,
                "DAGSTER_MYSQL_DB": DAGSTER_DB,
            }
            command = [sys.executable, __file__, "--start", str(args.start), "--end", str(args.end), "--child", storage]
            done = subprocess.run(command, env=run_env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-3000:]}")
            continue
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        top = ", ".join(f"{kind} {count}" for kind, count in Counter(figures["kinds"]).most_common(4))
        print(f"{name:<15} {figures['seconds']:7.1f} s  {figures['events']:>6,} events ({top})", flush=True)
    drop_databases(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
