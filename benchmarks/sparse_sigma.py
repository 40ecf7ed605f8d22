"""Sparse KPIs (qc_score, expired_qty): stable stores' false alarms and quality drops caught, per pooled-sigma share.

Run from the repository root:

    .venv/bin/python benchmarks/sparse_sigma.py                      # seed 11, shares 0 (off) and 0.75
    .venv/bin/python benchmarks/sparse_sigma.py --seed 7 --pools 0,0.5,0.75,1

A sparse KPI's sigma reads a few dozen inspections at most (one or two a week), so it can collapse by chance and
turn an ordinary score into an absurd Z. `SpcConfig.sparse_sigma_pool` floors it at a share of the chain's pooled
sigma (docs/spc.md, "Sparse KPIs"). This benchmark scores only the sparse KPIs (seconds instead of minutes) on
stable stores (as `benchmarks/detection.py` draws them) plus stores whose QC score drops by a known amount from a
random onset (the simulator has no quality driver: the drop is subtracted from the simulated scores, which are
clipped to 0-100 like the simulator's). It prints, per share, the stable stores' WARNING-or-worse flags per
store-month and CRITICAL flags on the sparse KPIs, and per drop the days from onset to the first WARNING-or-worse
and to the first CRITICAL flag on qc_score (inspections are one or two a week: a delay counts calendar days).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import numpy as np
import polars as pl

from store_anomaly.spc import SpcConfig, compute_spc
from store_anomaly.spc.simulate import StoreSpec, random_chain, simulate_stores

try:  # run as a script from the repository root
    from detection import ONSET_FIRST, ONSET_LAST, SCORE_START, SERIES_END, SERIES_START
except ImportError:  # imported as benchmarks.sparse_sigma
    from benchmarks.detection import ONSET_FIRST, ONSET_LAST, SCORE_START, SERIES_END, SERIES_START

HORIZON = 90  # days after onset searched for the first flag
# (name, points lost after ramp_days (a step when ramp_days is 0), ramp_days); the simulator's QC noise is 3 points
DROPS = [
    ("step -6 points (2 sigma)", -6.0, 0),
    ("step -9 points (3 sigma)", -9.0, 0),
    ("step -15 points (5 sigma)", -15.0, 0),
    ("step -25 points (8 sigma)", -25.0, 0),
    ("decline -12 points over 60 days", -12.0, 60),
]
SPARSE = ("qc_score", "expired_qty")


def battery(replicates: int, stable: int, seed: int) -> tuple[pl.DataFrame, dict[str, tuple[str, object]]]:
    """The sparse KPIs of `stable` stable stores and `replicates` stores per drop, and each drop store's truth."""
    rng = np.random.default_rng([seed, 17])
    span = (ONSET_LAST - ONSET_FIRST).days
    stores = [StoreSpec(f"S{i:04d}") for i in range(stable)]
    truth: dict[str, tuple[str, object]] = {}
    effects = []
    for di, (name, size, ramp) in enumerate(DROPS):
        for r in range(replicates):
            shop = f"Q{di:02d}{r:03d}"
            onset = ONSET_FIRST + timedelta(days=int(rng.integers(0, span)))
            stores.append(StoreSpec(shop))
            truth[shop] = (name, onset)
            effects.append({"shop_no": shop, "onset": onset, "size": size, "ramp": ramp})
    chain = random_chain(SERIES_START, SERIES_END, seed)
    metrics = simulate_stores(stores, SERIES_START, SERIES_END, seed=seed, chain=chain)
    days = (pl.col("metric_date") - pl.col("onset")).dt.total_days()
    share = pl.when(pl.col("ramp") > 0).then(((days + 1) / pl.col("ramp")).clip(0.0, 1.0)).otherwise(1.0)
    drop = pl.when(days >= 0).then(pl.col("size") * share).otherwise(0.0)
    metrics = (
        metrics.join(pl.DataFrame(effects), on="shop_no", how="left")
        .with_columns((pl.col("qc_score") + drop.fill_null(0.0)).clip(0.0, 100.0).round(1).alias("qc_score"))
        .drop("onset", "size", "ramp")
    )
    return metrics, truth


def evaluate(flags: pl.DataFrame, truth: dict, stable: int) -> tuple[dict, dict]:
    serious = flags.filter(pl.col("severity").is_in(["WARNING", "CRITICAL"]))
    months = stable * ((SERIES_END - SCORE_START).days + 1) / 30.4375
    st = serious.filter(pl.col("shop_no").str.starts_with("S"))
    false = {
        "per_store_month": st.height / months,
        "critical": st.filter(pl.col("severity") == "CRITICAL").height,
        "by_metric": {m: st.filter(pl.col("metric_name") == m).height / months for m in SPARSE},
    }
    qc = serious.filter(pl.col("metric_name") == "qc_score")
    onsets = pl.DataFrame(
        [{"shop_no": s, "drop": name, "onset": onset} for s, (name, onset) in truth.items()],
        schema={"shop_no": pl.String, "drop": pl.String, "onset": pl.Date},
    )
    hits = qc.join(onsets, on="shop_no").filter(
        (pl.col("metric_date") >= pl.col("onset"))
        & (pl.col("metric_date") <= pl.col("onset") + timedelta(days=HORIZON))
    )
    first = (
        hits.group_by("shop_no")
        .agg(
            (pl.col("metric_date").min() - pl.col("onset").first()).dt.total_days().alias("warning"),
            (pl.col("metric_date").filter(pl.col("severity") == "CRITICAL").min() - pl.col("onset").first())
            .dt.total_days()
            .alias("critical"),
        )
        .join(onsets, on="shop_no", how="right")
    )
    table = {}
    for name, _, _ in DROPS:
        rows = first.filter(pl.col("drop") == name)
        cells = {}
        for col in ("warning", "critical"):
            found = rows[col].drop_nulls()
            cells[col] = (
                found.len(),
                rows.height,
                None if found.is_empty() else float(found.median()),
                None if found.is_empty() else float(found.quantile(0.9, "higher")),
            )
        table[name] = cells
    return false, table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--replicates", type=int, default=48)
    parser.add_argument("--stable", type=int, default=150)
    parser.add_argument("--pools", default="0,0.75", help="comma-separated `sparse_sigma_pool` shares (0: off)")
    args = parser.parse_args(argv)
    metrics, truth = battery(args.replicates, args.stable, args.seed)
    print(f"seed {args.seed}: {args.stable} stable stores, {args.replicates} stores per drop, {metrics.height} rows")
    results = {}
    for pool in [float(p) for p in args.pools.split(",")]:
        t0 = time.perf_counter()
        config = SpcConfig.default(metrics=SPARSE, sparse_sigma_pool=pool)
        flags = compute_spc(metrics, SCORE_START, SERIES_END, config).flags
        results[pool] = evaluate(flags, truth, args.stable)
        print(f"sparse_sigma_pool {pool:g}: scored in {time.perf_counter() - t0:.1f} s")

    def fmt(cell: tuple) -> str:
        found, n, median, p90 = cell
        return f"{found}/{n}: " + ("-" if median is None else f"{median:g} / {p90:g}")

    print("\n| sparse_sigma_pool | stable: WARNING+ per store-month (qc_score, expired_qty) | stable: CRITICAL |")
    print("|---|---|---|")
    for pool, (false, _) in results.items():
        by = false["by_metric"]
        print(
            f"| {pool:g} | {false['per_store_month']:.3f} ({by['qc_score']:.3f}, {by['expired_qty']:.3f}) | "
            f"{false['critical']} |"
        )
    print(
        "\n| drop | "
        + " | ".join(
            f"{p:g}: WARNING+ caught, median / p90 days | {p:g}: CRITICAL caught, median / p90" for p in results
        )
        + " |"
    )
    print("|---|" + "---|---|" * len(results))
    for name, _, _ in DROPS:
        cells = [name]
        for _, table in results.values():
            cells += [fmt(table[name]["warning"]), fmt(table[name]["critical"])]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
