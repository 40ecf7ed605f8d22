"""Cost benchmark: limits and flags for N stores x D days x every metric, in one call per rule set.

Run from the repository root:

    .venv/bin/python benchmarks/spc_cost.py                  # 1,000 stores x 365 days, both rule sets
    .venv/bin/python benchmarks/spc_cost.py --stores 200 --days 90

The input holds the requested days plus the lookback the rule set needs (as the asset loads it). Prints wall
seconds, CPU seconds (the fairer figure on a shared machine) and the process's peak resident memory
(resource.getrusage) after each rule set; each rule set runs in a fresh subprocess so the peaks do not mix.
`--chunk-stores`: how many stores the default rule set scores at a time (memory; the result is the same).
`--kpi-threads`: how many KPIs a range of at most 7 days scores at once (the daily run's; default 2):

    .venv/bin/python benchmarks/spc_cost.py --days 4 --rule-sets default --chunk-stores 1000 --kpi-threads 1
    .venv/bin/python benchmarks/spc_cost.py --days 4 --rule-sets default --chunk-stores 1000 --kpi-threads 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date, timedelta

from store_anomaly.spc import engine
from store_anomaly.spc.engine import CHUNK_STORES, SHORT_RANGE_THREADS


def run_one(rule_set: str, stores: int, days: int, chunk_stores: int) -> dict:
    from store_anomaly.spc import METRICS, SpcConfig, compute_spc
    from store_anomaly.spc.simulate import StoreSpec, simulate_stores

    config = SpcConfig.seed() if rule_set == "seed" else SpcConfig.default()
    end = date(2025, 12, 31)
    start = end - timedelta(days=days - 1)
    first = start - timedelta(days=config.lookback_days)
    t0 = time.perf_counter()
    metrics = simulate_stores([StoreSpec(f"US{i:05d}") for i in range(stores)], first, end, seed=1)
    gen = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    result = compute_spc(metrics, start, end, config, chunk_stores=chunk_stores)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rule_set": rule_set,
        "stores": stores,
        "days": days,
        "metrics": len(METRICS),
        "lookback_days": config.lookback_days,
        "input_rows": metrics.height,
        "limit_rows": result.limits.height,
        "flag_rows": result.flags.height,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "generate_seconds": round(gen, 1),
        "peak_rss_mb_before": round(rss_before / 1024),
        "peak_rss_mb": round(peak_kb / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rule-sets", default="seed,default")
    parser.add_argument("--chunk-stores", type=int, default=CHUNK_STORES, help="stores scored at a time (default)")
    parser.add_argument("--kpi-threads", type=int, default=SHORT_RANGE_THREADS, help="a short range's KPIs at once")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine.SHORT_RANGE_THREADS = args.kpi_threads
        print(json.dumps(run_one(args.child, args.stores, args.days, args.chunk_stores)))
        return
    print(
        "| rule set | stores x days x metrics | input rows (incl. lookback) | limit rows | flag rows | seconds "
        "(CPU seconds) | peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for rule_set in args.rule_sets.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--child", rule_set, "--stores", str(args.stores), "--days", str(args.days)]
            + ["--chunk-stores", str(args.chunk_stores), "--kpi-threads", str(args.kpi_threads)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {r['rule_set']} | {r['stores']} x {r['days']} x {r['metrics']} | {r['input_rows']:,} "
            f"({r['lookback_days']} d lookback) | {r['limit_rows']:,} | {r['flag_rows']:,} | {r['seconds']} ({r['cpu_seconds']}) "
            f"| {r['peak_rss_mb']} (input alone: {r['peak_rss_mb_before']}) |"
        )


if __name__ == "__main__":
    main()
