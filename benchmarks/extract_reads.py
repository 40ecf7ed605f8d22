"""Whether the four dated extracts would gain from reading their sources at once instead of one after the other.

    .venv/bin/python benchmarks/extract_reads.py [--start 2025-12-28] [--end 2025-12-31] [--repeats 3]

In the daily run each dated extract (`source_sales_order_daily`, `source_opproduction_daily`,
`source_opqualitycontrol_daily`, `source_opempefficiency_daily`) is a step of its own, and the in-process executor
runs steps one after the other; each step already reads its own queries at once (and a short range in halves,
`sources.extracts.fetch_parts`). This times the four steps' source reads for a range both ways, alternated (best of
`--repeats`), on the sources of the STORE_ANOMALY_*_URL variables (e.g. those `benchmarks/scale.py --keep` leaves),
and checks both read the same rows. On one local server whose cores the per-step reads already keep busy the gain is
small; on five database servers it is what one step reading every source at once would win.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from datetime import date

import polars as pl

from store_anomaly.mysql import read_concurrently
from store_anomaly.resources import PlatformSettings, SourceDatabase
from store_anomaly.settings import SOURCE_ENV_VARS
from store_anomaly.sources import extracts
from store_anomaly.sources.assets import SHOPS_SCHEMA, SHOPS_SQL, date_scope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 12, 28))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    databases = {
        source: SourceDatabase(name=source, url=os.environ[variable], env_var=variable)
        for source, variable in SOURCE_ENV_VARS.items()
    }
    shops = databases["opshop"].fetch_frame(SHOPS_SQL, None, SHOPS_SCHEMA)
    scope = date_scope(args.start, args.end, shops, PlatformSettings())
    # per dated extract step: the queries it reads at once (`extracts.SOURCE_EXTRACTS`, in the assets' order)
    reads_of_step: dict[str, list] = {}
    for source, sql_of, schema in extracts.SOURCE_EXTRACTS:
        reads_of_step.setdefault(source, []).append((databases[source], sql_of, schema))

    def step(source: str) -> list[pl.DataFrame]:
        return extracts.fetch_parts_concurrently(reads_of_step[source], scope)

    steps = [functools.partial(step, source) for source in reads_of_step]
    timings: dict[str, list[float]] = {"one step after the other": [], "every source at once": []}
    results = {}
    for _ in range(args.repeats):
        for way, run in (
            ("one step after the other", lambda: [read() for read in steps]),
            ("every source at once", lambda: read_concurrently(steps)),
        ):
            began = time.perf_counter()
            results[way] = run()
            timings[way].append(time.perf_counter() - began)
    sequential, together = results.values()
    for one, other in zip(sequential, together, strict=True):
        for a, b in zip(one, other, strict=True):
            key = ["dept_id", "business_date"]
            assert a.sort(key).equals(b.sort(key)), "the two ways read different rows"
    rows = sum(frame.height for frames in sequential for frame in frames)
    print(f"{args.start} .. {args.end}: {rows:,} rows from the four dated sources, the same both ways")
    for way, seconds in timings.items():
        print(f"  {way:<26} best {min(seconds):.2f} s  ({', '.join(f'{s:.2f}' for s in seconds)})")


if __name__ == "__main__":
    main()
