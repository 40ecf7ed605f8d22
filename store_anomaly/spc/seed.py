"""The seeds' rule set (`rule_set="seed"`), implemented faithfully, flaws included.

Per store and metric, on the raw values:
- baseline: mean and sample standard deviation of the previous `seed_window` (28) days, the current day
  excluded; every row counts (closed days as the zeros they are, holidays as they are), null values are skipped;
- no score until the store has `warmup_days` (28) days of history; a zero sigma gives no Z;
- ``z_score``: |Z| > 3 CRITICAL, > 2 WARNING, > 1.5 INFO;
- Western Electric: ``we1`` one point beyond 3 sigma (CRITICAL); ``we2`` two of three beyond 2 sigma, ``we3``
  four of five beyond 1 sigma, ``we4`` eight in a row on one side of the centre line (WARNING); ``we5`` six in a
  row steadily rising or falling (INFO). A rule fires on the day that completes its pattern, and that day must
  itself be part of the pattern (beyond the zone, on the same side);
- ``rate_of_change``: day-over-day change beyond 25% (WARNING) or 50% (CRITICAL).

Sums are taken over values quantised to 1/128 of a unit and added as integers, so the rolling mean and standard
deviation of a day do not depend on where the series starts (byte-identical re-runs).
"""

from __future__ import annotations

import polars as pl

from store_anomaly.spc.config import SpcConfig

_Q = 128.0
_MAX_ABS = float(2**22)  # |value| above this is clipped for the sums (keeps squared sums inside int64)

GROUP = ["sid", "epoch_start"]


def score_seed(long: pl.DataFrame, metric: str, config: SpcConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Limits and flags of one metric. `long` has sid, shop_no, metric_date, epoch_start, age, x (raw value),
    sorted by sid, metric_date."""
    w = config.seed_window
    q = (pl.col("x").clip(-_MAX_ABS, _MAX_ABS) * _Q).round(0).cast(pl.Int64)
    df = (
        long.with_columns(q.alias("_q"))
        .with_columns(
            pl.col("_q").shift(1).over(GROUP).alias("_qp"),
        )
        .with_columns(
            pl.col("_qp").is_not_null().cast(pl.Int64).rolling_sum(w, min_samples=1).over(GROUP).alias("_n"),
            pl.col("_qp").fill_null(0).rolling_sum(w, min_samples=1).over(GROUP).alias("_s1"),
            (pl.col("_qp") * pl.col("_qp")).fill_null(0).rolling_sum(w, min_samples=1).over(GROUP).alias("_s2"),
        )
    )
    n = pl.col("_n").cast(pl.Float64)
    s1 = pl.col("_s1").cast(pl.Float64)
    s2 = pl.col("_s2").cast(pl.Float64)
    mean = pl.when(n > 0).then(s1 / n / _Q)
    var = pl.when(n > 1).then(pl.max_horizontal((s2 - s1 * s1 / n) / (n - 1), pl.lit(0.0)) / (_Q * _Q))
    df = (
        df.with_columns(mean.alias("center"), var.sqrt().alias("sd"))
        .with_columns(
            (pl.col("center").is_not_null() & pl.col("sd").is_not_null() & (pl.col("age") >= config.warmup_days)).alias(
                "has_limits"
            ),
        )
        .with_columns(
            pl.when(pl.col("has_limits") & (pl.col("sd") > 0))
            .then((pl.col("x") - pl.col("center")) / pl.col("sd"))
            .alias("z"),
        )
    )
    # Western Electric patterns on the Z sequence (windows of consecutive days within the store epoch)
    z = pl.col("z")

    def count(cond: pl.Expr, window: int) -> pl.Expr:
        return cond.fill_null(False).cast(pl.Int32).rolling_sum(window, min_samples=window).over(GROUP)

    df = df.with_columns(
        count(z > 2, 3).alias("_a_up"),
        count(z < -2, 3).alias("_a_dn"),
        count(z > 1, 5).alias("_b_up"),
        count(z < -1, 5).alias("_b_dn"),
        count(z > 0, 8).alias("_c_up"),
        count(z < 0, 8).alias("_c_dn"),
        count(pl.col("x").diff().over(GROUP) > 0, 5).alias("_t_up"),
        count(pl.col("x").diff().over(GROUP) < 0, 5).alias("_t_dn"),
        pl.col("x").shift(1).over(GROUP).alias("_prev"),
    ).with_columns(
        pl.when(pl.col("_prev") > 0).then(pl.col("x") / pl.col("_prev") - 1.0).alias("_roc"),
    )
    limits = df.filter(pl.col("has_limits")).select(
        "metric_date",
        "shop_no",
        pl.lit(metric).alias("metric_name"),
        pl.col("center").alias("center_line"),
        pl.col("sd").alias("sigma"),
        (pl.col("center") + config.seed_z_critical * pl.col("sd")).alias("ucl"),
        (pl.col("center") - config.seed_z_critical * pl.col("sd")).alias("lcl"),
        pl.col("_n").cast(pl.Int64).alias("baseline_days"),
        pl.lit("seed").alias("rule_set"),
        pl.col("x").alias("observed_value"),
        pl.col("z").alias("z_score"),
    )

    scored = df.filter(pl.col("has_limits") & pl.col("x").is_not_null())
    up = pl.col("z") > 0
    direction_z = pl.when(up).then(pl.lit("up")).otherwise(pl.lit("down"))
    abs_z = pl.col("z").abs()
    candidates: list[pl.DataFrame] = []

    def emit(cond: pl.Expr, rule: str, severity: pl.Expr, direction: pl.Expr, detail: pl.Expr) -> None:
        candidates.append(
            scored.filter(cond.fill_null(False)).select(
                "metric_date",
                "shop_no",
                pl.lit(metric).alias("metric_name"),
                pl.lit(rule).alias("rule"),
                pl.col("x").alias("observed_value"),
                pl.col("center").alias("expected_value"),
                pl.col("z").alias("z_score"),
                severity.alias("severity"),
                direction.alias("direction"),
                pl.lit("seed").alias("rule_set"),
                detail.alias("detail"),
            )
        )

    zt = pl.format("Z {} vs 28-day mean {}", pl.col("z").round(2), pl.col("center").round(2))
    emit(
        abs_z > config.seed_z_info,
        "z_score",
        pl.when(abs_z > config.seed_z_critical)
        .then(pl.lit("CRITICAL"))
        .when(abs_z > config.seed_z_warning)
        .then(pl.lit("WARNING"))
        .otherwise(pl.lit("INFO")),
        direction_z,
        zt,
    )
    emit(abs_z > 3, "we1", pl.lit("CRITICAL"), direction_z, pl.concat_str(pl.lit("one point beyond 3 sigma; "), zt))
    emit(
        ((pl.col("_a_up") >= 2) & (pl.col("z") > 2)) | ((pl.col("_a_dn") >= 2) & (pl.col("z") < -2)),
        "we2",
        pl.lit("WARNING"),
        direction_z,
        pl.lit("2 of 3 beyond 2 sigma, same side"),
    )
    emit(
        ((pl.col("_b_up") >= 4) & (pl.col("z") > 1)) | ((pl.col("_b_dn") >= 4) & (pl.col("z") < -1)),
        "we3",
        pl.lit("WARNING"),
        direction_z,
        pl.lit("4 of 5 beyond 1 sigma, same side"),
    )
    emit(
        (pl.col("_c_up") >= 8) | (pl.col("_c_dn") >= 8),
        "we4",
        pl.lit("WARNING"),
        direction_z,
        pl.lit("8 in a row on one side of the centre line"),
    )
    emit(
        (pl.col("_t_up") >= 5) | (pl.col("_t_dn") >= 5),
        "we5",
        pl.lit("INFO"),
        pl.when(pl.col("_t_up") >= 5).then(pl.lit("up")).otherwise(pl.lit("down")),
        pl.lit("6 in a row steadily rising or falling"),
    )
    roc = pl.col("_roc").abs()
    emit(
        roc > config.seed_roc_warning,
        "rate_of_change",
        pl.when(roc > config.seed_roc_critical).then(pl.lit("CRITICAL")).otherwise(pl.lit("WARNING")),
        pl.when(pl.col("_roc") > 0).then(pl.lit("up")).otherwise(pl.lit("down")),
        pl.format("day-over-day change {}%", (pl.col("_roc") * 100).round(1)),
    )
    flags = pl.concat(candidates, how="vertical")
    return limits, flags
