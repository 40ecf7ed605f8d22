"""What Python's cyclic garbage collector costs a daily run, with the code location's objects frozen and without.

    .venv/bin/python benchmarks/gc_pauses.py --home DIR [--pairs 2]

Runs the daily window (the last four days of `benchmarks/scale.py`'s range) as the schedule runs it, `dagster job
execute -m store_anomaly.definitions -j daily_refresh_job`, against the databases `benchmarks/scale.py --keep`
leaves and its DAGSTER_HOME (`--home`, the backfilled one). Each run is a process of its own that imports the code
location (which freezes what the import created, `gc.freeze` in `store_anomaly.definitions`), then, for the
"unfrozen" runs, unfreezes it again (`gc.unfreeze`), and runs the CLI in process with a `gc.callbacks` hook.
Prints per run: the collections of each generation and the seconds spent in them, and the seconds from the
CLI's return to the process's exit (the interpreter's own last collections). Runs alternate, frozen first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import scale  # the scale benchmark's databases and range

from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import partition_range_tags
from store_anomaly.settings import SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR

CHILD = """
import gc, json, sys, time
import store_anomaly.definitions  # freezes what the import created
if sys.argv[1] == "unfrozen":
    gc.unfreeze()
counts, seconds, began = [0, 0, 0], [0.0, 0.0, 0.0], {}
def timed(phase, info):
    generation = info["generation"]
    if phase == "start":
        began[generation] = time.perf_counter()
    else:
        counts[generation] += 1
        seconds[generation] += time.perf_counter() - began[generation]
gc.callbacks.append(timed)
from dagster._cli import main
sys.argv = ["dagster", *sys.argv[2:]]
try:
    main()
except SystemExit as done:
    code = done.code
gc.callbacks.remove(timed)
print(json.dumps({"code": code, "counts": counts, "seconds": seconds, "returned": time.time()}))
"""


def run(mode: str, env: dict[str, str], tags: str) -> dict:
    command = ["job", "execute", "-m", "store_anomaly.definitions", "-j", "daily_refresh_job", "--tags", tags]
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, *command], env=env, capture_output=True, text=True, check=False
    )
    ended, wall = time.time(), time.perf_counter() - began
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] not in (0, None):
        raise SystemExit(f"the daily run failed:\n{done.stderr[-3000:]}")
    return {**result, "wall": wall, "exit": ended - result["returned"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="the DAGSTER_HOME of a backfilled scale run")
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    where = scale.urls(MySQLUrl.parse(scale.SERVER))
    env = {**os.environ, **{variable: where[source] for source, variable in SOURCE_ENV_VARS.items()}}
    env[WAREHOUSE_ENV_VAR] = where["warehouse"]
    env["STORE_ANOMALY_PARTITIONS_START"] = scale.START.isoformat()
    env["DAGSTER_HOME"] = args.home
    env["STORE_ANOMALY_REPORTS_DIR"] = os.path.join(args.home, "reports")
    end = scale.START + timedelta(days=364)
    tags = json.dumps(partition_range_tags(end - timedelta(days=3), end))
    print(
        "| run | collections (gen 0 / 1 / 2) | seconds in them (gen 0 / 1 / 2) | exit after the CLI returned | wall |"
    )
    print("|---|---|---|---|---|")
    for _ in range(args.pairs):
        for mode in ("frozen", "unfrozen"):
            figures = run(mode, env, tags)
            seconds = " / ".join(f"{value:.2f}" for value in figures["seconds"])
            counts = " / ".join(str(value) for value in figures["counts"])
            print(f"| {mode} | {counts} | {seconds} | {figures['exit']:.2f} s | {figures['wall']:.1f} s |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
