"""Pure helpers for the SPC asset checks. Each returns the offending rows (an empty frame means the check passes)."""

from __future__ import annotations

import polars as pl

from store_anomaly.spc.engine import FLAG_KEY, SEVERITIES

_EPS = 1e-9


def malformed_limits(limits: pl.DataFrame) -> pl.DataFrame:
    """Limits rows that are not well formed: lcl <= center_line <= ucl violated, negative sigma, or a null
    centre / sigma / limit."""
    return limits.filter(
        pl.any_horizontal(pl.col("center_line", "sigma", "ucl", "lcl").is_null())
        | (pl.col("sigma") < 0)
        | (pl.col("lcl") > pl.col("center_line") + _EPS * pl.col("center_line").abs().clip(lower_bound=1.0))
        | (pl.col("center_line") > pl.col("ucl") + _EPS * pl.col("center_line").abs().clip(lower_bound=1.0))
    )


def flags_without_baseline(flags: pl.DataFrame, limits: pl.DataFrame) -> pl.DataFrame:
    """Flags whose (store, metric, day) has no control-limits row."""
    keys = limits.select("shop_no", "metric_name", "metric_date").unique()
    return flags.join(keys, on=["shop_no", "metric_name", "metric_date"], how="anti")


def flags_in_warmup(flags: pl.DataFrame, first_days: pl.DataFrame, warmup_days: int = 28) -> pl.DataFrame:
    """Flags dated inside a store's first `warmup_days` in-scope days. `first_days`: shop_no, first_date (the
    store's first in-scope day, e.g. min(metric_date) of `store_daily_metrics` or its open date)."""
    return (
        flags.join(first_days.select("shop_no", "first_date"), on="shop_no", how="inner")
        .filter((pl.col("metric_date") - pl.col("first_date")).dt.total_days() < warmup_days)
        .drop("first_date")
    )


def invalid_flags(flags: pl.DataFrame) -> pl.DataFrame:
    """Flags with an unknown severity or direction, or duplicated on (shop_no, metric_date, metric_name, rule)."""
    dup = flags.filter(pl.struct(list(FLAG_KEY)).is_duplicated())
    bad = flags.filter(~pl.col("severity").is_in(list(SEVERITIES)) | ~pl.col("direction").is_in(["up", "down"]))
    return pl.concat([dup, bad]).unique(maintain_order=True)
