"""Entry points: control limits and anomaly flags for a date range, in one vectorised pass.

See the package docstring (`store_anomaly.spc`) for the API and the output columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import polars as pl

from store_anomaly.spc.config import SpcConfig
from store_anomaly.spc.prepare import clean_wide, epoch_starts
from store_anomaly.spc.robust import FLAGS_SCHEMA, score_default_chunks
from store_anomaly.spc.seed import score_seed

SEVERITIES = ("INFO", "WARNING", "CRITICAL")
# What identifies a row of the limits (one per store, metric and day) and of the flags (one per rule besides).
LIMITS_KEY = ("metric_date", "shop_no", "metric_name")
FLAGS_KEY = (*LIMITS_KEY, "rule")
# A secondary index of the limits table holding what a control chart draws (centre line, WARNING limits, the
# anchored reference) beside the key: a window of days read from it alone reads a fifth of the bytes the table's
# rows hold (a year of 1,000 stores: 180-190 of 840-860 MiB; the reports' read of it 2.6-2.9 -> 1.8-1.9 s on 2
# cores, `benchmarks/report_limits_read.py`). The planner prefers the primary key's range: readers name the index.
LIMITS_CHART_INDEX = ("chart_columns", (*LIMITS_KEY, "center_line", "ucl", "lcl", "anchor_value"))

LIMITS_SCHEMA: dict[str, pl.DataType] = {
    "metric_date": pl.Date(),
    "shop_no": pl.String(),
    "metric_name": pl.String(),
    "center_line": pl.Float64(),
    "sigma": pl.Float64(),
    "ucl": pl.Float64(),
    "lcl": pl.Float64(),
    "baseline_days": pl.Int64(),
    "rule_set": pl.String(),
    "observed_value": pl.Float64(),
    "z_score": pl.Float64(),
    "center_days": pl.Int64(),
    "scale": pl.String(),
    "center_transformed": pl.Float64(),
    "sigma_transformed": pl.Float64(),
    "reference_value": pl.Float64(),
    "cusum_shift_up": pl.Float64(),
    "cusum_shift_down": pl.Float64(),
    "cusum_drift_up": pl.Float64(),
    "cusum_drift_down": pl.Float64(),
    "drift_z": pl.Float64(),
    "is_outlier": pl.Boolean(),
    "chain_effect": pl.Float64(),
    "chain_stores": pl.Int64(),
    "chain_adjusted_center": pl.Float64(),
    "anchor_value": pl.Float64(),
    "anchor_since": pl.Date(),
    "anchor_change": pl.Float64(),
    "anchor_stat": pl.Float64(),
    "recent_level": pl.Float64(),
    "drift_glr_up": pl.Float64(),
    "drift_glr_down": pl.Float64(),
    "drift_change_up": pl.Float64(),
    "drift_change_down": pl.Float64(),
}

FLAG_KEY = ("shop_no", "metric_date", "metric_name", "rule")

# stores scored at a time by the default rule set (memory: ~1 GB of working columns per 1,000 stores x 600 days)
CHUNK_STORES = 100
# A range of at most SHORT_RANGE_DAYS (the daily run's few days, the sensor's late week) is scored
# SHORT_RANGE_CHUNK_STORES stores at a time: each stage then runs only over the days the later stages read, so
# a chunk holds a fraction of the working rows of a backfill's, and the ~1,500 polars passes per chunk cost
# mostly their fixed overhead. 1,000 stores x 4 days after a year: 9.5 s in chunks of 100 (peak 627 MiB), 5.6 s
# in one (768 MiB).
SHORT_RANGE_DAYS = 7
SHORT_RANGE_CHUNK_STORES = 1_000
SHORT_RANGE_THREADS = 2


@dataclass(frozen=True)
class SpcResult:
    limits: pl.DataFrame
    flags: pl.DataFrame


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    exprs = []
    for name, dtype in schema.items():
        if name in frame.columns:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype).alias(name))
    return frame.select(exprs)


def metric_rows(wide: pl.DataFrame, metric: str, epoch_start: pl.Expr | pl.Series) -> pl.DataFrame:
    """One KPI's rows as the scorers read them: the value as `x`, the store's baseline epoch (`epoch_start`, a
    column aligned with `wide`, or an expression over it, named so) and the days since it (`age`)."""
    return wide.select(
        "sid",
        "shop_no",
        "metric_date",
        "is_closed",
        "is_special",
        pl.col(metric).alias("x"),
        epoch_start,
    ).with_columns((pl.col("metric_date") - pl.col("epoch_start")).dt.total_days().alias("age"))


def compute_spc_by_metric(
    metrics: pl.DataFrame,
    start: date,
    end: date,
    config: SpcConfig,
    baseline_resets: pl.DataFrame | None = None,
    chunk_stores: int | None = None,
) -> Iterator[SpcResult]:
    """`compute_spc`'s rows one KPI at a time (`config.metrics` order; limits sorted by store and day, flags by
    store, day and rule): in a long range each KPI's part is scored only when the previous one has been taken, so
    a caller that writes and drops each part never holds the range's whole output (a year of 1,000 stores' limits
    is 3.3M rows, ~1 GB, beside the scoring's own working columns); a short range's (at most SHORT_RANGE_DAYS)
    are scored in SHORT_RANGE_THREADS threads. The parts together equal `compute_spc`'s result."""
    if end < start:
        return
    wide = clean_wide(metrics, start, end, config)
    if wide.height == 0:
        return
    # slices of whole stores: rows are sorted by sid, so each slice is a contiguous range of rows
    sizes = wide.group_by("sid").len().sort("sid")["len"].to_list()
    bounds = [0]
    short = (end - start).days < SHORT_RANGE_DAYS
    if chunk_stores is None:
        chunk_stores = SHORT_RANGE_CHUNK_STORES if short else CHUNK_STORES
    step = len(sizes) if config.rule_set == "seed" else max(1, chunk_stores)
    for k in range(0, len(sizes), step):
        bounds.append(bounds[-1] + sum(sizes[k : k + step]))
    in_range = pl.col("metric_date").is_between(start, end)

    def scored(metric: str) -> SpcResult:
        # (`wide` is sorted by sid, metric_date, one row per store and day: the epochs are aligned with its rows)
        long = metric_rows(wide, metric, epoch_starts(wide, metric, baseline_resets))
        slices = [long.slice(lo, hi - lo) for lo, hi in pairwise(bounds)]
        del long
        if config.rule_set == "seed":
            by_chunk = [score_seed(slices[0], metric, config)]
        else:
            by_chunk = score_default_chunks(slices, metric, config, keep=in_range, start=start)
        limits_parts, flags_parts = [], []
        for limits, flags in by_chunk:
            limits_parts.append(_conform(limits.filter(in_range), LIMITS_SCHEMA))
            flags_parts.append(_conform(flags.filter(in_range), FLAGS_SCHEMA))
        del by_chunk
        return SpcResult(
            limits=pl.concat(limits_parts).sort("shop_no", "metric_date"),
            flags=pl.concat(flags_parts).sort("shop_no", "metric_date", "rule"),
        )

    if not short:  # a handful of metrics, one after the other; each is one vectorised pass
        for metric in config.metrics:
            yield scored(metric)
        return
    # A short range's passes are small, and cost mostly polars' fixed overhead per pass, part of it outside the
    # interpreter lock: KPIs scored in two threads at once (1,000 stores x 4 days: 7.1 -> 5.2 s on 2 cores). Not a
    # long range's: two KPIs' working columns at once would double its peak memory.
    with ThreadPoolExecutor(max_workers=SHORT_RANGE_THREADS, thread_name_prefix="spc-kpi") as pool:
        yield from pool.map(scored, config.metrics)


def compute_spc(
    metrics: pl.DataFrame,
    start: date,
    end: date,
    config: SpcConfig,
    baseline_resets: pl.DataFrame | None = None,
    chunk_stores: int | None = None,
) -> SpcResult:
    """Control limits and anomaly flags for every store x metric x day in [start, end].

    Rows of `metrics` dated before ``start - config.lookback_days`` or after `end` are ignored. `chunk_stores`: the
    default rule set scores that many stores at a time (after the chain effects, which need every store's
    residuals of the day); it bounds memory and never changes the result. Default: CHUNK_STORES, or
    SHORT_RANGE_CHUNK_STORES for a range of at most SHORT_RANGE_DAYS. The whole range's output at once: a
    writer takes `compute_spc_by_metric`'s parts instead.
    """
    parts = list(compute_spc_by_metric(metrics, start, end, config, baseline_resets, chunk_stores))
    if not parts:
        return SpcResult(pl.DataFrame(schema=LIMITS_SCHEMA), pl.DataFrame(schema=FLAGS_SCHEMA))
    limits = pl.concat([part.limits for part in parts]).sort("shop_no", "metric_name", "metric_date")
    flags = pl.concat([part.flags for part in parts]).sort("shop_no", "metric_date", "metric_name", "rule")
    return SpcResult(limits=limits, flags=flags)


def compute_anomaly_flags(
    metrics: pl.DataFrame,
    start: date,
    end: date,
    config: SpcConfig,
    baseline_resets: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`store_anomaly_flags` rows for [start, end] (see `compute_spc`)."""
    return compute_spc(metrics, start, end, config, baseline_resets).flags
