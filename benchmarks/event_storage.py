"""Benchmark: what one per-partition materialization costs in each Dagster instance storage.

    .venv/bin/python benchmarks/event_storage.py [--days 329] [--assets 3] [--variants sqlite,mysql,mysql-batched]

Runs a job of `--assets` daily-partitioned assets that compute nothing (each step returns at once, with the
small metadata the warehouse IO manager records), over `--days` partitions as one run, per variant, each in a
fresh child process with a fresh DAGSTER_HOME: what is left is Dagster's bookkeeping of one materialization
per asset and day (and the planned events, ranged). Variants:

- memory: an in-memory instance
- sqlite: the default SQLite instance storage
- mysql: dagster-mysql (`storage: mysql`) on a fresh database `store_anomaly_bench_events` of the local server
- mysql-batched: run and schedule storage of dagster-mysql, the event log `BatchedMySQLEventLogStorage`
  (store_anomaly/instance_storage.py) with DAGSTER_EVENT_BATCH_SIZE=1000

Prints per variant: seconds of the run, its events, and milliseconds per materialization.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

DATABASE = "store_anomaly_bench_events"
SERVER_ENV_VAR = "STORE_ANOMALY_BENCH_MYSQL_SERVER"  # host:port of the MySQL server, root without password
VARIANTS = ("memory", "sqlite", "mysql", "mysql-batched")


def mysql_yaml(batched: bool) -> str:
    host, _, port = os.environ.get(SERVER_ENV_VAR, "127.0.0.1:3306").partition(":")
    db = {"hostname": host, "port": int(port or 3306), "username": "root", "password": "", "db_name": DATABASE}
    if not batched:
        return json.dumps({"telemetry": {"enabled": False}, "storage": {"mysql": {"mysql_db": db}}})
    config = {"config": {"mysql_db": db}}
    return json.dumps(
        {
            "telemetry": {"enabled": False},
            "run_storage": {"module": "dagster_mysql", "class": "MySQLRunStorage", **config},
            "schedule_storage": {"module": "dagster_mysql", "class": "MySQLScheduleStorage", **config},
            "event_log_storage": {
                "module": "store_anomaly.instance_storage",
                "class": "BatchedMySQLEventLogStorage",
                **config,
            },
        }
    )


def reset_database() -> None:
    from store_anomaly.mysql import MySQLUrl

    server = os.environ.get(SERVER_ENV_VAR, "127.0.0.1:3306")
    url = MySQLUrl.parse(f"mysql://root@{server}/{DATABASE}")
    with url.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
        cursor.execute(f"CREATE DATABASE `{DATABASE}`")


def child(variant: str, days: int, assets: int) -> dict:
    """Runs in a fresh process: builds the job, runs it once, returns the figures."""
    from datetime import date, timedelta

    from dagster import (
        DagsterInstance,
        DailyPartitionsDefinition,
        Definitions,
        MetadataValue,
        asset,
        define_asset_job,
        in_process_executor,
    )

    partitions = DailyPartitionsDefinition(start_date="2025-01-01")

    def make(index: int):
        @asset(name=f"table_{index}", partitions_def=partitions)
        def table(context) -> None:
            context.add_output_metadata(
                {
                    "table": MetadataValue.text(f"table_{index}"),
                    "rows": MetadataValue.int(len(context.partition_keys) * 10),
                }
            )

        return table

    job = define_asset_job("bench", executor_def=in_process_executor)
    definitions = Definitions(assets=[make(i) for i in range(assets)], jobs=[job])
    start = date(2025, 1, 1)
    tags = {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": (start + timedelta(days=days - 1)).isoformat(),
    }
    instance = DagsterInstance.ephemeral() if variant == "memory" else DagsterInstance.get()
    started = time.perf_counter()
    result = definitions.resolve_job_def("bench").execute_in_process(instance=instance, tags=tags)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "events": len(instance.all_logs(result.run_id)), "success": result.success}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=329)
    parser.add_argument("--assets", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.days, args.assets)))
        return 0
    print(f"{args.assets} assets x {args.days} daily partitions, one run, ranged planned events")
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            raise SystemExit(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "DAGSTER_HOME": home, "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"}
            env.pop("DAGSTER_EVENT_BATCH_SIZE", None)
            if variant.startswith("mysql"):
                reset_database()
                with open(os.path.join(home, "dagster.yaml"), "w") as file:
                    file.write(mysql_yaml(batched=variant == "mysql-batched"))
            if variant == "mysql-batched":
                env["DAGSTER_EVENT_BATCH_SIZE"] = "1000"
            output = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--days", str(args.days), "--assets", str(args.assets)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures = json.loads(output.strip().splitlines()[-1])
        per = figures["seconds"] / (args.days * args.assets) * 1000
        print(
            f"{variant:<14} {figures['seconds']:7.2f} s  {figures['events']:6,} events  "
            f"{per:6.2f} ms per materialization  success={figures['success']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
