"""Calibrate the default rule set's thresholds to the false-alarm budget by simulation.

Run from the repository root:

    .venv/bin/python benchmarks/calibrate.py                 # 150 stable stores, 13 scored months, seed 101
    .venv/bin/python benchmarks/calibrate.py --stores 60 --seed 5

Simulates stable stores of a chain (`store_anomaly.spc.simulate`, with the chain's season, weather and event
days), scores them with the default rule set and prints, for a grid of thresholds, how many days per
store-month each test would flag: the ``anchored_drift`` GLR statistic per KPI and direction (with the KPI's
materiality), and, per side, the point rule's Z and the shift CUSUM on the tested KPIs (the two sides of a
log-scale KPI are not alike: a day's lower tail is heavier, and a rise of 20% is a smaller step in log units than
a fall of 20%). The thresholds of `SpcConfig.default()` are read off
these tables so that each test spends its share of the budget (docs/spc.md, "False-alarm budget"). The seed is
not the detection battery's: the battery measures what the calibration chose.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import polars as pl

from store_anomaly.spc import SpcConfig, compute_spc
from store_anomaly.spc.prepare import special_days
from store_anomaly.spc.simulate import StoreSpec, random_chain, simulate_stores

SERIES_START = date(2024, 1, 1)
SERIES_END = date(2025, 12, 31)
SCORE_START = date(2024, 12, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=150)
    parser.add_argument("--seed", type=int, default=101)
    args = parser.parse_args(argv)
    config = SpcConfig.default()
    stores = [StoreSpec(f"S{i:04d}") for i in range(args.stores)]
    chain = random_chain(SERIES_START, SERIES_END, args.seed)
    metrics = simulate_stores(stores, SERIES_START, SERIES_END, seed=args.seed, chain=chain)
    t0 = time.perf_counter()
    limits = compute_spc(metrics, SCORE_START, SERIES_END, config).limits
    # holidays and special days are never flagged: leave them out of the rates
    limits = limits.filter(~pl.col("metric_date").is_in(special_days(config, SCORE_START, SERIES_END).implode()))
    months = limits.select("shop_no", "metric_date").unique().height / 30.4375
    print(
        f"{args.stores} stable stores, {months:.0f} store-months, seed {args.seed}, scored in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    grid = [2.75, 3.0, 3.25, 3.5, 3.75, 4.0, 4.5, 5.0, 6.0]
    print(
        "\n## anchored_drift: days with GLR above h per store-month (materiality applied), and in brackets the "
        "signals: excursions above h (a day above h after a day that was not)\n"
    )
    print("| KPI | side | " + " | ".join(f"h={h:g}" for h in grid) + " |")
    print("|---|---|" + "---|" * len(grid))
    for metric in config.metrics:
        spec = config.metric_specs[metric]
        rows = limits.filter(pl.col("metric_name") == metric).sort("shop_no", "metric_date")
        for side in ("up", "down"):
            if spec.drift_test not in ("both", side):
                continue
            change = pl.col(f"drift_change_{side}") * (1 if side == "up" else -1)
            cells = []
            for h in grid:
                above = ((pl.col(f"drift_glr_{side}") > h) & (change >= spec.material_change)).fill_null(False)
                marked = rows.select(
                    "shop_no", above.alias("on"), above.shift(1).over("shop_no").fill_null(False).alias("before")
                )
                days = marked["on"].sum() / months
                signals = marked.filter(pl.col("on") & ~pl.col("before")).height / months
                cells.append(f"{days:.3f} ({signals:.3f})")
            print(f"| {metric} | {side} | " + " | ".join(cells) + " |")
    zgrid = [2.75, 3.0, 3.25, 3.5, 3.75, 4.0, 4.5, 5.0, 6.0]
    print("\n## robust_z: days with Z beyond the threshold per store-month, per side (tested KPIs)\n")
    print("| KPI | side | " + " | ".join(f"z={z:g}" for z in zgrid) + " |")
    print("|---|---|" + "---|" * len(zgrid))
    for metric in config.metrics:
        if not config.metric_specs[metric].tested:
            continue
        rows = limits.filter((pl.col("metric_name") == metric) & pl.col("z_score").is_not_null())
        for side, sign in (("up", 1), ("down", -1)):
            cells = [f"{rows.filter(pl.col('z_score') * sign > z).height / months:.4f}" for z in zgrid]
            print(f"| {metric} | {side} | " + " | ".join(cells) + " |")
    hgrid = [2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    print("\n## cusum_shift: days with the CUSUM (k = fast_k) above h per store-month, per side (tested KPIs)\n")
    print("| KPI | side | " + " | ".join(f"h={h:g}" for h in hgrid) + " |")
    print("|---|---|" + "---|" * len(hgrid))
    for metric in config.metrics:
        if not config.metric_specs[metric].tested:
            continue
        rows = limits.filter((pl.col("metric_name") == metric) & pl.col("z_score").is_not_null())
        for side in ("up", "down"):
            cells = [f"{rows.filter(pl.col(f'cusum_shift_{side}') > h).height / months:.4f}" for h in hgrid]
            print(f"| {metric} | {side} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
