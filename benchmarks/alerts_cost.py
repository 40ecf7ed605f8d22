"""Cost benchmark: the alerts table for N stores x D days, (a) built in full and (b) brought up to date by a
daily run (4-day window) while a few stores hold long-open episodes.

Run from the repository root:

    .venv/bin/python benchmarks/alerts_cost.py                  # 1,000 stores x 365 days
    .venv/bin/python benchmarks/alerts_cost.py --stores 200 --days 90
    .venv/bin/python benchmarks/alerts_cost.py --keep /tmp/alerts_frames   # generate once, then reuse

Drives the pure functions the asset calls (`episodes.build_alerts` for a full build, `incremental.update_alerts`
for a daily update) on simulated metrics (`spc.simulate`) and the flags of the tests' toy SPC engine. A few
stores (`--long-open`, default 5) slide from 200 days before the end and stay flagged, so their episodes
are open for months; the daily update covers the last 4 days, over the table as of the day before them.
The frames are generated once (a first subprocess, written as Parquet in a temporary directory); each
measurement runs in a fresh subprocess so the peaks do not mix. Prints wall seconds, CPU seconds (the fairer
figure on a shared machine), the rows the update read (what the asset reads in SQL) and the process's peak
resident memory (resource.getrusage), with the peak after loading the inputs alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' toy SPC engine

END = date(2025, 12, 31)
WINDOW_DAYS = 4


def generate(directory: Path, stores: int, days: int, long_open: int) -> dict:
    from store_anomaly.alerts.config import AlertConfig
    from store_anomaly.spc.simulate import Anomaly, StoreSpec, simulate_stores
    from store_anomaly_tests.alerts.synthetic import make_limits_and_flags

    config = AlertConfig()
    start = END - timedelta(days=days - 1)
    baseline = 56
    first = start - timedelta(days=baseline)
    specs = []
    for i in range(stores):
        anomaly = None
        if i < long_open:  # slides from 200 days before the end and never recovers: months-long open episodes
            anomaly = Anomaly("traffic", "step", -0.3, END - timedelta(days=200))
        elif i % 50 == 7:  # a few shorter episodes spread over the year
            anomaly = Anomaly("traffic", "step", -0.25, start + timedelta(days=(i * 37) % max(days - 30, 1)))
        specs.append(StoreSpec(f"US{i:05d}", anomaly=anomaly))
    metrics = simulate_stores(specs, first, END, seed=1)
    _, flags = make_limits_and_flags(metrics, baseline_days=baseline)
    metrics = metrics.filter(metrics["metric_date"] >= start - timedelta(days=config.changepoint_lookback_days))
    metrics.write_parquet(directory / "metrics.parquet")
    flags.write_parquet(directory / "flags.parquet")
    return {"metric_rows": metrics.height, "flag_rows": flags.height}


def run_one(mode: str, directory: Path) -> dict:
    import polars as pl

    from store_anomaly.alerts.config import AlertConfig
    from store_anomaly.alerts.episodes import build_alerts
    from store_anomaly.alerts.incremental import update_alerts

    config = AlertConfig()
    metrics = pl.read_parquet(directory / "metrics.parquet")
    flags = pl.read_parquet(directory / "flags.parquet")
    since = END - timedelta(days=WINDOW_DAYS - 1)
    out: dict = {"mode": mode}
    if mode == "prepare":  # the table as of the day before the daily window (not measured)
        before = since - timedelta(days=1)
        existing = build_alerts(
            flags.filter(pl.col("metric_date") <= before), metrics.filter(pl.col("metric_date") <= before)
        )
        existing.write_parquet(directory / "existing.parquet")
        return {"mode": mode, "alerts": existing.height}
    existing = pl.read_parquet(directory / "existing.parquet") if mode == "daily" else None
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read_rows = {"flags": 0, "metrics": 0}

    def read(first: date):
        f, m = flags.filter(pl.col("metric_date") >= first), metrics.filter(pl.col("metric_date") >= first)
        read_rows["flags"] += f.height
        read_rows["metrics"] += m.height
        return f, m

    t0, c0 = time.perf_counter(), time.process_time()
    if mode == "full":
        alerts = build_alerts(flags, metrics, None, config)
        out["window_start"] = "every flag"
        read_rows = {"flags": flags.height, "metrics": metrics.height}
    else:
        alerts, window_start = update_alerts(existing, since, config, read)
        out["window_start"] = str(window_start)
    out.update(
        seconds=round(time.perf_counter() - t0, 1),
        cpu_seconds=round(time.process_time() - c0, 1),
        alerts=alerts.height,
        open=alerts.filter(pl.col("status") == "open").height,
        flag_rows_read=read_rows["flags"],
        metric_rows_read=read_rows["metrics"],
        peak_rss_mb_before=round(rss_before / 1024),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )
    return out


def child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--long-open", type=int, default=5, help="stores with an episode open for months")
    parser.add_argument("--modes", default="full,daily")
    parser.add_argument("--keep", default=None, help="keep the generated frames in this directory and reuse them")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generate":
        if (Path(args.dir) / "flags.parquet").exists():  # kept from an earlier run (--keep)
            import polars as pl

            files = {"metric_rows": "metrics.parquet", "flag_rows": "flags.parquet"}
            sizes = {k: pl.scan_parquet(Path(args.dir) / f).select(pl.len()).collect().item() for k, f in files.items()}
            print(json.dumps(sizes))
            return
        print(json.dumps(generate(Path(args.dir), args.stores, args.days, args.long_open)))
        return
    if args.child:
        print(json.dumps(run_one(args.child, Path(args.dir))))
        return
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or scratch
        Path(directory).mkdir(parents=True, exist_ok=True)
        sizes = child(
            ["--child", "generate", "--dir", directory, "--stores", str(args.stores)]
            + ["--days", str(args.days), "--long-open", str(args.long_open)]
        )
        modes = args.modes.split(",")
        if "daily" in modes and not (Path(directory) / "existing.parquet").exists():
            child(["--child", "prepare", "--dir", directory])
        print(
            f"{args.stores} stores x {args.days} days: {sizes['metric_rows']:,} metric rows (with the "
            f"change-point lookback), {sizes['flag_rows']:,} flag rows, {args.long_open} stores open for months"
        )
        print(
            "| run | re-derived from | flag rows read | metric rows read | alerts (open) | seconds (CPU) "
            "| peak RSS (MB) |"
        )
        print("|---|---|---|---|---|---|---|")
        for mode in modes:
            r = child(["--child", mode, "--dir", directory])
            label = "full build" if mode == "full" else f"daily update ({WINDOW_DAYS}-day window)"
            print(
                f"| {label} | {r['window_start']} | {r['flag_rows_read']:,} | {r['metric_rows_read']:,} "
                f"| {r['alerts']:,} ({r['open']:,}) | {r['seconds']} ({r['cpu_seconds']}) "
                f"| {r['peak_rss_mb']} (inputs alone: {r['peak_rss_mb_before']}) |"
            )


if __name__ == "__main__":
    main()
