"""Turn the wide `store_daily_metrics` frame into the clean per-metric long series the rules run on.

Cleaning (dirty rows never break a run, and never make a result depend on row order):
- rows without ``shop_no`` or ``metric_date`` are dropped; rows dated outside [start - lookback, end] are ignored;
- duplicate (shop_no, metric_date) rows: one is kept, chosen by content (sorted on every KPI), not by position;
- NaN / infinite KPI values are null; negative values of non-negative KPIs are null;
- each store gets a complete calendar from its first to its last row, missing days being null (not closed),
  so that "the same weekday 3 weeks ago" is always 21 rows back.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from store_anomaly.holiday_calendar import public_holidays
from store_anomaly.spc.config import SpcConfig

KEY_COLUMNS = ("metric_date", "shop_no")


def special_days(config: SpcConfig, first: date, last: date) -> pl.Series:
    """Public holidays of the configured calendar plus `extra_special_days`, between first and last."""
    days = set(public_holidays(first, last, config.holiday_country, config.holiday_subdiv))
    for year in range(first.year, last.year + 1):
        for md in config.extra_special_days:
            month, day = (int(part) for part in md.split("-"))
            d = date(year, month, day)
            if first <= d <= last:
                days.add(d)
    return pl.Series("metric_date", sorted(days), dtype=pl.Date)


def clean_wide(metrics: pl.DataFrame, start: date, end: date, config: SpcConfig) -> pl.DataFrame:
    """The wide frame restricted to the computation window, cleaned, on a complete per-store calendar.

    Columns: metric_date, shop_no, sid (int store index), the metric columns (f64), is_closed, is_special,
    first_date (the store's first row in the window).
    """
    window_start = start - timedelta(days=config.lookback_days)
    frame = metrics.lazy().filter(pl.col("shop_no").is_not_null() & pl.col("metric_date").is_not_null())
    frame = frame.filter(pl.col("metric_date").is_between(window_start, end))
    cols = [pl.col(m).cast(pl.Float64) for m in config.metrics]
    # closed: the explicit flag, else "no orders"
    closed = pl.col("is_closed")
    holiday = pl.col("holiday_name").is_not_null()
    no_orders = pl.col("order_count") == 0
    frame = frame.select(
        pl.col("metric_date"),
        pl.col("shop_no"),
        *cols,
        pl.coalesce(closed, no_orders, pl.lit(False)).alias("is_closed"),
        holiday.alias("_holiday"),
    )
    # sanitise values
    fixes = []
    for m in config.metrics:
        spec = config.metric_specs[m]
        e = pl.when(pl.col(m).is_finite()).then(pl.col(m))
        if spec.nonnegative:
            e = pl.when(pl.col(m).is_finite() & (pl.col(m) >= 0)).then(pl.col(m))
        fixes.append(e.alias(m))
    frame = frame.with_columns(fixes)
    # deterministic de-duplication: sort by content, keep the first row of each (shop, date)
    sort_cols = ["shop_no", "metric_date", "is_closed", *config.metrics]
    frame = frame.sort(sort_cols, nulls_last=True).unique(subset=["shop_no", "metric_date"], keep="first")
    wide = frame.collect()
    if wide.height == 0:
        return _empty_clean(config)

    # complete calendar per store, first row .. last row
    spans = (
        wide.group_by("shop_no")
        .agg(pl.col("metric_date").min().alias("first_date"), pl.col("metric_date").max().alias("last_date"))
        .sort("shop_no")
        .with_row_index("sid")
    )
    grid = spans.select(
        "sid",
        "shop_no",
        "first_date",
        pl.date_ranges("first_date", "last_date", interval="1d").alias("metric_date"),
    ).explode("metric_date")
    full = grid.join(wide, on=["shop_no", "metric_date"], how="left").with_columns(
        pl.col("sid").cast(pl.Int32),
        pl.col("is_closed").fill_null(False),
        pl.col("_holiday").fill_null(False),
    )
    specials = special_days(config, window_start, end)
    full = full.with_columns(
        (pl.col("_holiday") | pl.col("metric_date").is_in(specials.implode())).alias("is_special")
    ).drop("_holiday")
    return full.sort("sid", "metric_date")


def _empty_clean(config: SpcConfig) -> pl.DataFrame:
    schema = {"sid": pl.Int32, "shop_no": pl.String, "first_date": pl.Date, "metric_date": pl.Date}
    schema.update({m: pl.Float64 for m in config.metrics})
    schema.update({"is_closed": pl.Boolean, "is_special": pl.Boolean})
    return pl.DataFrame(schema=schema)


def epoch_starts(wide: pl.DataFrame, metric: str, baseline_resets: pl.DataFrame | None) -> pl.Series:
    """Per row of `wide` (a `clean_wide` frame: sorted by sid, metric_date) the start of the baseline epoch of
    `metric`: the latest operator reset on or before the day (for that metric or for all metrics), else the
    store's first row. A Series ``epoch_start`` aligned with `wide`'s rows."""
    first = wide["first_date"].alias("epoch_start")
    if baseline_resets is None or baseline_resets.height == 0:
        return first
    resets = (
        baseline_resets.lazy()
        .select(
            pl.col("shop_no").cast(pl.String),
            (
                pl.col("metric_name").cast(pl.String)
                if "metric_name" in baseline_resets.columns
                else pl.lit(None, pl.String)
            ).alias("metric_name"),
            pl.col("reset_date").cast(pl.Date),
        )
        .filter(
            pl.col("shop_no").is_not_null()
            & pl.col("reset_date").is_not_null()
            & (pl.col("metric_name").is_null() | (pl.col("metric_name") == metric))
        )
        .group_by("shop_no", "reset_date")
        .agg()
        .sort("reset_date")
        .collect()
    )
    if resets.height == 0:
        return first
    joined = (
        wide.select("sid", "shop_no", "metric_date", "first_date")
        .sort("metric_date")
        .join_asof(
            resets.with_columns(pl.col("reset_date").alias("metric_date")).sort("metric_date"),
            on="metric_date",
            by="shop_no",
            strategy="backward",
            check_sortedness=False,
        )
    )
    return (
        joined.sort("sid", "metric_date")
        .select(pl.max_horizontal("first_date", "reset_date").alias("epoch_start"))
        .to_series()
    )
