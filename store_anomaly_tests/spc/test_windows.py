"""The per-group window sums without a group-by equal the group-wise rolling sums they replace, exactly; the stage
cuts keep every value a later stage reads."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from store_anomaly.spc import SpcConfig
from store_anomaly.spc.engine import metric_rows
from store_anomaly.spc.prepare import clean_wide
from store_anomaly.spc.robust import (
    StageCuts,
    _apply_pool,
    _center_columns,
    _first_pass_spread,
    _pools_sigma,
    _screen_and_center,
    stage_cuts,
)
from store_anomaly.spc.simulate import Anomaly, StoreSpec, simulate_stores
from store_anomaly.spc.windows import (
    GROUP,
    add_group_index,
    lag,
    running_sum,
    weekday_sum,
    window_sum,
)


def _groups() -> pl.DataFrame:
    """Stores of different lengths, one with a baseline restart (two epochs), on a complete calendar, with nulls."""
    rng = np.random.default_rng(7)
    frames = []
    for sid, days in enumerate((1, 5, 40, 130, 300)):
        first = date(2025, 1, 1) + timedelta(days=sid)
        dates = [first + timedelta(days=d) for d in range(days)]
        epoch = [first if d < days // 2 or sid != 4 else dates[days // 2] for d in range(days)]
        values = rng.integers(-(2**40), 2**40, days)
        frames.append(
            pl.DataFrame(
                {"sid": [sid] * days, "epoch_start": epoch, "metric_date": dates, "v": values},
                schema={"sid": pl.Int32, "epoch_start": pl.Date, "metric_date": pl.Date, "v": pl.Int64},
            )
        )
    df = pl.concat(frames).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 3).then(None).otherwise(pl.col("v")).alias("v"),
        pl.col("metric_date").dt.weekday().alias("_wd"),
    )
    return add_group_index(df)


def test_the_group_index_counts_rows_within_each_group() -> None:
    df = _groups()
    assert df["_i"].equals(df.select(pl.int_range(pl.len(), dtype=pl.Int64).over(GROUP))["literal"], check_names=False)


def test_lags_and_window_sums_equal_the_group_wise_rolling_sums() -> None:
    df = _groups().with_columns(pl.col("v").fill_null(0).alias("_vf"))
    df = df.with_columns(running_sum(pl.col("_vf")).alias("_run"))
    expected = df.select(
        pl.col("v").shift(3).over(GROUP).alias("lag3"),
        pl.col("_vf").cum_sum().over(GROUP).alias("run"),
        *[
            pl.col("_vf")
            .shift(offset)
            .fill_null(0)
            .rolling_sum(window, min_samples=1)
            .over(GROUP)
            .alias(f"w{window}_{offset}")
            for window, offset in ((1, 0), (7, 1), (28, 1), (56, 8), (84, 1))
        ],
        pl.col("_vf").shift(1).fill_null(0).rolling_sum(12, min_samples=1).over([*GROUP, "_wd"]).alias("weekday"),
    )
    got = df.select(
        lag(pl.col("v"), 3).alias("lag3"),
        pl.col("_run").alias("run"),
        *[
            window_sum("_run", window, offset).alias(f"w{window}_{offset}")
            for window, offset in ((1, 0), (7, 1), (28, 1), (56, 8), (84, 1))
        ],
        weekday_sum("_vf", 12).alias("weekday"),
    )
    assert got.equals(expected)


def test_the_index_is_taken_again_after_a_cut() -> None:
    df = _groups()
    cut = add_group_index(df.filter(pl.col("metric_date") >= date(2025, 2, 1)))
    assert cut["_i"].equals(
        cut.select(pl.int_range(pl.len(), dtype=pl.Int64).over(GROUP))["literal"], check_names=False
    )


def _screened(long: pl.DataFrame, spec, config: SpcConfig, cuts: StageCuts | None = None) -> pl.DataFrame:
    """The first pass's spread, the chain's pooled floor (sparse KPIs) and the screen, as the scorer runs them."""
    frames = [_first_pass_spread(long, spec, config, cuts)]
    if _pools_sigma(spec, config):
        _apply_pool(frames, "_s0own", "_s0pool", config)
    return _screen_and_center(frames[0], spec, config, cuts)


@pytest.mark.parametrize("metric", ["order_count", "qc_score"])
def test_the_stage_cuts_keep_every_value_a_later_stage_reads(metric: str) -> None:
    """The screen and the second pass, run on the rows `stage_cuts` keeps, give the uncut run's values on every
    row the later stages read: the centre line (and its days and weekday factor) and the outlier decisions from
    `scored` on, the drift reference where the drift CUSUM reads it. Exact sums make an edge day off by one visible."""
    config = SpcConfig.default()
    end = date(2025, 12, 31)
    start = end - timedelta(days=3)
    first = start - timedelta(days=config.lookback_days + 30)
    stores = [StoreSpec(f"S{i}") for i in range(3)] + [
        StoreSpec("OUT", anomaly=Anomaly("outage", "outage", -1.0, end - timedelta(days=300)))
    ]
    wide = clean_wide(simulate_stores(stores, first, end, seed=5), start, end, config)
    long = metric_rows(wide, metric, pl.col("first_date").alias("epoch_start"))
    spec = config.metric_specs[metric]
    cuts = stage_cuts(spec, config, start)
    uncut = _screened(long, spec, config)
    cut = _screened(long, spec, config, cuts)
    read = ["shop_no", "metric_date", "center_t", "center_days", "factor_t", "is_outlier", "_yc"]

    def rows(frame: pl.DataFrame, since: date, columns: list[str]) -> pl.DataFrame:
        return frame.filter(pl.col("metric_date") >= since).select(columns).sort("shop_no", "metric_date")

    assert cut["metric_date"].min() == cuts.scored
    assert rows(cut, cuts.scored, read).equals(rows(uncut, cuts.scored, read))
    cusum_from = start - timedelta(days=config.cusum_window_days - 1)
    drift = ["shop_no", "metric_date", "ref_t"]
    assert rows(cut, cusum_from, drift).equals(rows(uncut, cusum_from, drift))
    # (a cut one day later than `screened` would change the centre line on the first kept days)
    late = StageCuts(cuts.values, cuts.screen, cuts.screened + timedelta(days=1), cuts.scored)
    assert not rows(_screened(long, spec, config, late), cuts.scored, read).equals(rows(uncut, cuts.scored, read))


def test_the_screen_takes_its_level_over_the_rows_its_window_reads() -> None:
    """The first pass's centre, with its level taken only over the rows from `needed_from - level_days`, equals
    the uncut one from `needed_from` on; one row fewer would change it."""
    config = SpcConfig.default()
    spec = config.metric_specs["order_count"]
    end = date(2025, 12, 31)
    wide = clean_wide(
        simulate_stores([StoreSpec(f"S{i}") for i in range(3)], date(2024, 6, 1), end, seed=9), end, end, config
    )
    df = add_group_index(
        wide.select(
            "sid",
            "metric_date",
            pl.col("first_date").alias("epoch_start"),
            pl.when(~pl.col("is_closed") & ~pl.col("is_special")).then(pl.col("order_count").log()).alias("_y0"),
            pl.col("metric_date").dt.weekday().alias("_wd"),
        )
    )
    needed = date(2025, 6, 1)

    def centre(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("metric_date") >= needed).select("sid", "metric_date", "_m0")

    uncut = centre(_center_columns(df, "_y0", spec, config, True, "_m0"))
    assert centre(_center_columns(df, "_y0", spec, config, True, "_m0", needed)).equals(uncut)
    assert not centre(_center_columns(df, "_y0", spec, config, True, "_m0", needed + timedelta(days=1))).equals(uncut)
