"""The product's rule set (`rule_set="default"`): robust, weekday- and holiday-aware, scale-aware SPC.

Per store, metric and baseline epoch, on the transformed value y = T(value) (log for proportional KPIs, Anscombe
square root for small counts, identity for scores; see `MetricSpec`):

1. Usable days. Closed days, holidays (and the configured special days) and missing values never enter a
   baseline.
2. First pass (outlier screen, robust): expected m0 = median level of the last `level_days` days + the centred
   weekday effect (same-weekday medians over `baseline_weeks` weeks); s0 = quantile spread of the previous
   `scale_days` residuals y - m0. A day with |y - m0| / s0 > `outlier_z` is an outlier and is kept out of every
   later baseline: the non-recursive form of "flagged days stay out of later baselines" (a spike, an outage or a
   glitch never blinds the chart, and the next similar incident is seen).
3. Second pass, on screened days (efficient): the store's own expectation e0 = mean level of the last
   `level_days` days + centred weekday factor (same-weekday means over `baseline_weeks` weeks, minus their 7-day
   average: a week's factors sum to zero, so their errors cancel over any 7 consecutive days).
   Chain effect c (`store_anomaly.spc.chain`): the same day's median of y - e0 over the other stores of the
   cross-section (past warm-up, trading, not a holiday; at least `chain_min_stores` of them, else c = 0).
   Expected value e = e0 + c (log scale: e0 x the chain's movement that day): what every store sees that day
   (season, weather, a city-wide event) is not a store anomaly. Sigma s = standard deviation of the previous
   `scale_days` chain-relative one-step-ahead residuals y - e (so it includes the baseline's own error and the
   chain estimate's), floored by the metric's sigma floor, its Poisson noise (counts) and its granularity (one
   person, one shift). Z = (y - e) / s.
4. Rules (each flag names its rule and direction):
   - ``robust_z``: Shewhart individual chart on Z: |Z| > 3 INFO, > 4 WARNING, > 6 CRITICAL (per-KPI tiers from
     `MetricSpec.warning_z` / `critical_z`: headcount WARNING > 3, staffing CRITICAL > 8).
   - ``cusum_shift``: two-sided CUSUM of Z (k=1, h=4): a step of ~2 sigma or more within about two days.
   - ``anchored_drift`` (`store_anomaly.spc.anchor`): the weekday-adjusted level against the anchored reference,
     the level before a candidate onset (a window-limited GLR for a ramp, chain-relative); thresholds from the
     false-alarm budget; rises of sales are WARNINGs only.
   - (published, not flagged) the drift CUSUM (k=0.75, h=6) of Z' = (y - e') / s against a reference e' whose
     level is the mean of `drift_level_days` days ending `drift_lag_days` ago, so a slow decline is measured
     against where the store was, not against itself; watches the adverse side of each KPI only. e' carries its
     own chain effect (the other stores' median of y - e0'), so the chain's seasonal slide over those weeks is
     not a drift: a store drifts only relative to the chain.
   CUSUMs skip holidays and missing days and winsorise Z at +-`cusum_clip`.
5. Never flagged: holidays and special days, missing values, a store's (or reset epoch's) first
   `warmup_days` days, days without a baseline. A closed day that is *not* a holiday is an outage: it is flagged
   (its volume KPIs are zero) and never used as a baseline.

Every statistic is an order statistic of a bounded window, an exact integer sum or a same-day cross-store median
of those, so day D depends only on rows in [D - lookback_days, D] and re-runs are byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist

import polars as pl

from store_anomaly.spc.anchor import add_anchor_statistics, add_window_sums, chain_specs
from store_anomaly.spc.chain import apply_chain_stats, chain_stats, cross_section_values
from store_anomaly.spc.config import MetricSpec, SpcConfig
from store_anomaly.spc.cusum import add_windowed_cusum
from store_anomaly.spc.windows import GROUP, add_group_index, lag, running_sum, weekday_sum, window_sum

# One flag row per (shop_no, metric_date, metric_name, rule); every rule set emits this schema.
FLAGS_SCHEMA: dict[str, pl.DataType] = {
    "metric_date": pl.Date(),
    "shop_no": pl.String(),
    "metric_name": pl.String(),
    "rule": pl.String(),
    "observed_value": pl.Float64(),
    "expected_value": pl.Float64(),
    "z_score": pl.Float64(),
    "severity": pl.String(),
    "direction": pl.String(),
    "rule_set": pl.String(),
    "detail": pl.String(),
}

WEEKDAY_GROUP = ["sid", "epoch_start", "_wd"]


def transform(x: pl.Expr, spec: MetricSpec) -> pl.Expr:
    if spec.scale == "log":
        return (x + spec.offset).log()
    if spec.scale == "sqrt":
        return (x + spec.offset).sqrt()
    return x


def inverse(y: pl.Expr, spec: MetricSpec) -> pl.Expr:
    if spec.scale == "log":
        out = y.exp() - spec.offset
    elif spec.scale == "sqrt":
        out = y.clip(lower_bound=0.0).pow(2) - spec.offset
    else:
        out = y
    return out.clip(lower_bound=0.0) if spec.nonnegative else out


def _sigma_floor(center_t: pl.Expr, spec: MetricSpec) -> pl.Expr:
    """Minimum sigma (transformed units) at the centre line."""
    floors = [pl.lit(spec.sigma_floor)]
    c = inverse(center_t, spec).clip(lower_bound=0.0)
    if spec.poisson_floor:
        if spec.scale == "log":
            floors.append(c.sqrt() / (c + spec.offset))
        elif spec.scale == "sqrt":
            floors.append(0.5 * c.sqrt() / (c + spec.offset).sqrt())
        else:
            floors.append(c.sqrt())
    if spec.unit_floor > 0:
        half = 0.5 * spec.unit_size
        lo = (c - half).clip(lower_bound=0.0)
        floors.append(spec.unit_floor * (transform(c + half, spec) - transform(lo, spec)))
    return pl.max_horizontal(*floors)


_Q = 2.0**20  # quantum of the exact integer sums (transformed units)
_QMAX = 2.0**20  # |value| clip before quantising (keeps window sums inside int64)


def _quantised(values: pl.Expr) -> pl.Expr:
    """`values` rounded to multiples of 2^-20 as integers (clipped at +-2^20): exact sums."""
    return (values.clip(-_QMAX, _QMAX) * _Q).round(0).cast(pl.Int64)


def _mean_of_sums(total: pl.Expr, n: pl.Expr, min_obs: int) -> pl.Expr:
    """The mean from an exact integer sum of quantised values and their count (null below `min_obs` values)."""
    return pl.when(n >= min_obs).then(total.cast(pl.Float64) / n.cast(pl.Float64) / _Q)


def _add_running_sums(df: pl.DataFrame, values: pl.Expr, prefix: str) -> pl.DataFrame:
    """Add `{prefix}s` and `{prefix}n`: the per-group running sums of the quantised `values` and of their count.
    Window means and counts are then differences of these (`windows.window_sum`): exact, so a day's result never
    depends on where the series starts (floating-point rolling sums would)."""
    q = _quantised(values)
    return df.with_columns(
        running_sum(q.fill_null(0)).alias(f"{prefix}s"),
        running_sum(q.is_not_null().cast(pl.Int64)).alias(f"{prefix}n"),
    )


def _exact_std(values: str, window: int, min_obs: int) -> tuple[list[pl.Expr], pl.Expr, pl.Expr]:
    """(running sums to add first, sample standard deviation, count) of the previous `window` values of a residual
    column, per group (exact sums of values rounded to 2^-16, clipped at +-16). The two expressions read the
    columns `_sn`, `_s1`, `_s2` the first list adds."""
    sq = (pl.col(values).clip(-16.0, 16.0) * 2.0**16).round(0).cast(pl.Int64)
    sums = [
        running_sum(sq.is_not_null().cast(pl.Int64)).alias("_sn"),
        running_sum(sq.fill_null(0)).alias("_s1"),
        running_sum((sq * sq).fill_null(0)).alias("_s2"),
    ]
    n = window_sum("_sn", window, 1)
    s1 = window_sum("_s1", window, 1).cast(pl.Float64)
    s2 = window_sum("_s2", window, 1).cast(pl.Float64)
    nf = n.cast(pl.Float64)
    var = pl.max_horizontal((s2 - s1 * s1 / nf) / (nf - 1.0), pl.lit(0.0)) / 2.0**32
    return sums, pl.when(n >= max(min_obs, 2)).then(var.sqrt()), n


def _center_columns(
    df: pl.DataFrame,
    values: str,
    spec: MetricSpec,
    config: SpcConfig,
    robust: bool,
    out: str,
    needed_from: date | None = None,
) -> pl.DataFrame:
    """Add `{out}` = level + weekday factor from earlier usable values of `values`; on the second pass also
    `{out}_n` (days in the level window) and `{out}_ref` (the level lagged by `drift_lag_days`, over
    `drift_level_days`, plus today's weekday factor).

    `needed_from` (first pass only): `{out}` is needed from that day on; the level is then taken over the rows
    its window reads only (the weekday factors, which read further back, are taken first).

    robust=True (outlier screen): medians. robust=False (on screened data): means from exact integer sums;
    efficient (a mean of n has variance 1/n, a median ~1.57/n) and unbiased for skewed or discrete KPIs.
    Weekday factor: same-weekday location over `baseline_weeks` weeks minus the average over the 7 weekdays,
    so a week's factors sum to zero and their estimation errors cancel over any 7 consecutive days.
    """
    if spec.weekly:
        if robust:
            m_wd = pl.col(values).shift(1).rolling_median(config.baseline_weeks, min_samples=config.baseline_min_obs)
            df = df.with_columns(m_wd.over(WEEKDAY_GROUP).alias("_m_wd"))
        else:
            q = _quantised(pl.col(values))
            weeks = config.baseline_weeks
            df = df.with_columns(q.fill_null(0).alias("_qs"), q.is_not_null().cast(pl.Int64).alias("_qn"))
            m_wd = _mean_of_sums(weekday_sum("_qs", weeks), weekday_sum("_qn", weeks), config.baseline_min_obs)
            df = df.with_columns(m_wd.alias("_m_wd")).drop("_qs", "_qn")
        df = df.with_columns(
            (pl.col("_m_wd") - pl.mean_horizontal(*[lag(pl.col("_m_wd"), j) for j in range(7)])).alias("_f")
        ).drop("_m_wd")
        level_days, level_min = config.level_days, config.level_min_obs
        ref_min = config.drift_level_min_obs
    else:
        df = df.with_columns(pl.lit(0.0).alias("_f"))
        level_days, level_min = config.sparse_center_days, config.sparse_min_obs
        ref_min = config.sparse_min_obs
    if needed_from is not None:
        df = add_group_index(df.filter(pl.col("metric_date") >= needed_from - timedelta(days=level_days)))
    df = df.with_columns((pl.col(values) - pl.col("_f")).alias("_u"))
    if robust:
        df = df.with_columns(
            (pl.col("_u").shift(1).rolling_median(level_days, min_samples=level_min).over(GROUP) + pl.col("_f")).alias(
                out
            )
        )
    else:
        df = _add_running_sums(df, pl.col("_u"), "_u")
        ref_days, ref_lag = config.drift_level_days, 1 + config.drift_lag_days
        df = df.with_columns(
            (
                _mean_of_sums(window_sum("_us", level_days, 1), window_sum("_un", level_days, 1), level_min)
                + pl.col("_f")
            ).alias(out),
            window_sum("_un", level_days, 1).alias(f"{out}_n"),
            (
                _mean_of_sums(window_sum("_us", ref_days, ref_lag), window_sum("_un", ref_days, ref_lag), ref_min)
                + pl.col("_f")
            ).alias(f"{out}_ref"),
            pl.col("_f").alias(f"{out}_f"),
        ).drop("_us", "_un")
    return df.drop("_u", "_f")


def _spread(residuals: str, spec: MetricSpec, config: SpcConfig) -> pl.Expr:
    """Robust sigma of the previous `scale_days` residuals: (q(p) - q(1-p)) / (2 Phi^-1(p))."""
    p = config.scale_quantile
    min_obs = config.scale_min_obs if spec.weekly else config.sparse_scale_min_obs
    r = pl.col(residuals).shift(1)
    hi = r.rolling_quantile(p, "linear", config.scale_days, min_samples=min_obs)
    lo = r.rolling_quantile(1 - p, "linear", config.scale_days, min_samples=min_obs)
    return ((hi - lo) / (2 * NormalDist().inv_cdf(p))).over(GROUP)


def _both(a: str, b: str) -> str:
    """Intersection of two direction settings."""
    up = a in ("both", "up") and b in ("both", "up")
    down = a in ("both", "down") and b in ("both", "down")
    return "both" if up and down else "up" if up else "down" if down else "none"


def score_default(long: pl.DataFrame, metric: str, config: SpcConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Limits and flags of one metric. `long` has sid, shop_no, metric_date, epoch_start, age, x, is_closed,
    is_special, sorted by sid, metric_date."""
    return score_default_chunks([long], metric, config)[0]


@dataclass(frozen=True)
class StageCuts:
    """First day each stage's output is still needed for the days from `start` on (rows before are dropped).

    `values`: the first pass reads the values from here (the lookback of the deepest KPI kind; a sparse KPI's
    screen reaches less far); `screen`: the first pass's centre (`_m0`) is needed from here (the quantile spread reads `scale_days` of
    residuals); `screened`: the screened values (`_yc`) from here (the second pass's centre reads them for the
    rows from `scored` on, its drift reference for the rows the drift CUSUM reads); `scored`: the second pass's output (centre, chain effects, residuals) from here (sigma reads the
    previous sigma-window residuals; the CUSUMs, the anchored windows and the recent level read the days before
    on top). Every statistic is of a bounded window of exact sums or order statistics, so cutting the rows no later
    stage reads changes no kept value; the cuts only bound the work by the days scored instead of the history."""

    values: date
    screen: date
    screened: date
    scored: date


def stage_cuts(spec: MetricSpec, config: SpcConfig, start: date) -> StageCuts:
    sigma_days = config.scale_days if spec.weekly else config.sparse_scale_days
    reach = max(
        max(config.anchor_windows) + config.anchor_days,
        config.cusum_window_days - 1,
        config.recent_level_days,
    )
    scored = start - timedelta(days=reach + sigma_days)
    # the centre line is read from `scored` on (sigma's residuals), the drift reference only where the drift CUSUM
    # (and the published drift Z) read it: its deeper window does not set the cut unless that reaches further
    cusum_from = start - timedelta(days=config.cusum_window_days - 1)
    screened = min(
        scored - timedelta(days=config.center_span(spec.weekly, False)),
        cusum_from - timedelta(days=config.center_span(spec.weekly, True)),
    )
    screen = screened - timedelta(days=config.scale_days)
    values = screen - timedelta(days=config.center_span(spec.weekly, False))
    return StageCuts(values=values, screen=screen, screened=screened, scored=scored)


def score_default_chunks(
    chunks: list[pl.DataFrame],
    metric: str,
    config: SpcConfig,
    keep: pl.Expr | None = None,
    start: date | None = None,
) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """`score_default` over slices of stores (each slice as `long`, every store in exactly one): (limits, flags)
    per slice, restricted to the rows where `keep` holds (all rows when None).

    Everything but the chain effects is per store, so the work runs slice by slice; the chain effects need every
    store's residuals of the day, so each of the two kinds (the day's residual, the anchored windows) is gathered
    from every slice (a few narrow columns) before any slice goes on. Memory: the slices' working columns plus
    one slice's temporaries, instead of the temporaries of every store at once. The result does not depend on the
    slicing.

    `start` (the first day kept): each stage then runs only over the days the later stages read (`stage_cuts`), so
    the work grows with the days scored, not with the history in `chunks`; the kept rows are unchanged."""
    spec = config.metric_specs[metric]
    anchored = spec.drift_test != "none" or spec.anchored
    cuts = stage_cuts(spec, config, start) if start is not None else None
    frames = list(chunks)
    chunks.clear()  # (the caller's list no longer holds the slices: each is freed once its next stage exists)
    pooled = _pools_sigma(spec, config)
    for i in range(len(frames)):
        frames[i] = _first_pass_spread(frames[i], spec, config, cuts)
    if pooled:  # the chain's spread of the day: a floor under each store's own (sparse KPIs)
        _apply_pool(frames, "_s0own", "_s0pool", config)
    for i in range(len(frames)):
        frames[i] = _screen_and_center(frames[i], spec, config, cuts)
    if config.chain_relative:
        _apply_chain(frames, _residual_specs(config), config, counts=True)
    for i in range(len(frames)):
        frames[i] = _own_sigma(frames[i], spec, config)
    if pooled:
        _apply_pool(frames, "_sd_own", "_sd_pool", config)
    for i in range(len(frames)):
        frames[i] = _sigma_and_cusums(frames[i], spec, config, anchored, keep)
        if keep is not None:  # from here on every statistic is per row (and the chain effects per day)
            frames[i] = frames[i].filter(keep)
    if anchored and config.chain_relative:
        _apply_chain(frames, chain_specs(config), config, counts=False)
    out = []
    for i in range(len(frames)):
        frame, frames[i] = frames[i], None  # type: ignore[call-overload]
        if anchored:
            frame = add_anchor_statistics(
                frame, "sigma_t", config, config.chain_relative, material=spec.material_change > 0
            ).drop("_member")
        else:
            frame = frame.drop("_member").with_columns(
                *[
                    pl.lit(None, pl.Float64).alias(c)
                    for c in (
                        "drift_t_up",
                        "drift_t_down",
                        "drift_change_up",
                        "drift_change_down",
                        "drift_ref_up",
                        "drift_ref_down",
                        "anchor_t",
                        "anchor_change",
                        "anchor_stat",
                        "recent_t",
                    )
                ],
                pl.lit(None, pl.Int64).alias("anchor_window"),
            )
        out.append(_rules(frame, metric, spec, config))
    return out


def _residual_specs(config: SpcConfig) -> list[tuple[str, pl.Expr, str]]:
    """The day's chain effects: of the residual against the centre line and against the drift reference, over
    the cross-section (stores past warm-up with a centre line, trading, not a holiday, with a value)."""
    member = (
        pl.col("center_t").is_not_null()
        & (pl.col("age") >= config.warmup_days)
        & ~pl.col("is_closed")
        & ~pl.col("is_special")
        & pl.col("y").is_not_null()
    )
    return [("_r", member, "chain_t"), ("_rr", member, "chain_ref_t")]


def _apply_chain(frames: list, specs: list[tuple[str, pl.Expr, str]], config: SpcConfig, counts: bool) -> None:
    """Add the chain effects of `specs` to every slice, from the cross-section of all of them (in place)."""
    stats = chain_stats([cross_section_values(f, specs) for f in frames], len(specs))
    for i in range(len(frames)):
        frames[i] = apply_chain_stats(
            frames[i], stats, specs, config.chain_min_stores, config.chain_leave_one_out, counts
        )
    if specs and specs[0][0] == "_r":
        for i in range(len(frames)):
            frames[i] = frames[i].drop("_r", "_rr", "chain_ref_t_n").rename({"chain_t_n": "chain_stores"})


def _pools_sigma(spec: MetricSpec, config: SpcConfig) -> bool:
    """Whether this KPI's spreads are floored by the chain's (`SpcConfig.sparse_sigma_pool`: sparse KPIs only)."""
    return not spec.weekly and config.sparse_sigma_pool > 0


def _pool_specs(own: str, out: str) -> list[tuple[str, pl.Expr, str]]:
    """The day's cross-section of one per-store spread: every store whose own spread exists that day."""
    return [(own, pl.col(own).is_not_null(), out)]


def _apply_pool(frames: list, own: str, out: str, config: SpcConfig) -> None:
    """Add `out`, the median over the chain's stores of their own spread `own` on the same day (null when fewer
    than `chain_min_stores` stores have one), to every slice (in place). Each store's spread reads only its
    earlier days, so the pooled value of day D does too; a store stays in its own median (it is a floor, not a
    reference the store's anomaly could move)."""
    stats = chain_stats([cross_section_values(f, _pool_specs(own, out)) for f in frames], 1)
    for i in range(len(frames)):
        frames[i] = apply_chain_stats(frames[i], stats, _pool_specs(own, out), config.chain_min_stores, False, False)


def _pool_floor(pooled: str, spec: MetricSpec, config: SpcConfig) -> pl.Expr:
    """The floor the chain's pooled spread puts under a store's own (null, i.e. none, when not pooled)."""
    if not _pools_sigma(spec, config):
        return pl.lit(None, pl.Float64)
    return config.sparse_sigma_pool * pl.col(pooled)


def _first_pass_spread(
    long: pl.DataFrame, spec: MetricSpec, config: SpcConfig, cuts: StageCuts | None = None
) -> pl.DataFrame:
    """Steps 1-2 up to the outlier screen's own robust spread `_s0own` (null with too few residuals), from
    `cuts.screen` on, when given."""
    usable = pl.col("y").is_not_null() & ~pl.col("is_closed") & ~pl.col("is_special")
    if cuts is not None:
        long = long.filter(pl.col("metric_date") >= cuts.values)
    df = long.with_columns(
        transform(pl.col("x"), spec).alias("y"),
        pl.col("metric_date").dt.weekday().alias("_wd"),
    ).with_columns(
        pl.when(usable).then(pl.col("y")).alias("_y0"),
    )
    # (the row index within the group, which the window sums read, counts the rows kept: taken again after a cut)
    df = add_group_index(df)
    # ---- first pass: outlier screen (medians, quantile spread) ---------------------------------------------------
    df = _center_columns(df, "_y0", spec, config, True, "_m0", cuts.screen if cuts is not None else None)
    if cuts is not None:
        df = add_group_index(df.filter(pl.col("metric_date") >= cuts.screen))
    df = df.with_columns((pl.col("_y0") - pl.col("_m0")).alias("_r0"))
    return df.with_columns(_spread("_r0", spec, config).alias("_s0own"))


def _screen_and_center(
    df: pl.DataFrame, spec: MetricSpec, config: SpcConfig, cuts: StageCuts | None = None
) -> pl.DataFrame:
    """Step 2's screen and step 3 up to the store's own expectation, and the residuals the chain effects are taken
    from (from `cuts.scored` on, when given)."""
    # a sparse KPI's own spread reads a few inspections: without the chain's pooled floor, a spread that is
    # missing (too few) or small by chance falls to the KPI's bare floor, screens ordinary days as outliers and
    # so biases the centre and shrinks sigma further
    df = df.with_columns(
        pl.max_horizontal(
            pl.col("_s0own"), _pool_floor("_s0pool", spec, config), _sigma_floor(pl.col("_m0"), spec)
        ).alias("_s0")
    ).drop("_s0own", *(["_s0pool"] if _pools_sigma(spec, config) else []))
    outlier = ((pl.col("_r0") / pl.col("_s0")).abs() > config.outlier_z).fill_null(False)
    df = df.with_columns(pl.when(~outlier).then(pl.col("_y0")).alias("_yc"), outlier.alias("is_outlier"))
    df = df.drop("_m0", "_r0", "_s0")
    if cuts is not None:
        df = add_group_index(df.filter(pl.col("metric_date") >= cuts.screened))
    # ---- second pass on screened data: centre, sigma, Z (means and standard deviation, exact sums) ------------
    df = _center_columns(df, "_yc", spec, config, False, "center_t")
    df = df.rename({"center_t_ref": "ref_t", "center_t_n": "center_days", "center_t_f": "factor_t"}).drop("_wd")
    if cuts is not None:
        df = add_group_index(df.filter(pl.col("metric_date") >= cuts.scored))
    # ---- chain effect: what every store sees that day (season, weather, a city-wide event) ---------------------
    if config.chain_relative:
        return df.with_columns(
            (pl.col("y") - pl.col("center_t")).alias("_r"), (pl.col("y") - pl.col("ref_t")).alias("_rr")
        )
    return df.with_columns(
        pl.lit(None, pl.Float64).alias("chain_t"),
        pl.lit(None, pl.Float64).alias("chain_ref_t"),
        pl.lit(None, pl.Int64).alias("chain_stores"),
    )


def _own_sigma(df: pl.DataFrame, spec: MetricSpec, config: SpcConfig) -> pl.DataFrame:
    """Step 3's expectation with the chain effect, and the store's own sigma `_sd_own` (null with too few
    residuals) with the residuals behind it (`baseline_days`)."""
    # the store's own expectation (earlier days) plus the chain's movement today
    df = df.with_columns(
        (pl.col("center_t") + pl.col("chain_t").fill_null(0.0)).alias("center_a"),
        (pl.col("ref_t") + pl.col("chain_ref_t").fill_null(0.0)).alias("ref_a"),
    ).drop("ref_t", "chain_ref_t")
    # sigma: spread of the previous chain-relative one-step-ahead residuals (screened days)
    df = df.with_columns((pl.col("_yc") - pl.col("center_a")).alias("_rc"))
    min_obs = config.scale_min_obs if spec.weekly else config.sparse_scale_min_obs
    scale_days = config.scale_days if spec.weekly else config.sparse_scale_days
    sums, sd, n_res = _exact_std("_rc", scale_days, min_obs)
    return (
        df.with_columns(sums)
        .with_columns(sd.alias("_sd_own"), n_res.alias("baseline_days"))
        .drop("_rc", "_yc", "_sn", "_s1", "_s2")
    )


def _sigma_and_cusums(
    df: pl.DataFrame, spec: MetricSpec, config: SpcConfig, anchored: bool, keep: pl.Expr | None = None
) -> pl.DataFrame:
    """Sigma (the store's own, floored), Z, the CUSUMs and the anchored windows' sums (of the rows where `keep`
    holds only, when given and anchored; the caller cuts the others)."""
    # a sparse KPI's sigma reads a few dozen inspections at most: it is never below a share of the chain's
    # pooled sigma that day, so a run of close scores (or large residuals leaving the window) cannot collapse it
    floor = pl.max_horizontal(_pool_floor("_sd_pool", spec, config), _sigma_floor(pl.col("center_a"), spec))
    df = df.with_columns(
        pl.when(pl.col("_sd_own").is_not_null()).then(pl.max_horizontal(pl.col("_sd_own"), floor)).alias("sigma_t")
    ).drop("_sd_own", *(["_sd_pool"] if _pools_sigma(spec, config) else []))
    has_limits = (
        pl.col("center_t").is_not_null() & pl.col("sigma_t").is_not_null() & (pl.col("age") >= config.warmup_days)
    )
    df = df.with_columns(has_limits.alias("has_limits")).with_columns(
        pl.when(pl.col("has_limits")).then((pl.col("y") - pl.col("center_a")) / pl.col("sigma_t")).alias("z"),
        pl.when(pl.col("has_limits")).then((pl.col("y") - pl.col("ref_a")) / pl.col("sigma_t")).alias("z_ref"),
    )
    # CUSUM inputs: holidays (and special days) are skipped
    df = df.with_columns(
        pl.when(~pl.col("is_special")).then(pl.col("z")).alias("_zc"),
        pl.when(~pl.col("is_special")).then(pl.col("z_ref")).alias("_zr"),
    ).drop("z_ref")
    df = add_windowed_cusum(df, "_zc", config.fast_k, config.cusum_window_days, GROUP, config.cusum_clip, "shift")
    df = add_windowed_cusum(df, "_zr", config.drift_k, config.cusum_window_days, GROUP, config.cusum_clip, "drift")
    df = df.drop("_zc")
    # ---- anchored drift: the weekday-adjusted level against the level before a candidate onset ------------------
    # a day enters winsorised at +-cusum_clip sigma around today's expectation: one spike or glitch moves a
    # window's mean by little, while a slide (which stays inside the band day after day) is measured in full
    clipped = pl.col("center_a") + (pl.col("_y0") - pl.col("center_a")).clip(
        -config.cusum_clip * pl.col("sigma_t"), config.cusum_clip * pl.col("sigma_t")
    )
    df = df.with_columns(
        pl.when(pl.col("has_limits")).then(clipped - pl.col("factor_t")).alias("_level"),
        ((pl.col("age") >= config.warmup_days) & pl.col("center_t").is_not_null()).alias("_member"),
    ).drop("_y0")
    if anchored:
        df = add_window_sums(df, "_level", "sigma_t", config, keep)
    return df.drop("_level")


def _rules(df: pl.DataFrame, metric: str, spec: MetricSpec, config: SpcConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Step 4: the published limits and the flags of the rules, from the scored frame."""
    tiers = config.severity_thresholds(metric)
    wz = tiers["warning"]
    # The published limits are the store's own, from earlier days only (the warehouse contract); the day's
    # chain movement, which uses the other stores' same-day values, is published beside them and is what the
    # flags' expected value includes.
    e, s = pl.col("center_t"), pl.col("sigma_t")
    held = pl.col("anchor_stat") >= config.anchor_hold_z
    limits = df.filter(pl.col("has_limits")).select(
        "metric_date",
        "shop_no",
        pl.lit(metric).alias("metric_name"),
        inverse(e, spec).alias("center_line"),
        ((inverse(e + s, spec) - inverse(e - s, spec)) / 2).alias("sigma"),
        inverse(e + tiers["warning_up"] * s, spec).alias("ucl"),
        inverse(e - wz * s, spec).alias("lcl"),
        pl.col("baseline_days").cast(pl.Int64),
        pl.lit("default").alias("rule_set"),
        pl.col("x").alias("observed_value"),
        pl.col("z").alias("z_score"),
        pl.col("center_days").cast(pl.Int64),
        pl.lit(spec.scale).alias("scale"),
        e.alias("center_transformed"),
        s.alias("sigma_transformed"),
        inverse(pl.col("ref_a"), spec).alias("reference_value"),
        pl.col("shift_up").alias("cusum_shift_up"),
        pl.col("shift_down").alias("cusum_shift_down"),
        pl.col("drift_up").alias("cusum_drift_up"),
        pl.col("drift_down").alias("cusum_drift_down"),
        pl.col("_zr").alias("drift_z"),
        pl.col("is_outlier"),
        pl.col("chain_t").alias("chain_effect"),
        pl.col("chain_stores").cast(pl.Int64),
        inverse(pl.col("center_a"), spec).alias("chain_adjusted_center"),
        pl.when(held).then(inverse(pl.col("anchor_t"), spec)).alias("anchor_value"),
        pl.when(held).then(pl.col("metric_date") - pl.duration(days=pl.col("anchor_window") - 1)).alias("anchor_since"),
        pl.when(held).then(pl.col("anchor_change")).alias("anchor_change"),
        pl.col("anchor_stat").alias("anchor_stat"),
        inverse(pl.col("recent_t"), spec).alias("recent_level"),
        pl.col("drift_t_up").alias("drift_glr_up"),
        pl.col("drift_t_down").alias("drift_glr_down"),
        pl.col("drift_change_up").alias("drift_change_up"),
        pl.col("drift_change_down").alias("drift_change_down"),
    )

    scored = df.filter(pl.col("has_limits") & ~pl.col("is_special") & pl.col("x").is_not_null())
    allowed_up = spec.directions in ("both", "up")
    allowed_down = spec.directions in ("both", "down")
    candidates: list[pl.DataFrame] = []

    def emit(
        cond_up: pl.Expr,
        cond_down: pl.Expr,
        rule: str,
        severity: pl.Expr,
        expected: pl.Expr,
        zcol: str,
        detail: pl.Expr,
    ) -> None:
        cu = cond_up.fill_null(False) if allowed_up else pl.lit(False)
        cd = cond_down.fill_null(False) if allowed_down else pl.lit(False)
        candidates.append(
            scored.filter(cu | cd).select(
                "metric_date",
                "shop_no",
                pl.lit(metric).alias("metric_name"),
                pl.lit(rule).alias("rule"),
                pl.col("x").alias("observed_value"),
                expected.alias("expected_value"),
                pl.col(zcol).alias("z_score"),
                severity.alias("severity"),
                pl.when(cu).then(pl.lit("up")).otherwise(pl.lit("down")).alias("direction"),
                pl.lit("default").alias("rule_set"),
                detail.alias("detail"),
            )
        )

    z = pl.col("z")
    az = z.abs()
    closed_note = pl.when(pl.col("is_closed")).then(pl.lit(" (store closed on a trading day)")).otherwise(pl.lit(""))
    basis = "expected (level x weekday factor)" if spec.weekly else "expected (recent mean)"

    def chain_note(col: str) -> pl.Expr:
        """`, chain -3.1%`: the chain's movement included in the expected value (log scale: in percent)."""
        c = pl.col(col)
        if spec.scale == "log":
            text = pl.format(", chain {}%", ((c.exp() - 1.0) * 100).round(1))
        else:
            text = pl.format(f", chain {{}} ({spec.scale} units)", c.round(2))
        return pl.when(c.is_not_null()).then(text).otherwise(pl.lit(""))

    if not spec.tested:
        return limits, _anchored_flags(scored, metric, spec, config)
    # staffing: only days far enough from the rota to matter operationally
    material = (
        ((pl.col("y") - pl.col("center_a")).abs() >= spec.point_material_change)
        if (spec.point_material_change > 0)
        else pl.lit(True)
    )
    emit(
        (z > tiers["info_up"]) & material,
        (z < -tiers["info"]) & material,
        "robust_z",
        pl.when(az > tiers["critical"])
        .then(pl.lit("CRITICAL"))
        .when((z > tiers["warning_up"]) | (z < -tiers["warning"]))
        .then(pl.lit("WARNING"))
        .otherwise(pl.lit("INFO")),
        inverse(e, spec),
        "z",
        pl.format(
            f"robust Z {{}} vs {basis} {{}}{{}}{{}}",
            z.round(2),
            inverse(e, spec).round(2),
            chain_note("chain_t"),
            closed_note,
        ),
    )
    # a CUSUM reports the side that signals (the larger one if, exceptionally, both do)
    up_c, dn_c = pl.col("shift_up"), pl.col("shift_down")
    h = config.fast_h
    h_up = spec.up_shift_h if spec.up_shift_h is not None else h
    shift_up = (up_c > h_up) & ~((dn_c > h) & (dn_c > up_c))
    emit(
        shift_up & material,
        (dn_c > h) & ~shift_up.fill_null(False) & material,
        "cusum_shift",
        pl.lit("WARNING"),
        inverse(pl.col("center_a"), spec),
        "z",
        pl.format(
            f"CUSUM(k={config.fast_k}) {{}} > h={{}}: sustained shift{{}}",
            pl.max_horizontal(up_c, dn_c).round(2),
            pl.when(shift_up).then(pl.lit(f"{h_up}")).otherwise(pl.lit(f"{h}")),
            chain_note("chain_t"),
        ),
    )
    candidates.append(_anchored_flags(scored, metric, spec, config))
    flags = pl.concat(candidates, how="vertical")
    return limits, flags


def _anchored_flags(scored: pl.DataFrame, metric: str, spec: MetricSpec, config: SpcConfig) -> pl.DataFrame:
    """``anchored_drift`` flags: the level against the anchored reference (`store_anomaly.spc.anchor`).

    Two conditions flag: the short windows' ramp statistic above the KPI's threshold (a slide caught early), or
    an established change held by the anchored reference (the best of every window: |T| above
    `anchor_critical_h` and a chain-relative change of at least `anchor_critical_change`), which keeps a large
    change flagged after the short windows have absorbed it (a slide that has stopped at half the level); the
    latter is CRITICAL on the adverse side, as is a short window's statistic above `anchor_critical_h` with such a
    change."""
    dirs = _both(spec.directions, spec.drift_test) if spec.drift_test != "none" else "none"
    watch_up, watch_down = dirs in ("both", "up"), dirs in ("both", "down")
    empty = pl.DataFrame(schema=FLAGS_SCHEMA)
    if not (watch_up or watch_down):
        return empty
    t_up, t_dn = pl.col("drift_t_up"), pl.col("drift_t_down")
    adverse_h = spec.drift_h if spec.drift_h is not None else config.anchor_h
    h_up = adverse_h if spec.drift_directions in ("both", "up") else config.anchor_other_h
    h_down = adverse_h if spec.drift_directions in ("both", "down") else config.anchor_other_h
    material = spec.material_change
    crit, big = config.anchor_critical_h, config.anchor_critical_change
    # an established change held by the anchored reference (best of every window)
    established = pl.col("anchor_stat") > crit
    held_up = (established & (pl.col("anchor_change") >= max(big, material))).fill_null(False)
    held_down = (established & (-pl.col("anchor_change") >= max(big, material))).fill_null(False)
    short_up = (
        ((t_up > h_up) & (pl.col("drift_change_up") >= material) & (t_up >= t_dn.fill_null(0.0))).fill_null(False)
        if watch_up
        else pl.lit(False)
    )
    short_down = (
        ((t_dn > h_down) & (-pl.col("drift_change_down") >= material) & (t_dn > t_up.fill_null(0.0))).fill_null(False)
        if watch_down
        else pl.lit(False)
    )
    held_up = held_up if watch_up else pl.lit(False)
    held_down = held_down if watch_down else pl.lit(False)
    up = held_up | (short_up & ~held_down)
    down = held_down | (short_down & ~held_up)
    adverse_up = spec.drift_directions in ("both", "up") and not spec.up_warning_only
    adverse_down = spec.drift_directions in ("both", "down")
    critical = (
        down & (held_down | ((t_dn > crit) & (-pl.col("drift_change_down") >= big)).fill_null(False)) & adverse_down
    ) | (up & (held_up | ((t_up > crit) & (pl.col("drift_change_up") >= big)).fill_null(False)) & adverse_up)
    short = pl.when(up).then(short_up).otherwise(short_down)
    ref = pl.when(short).then(pl.when(up).then(pl.col("drift_ref_up")).otherwise(pl.col("drift_ref_down"))).otherwise(
        pl.col("anchor_t")
    ) + pl.col("factor_t")
    stat = (
        pl.when(short)
        .then(pl.when(up).then(t_up).otherwise(-t_dn))
        .otherwise(pl.when(up).then(pl.col("anchor_stat")).otherwise(-pl.col("anchor_stat")))
    )
    change = (
        pl.when(short)
        .then(pl.when(up).then(pl.col("drift_change_up")).otherwise(pl.col("drift_change_down")))
        .otherwise(pl.col("anchor_change"))
    )
    change_text = (
        pl.concat_str(((change.exp() - 1.0) * 100).round(1).cast(pl.String), pl.lit("%"))
        if spec.scale == "log"
        else pl.concat_str(change.round(2).cast(pl.String), pl.lit(f" ({spec.scale} units)"))
    )
    flagged = scored.filter(up | down)
    if flagged.height == 0:  # (formatting strings over an empty frame is where polars is least robust)
        return empty
    since = (pl.col("metric_date") - pl.duration(days=pl.col("anchor_window") - 1)).cast(pl.String)
    return flagged.select(
        "metric_date",
        "shop_no",
        pl.lit(metric).alias("metric_name"),
        pl.lit("anchored_drift").alias("rule"),
        pl.col("x").alias("observed_value"),
        inverse(ref, spec).alias("expected_value"),
        stat.alias("z_score"),
        pl.when(critical).then(pl.lit("CRITICAL")).otherwise(pl.lit("WARNING")).alias("severity"),
        pl.when(up).then(pl.lit("up")).otherwise(pl.lit("down")).alias("direction"),
        pl.lit("default").alias("rule_set"),
        pl.when(short)
        .then(
            pl.concat_str(
                pl.lit("level vs anchored reference: GLR "),
                stat.abs().round(2).cast(pl.String),
                pl.when(up).then(pl.lit(f" > h={h_up:g}, change ")).otherwise(pl.lit(f" > h={h_down:g}, change ")),
                change_text,
                pl.lit(" (chain-relative)"),
            )
        )
        .otherwise(
            pl.concat_str(
                pl.lit("level vs anchored reference since "),
                since,
                pl.lit(": |T| "),
                stat.abs().round(2).cast(pl.String),
                pl.lit(f" > {crit:g}, change "),
                change_text,
                pl.lit(" since (chain-relative, held)"),
            )
        )
        .alias("detail"),
    )
