"""The anchored reference and the ``anchored_drift`` rule: slow changes measured against the level *before* them.

Every moving reference (a 28-day level, a reference lagged a week) follows a slow decline down and absorbs it as it
happens. This module compares the store's recent level with its level before a candidate onset instead, and picks
the onset that explains the data best: a window-limited generalised likelihood ratio (GLR) test.

Input per store and day (transformed scale, see `store_anomaly.spc.robust`): u = screened value minus the
weekday factor (the weekday-adjusted level, holidays, closed days and outliers left out) and sigma (the spread
of the day's one-step-ahead residuals, from earlier days).

For each candidate onset tau = t - w + 1, w in `SpcConfig.anchor_windows`:

- anchor a: mean of u over the `anchor_days` days before tau (the level before the change under test);
- level: D = mean of u over [tau, t] - a, and T_level = D / (sigma sqrt(1/n1 + 1/n0));
- slope (a ramp starting at tau from the anchor): b = sum k (u - a) / sum k^2, k = days since tau + 1,
  T_slope = sum k (u - a) / (sigma sqrt(sum k^2 + (sum k)^2 / n0)).

Chain-relative: D and b are compared with the median D and b of the *other* stores over the same windows on the
same day (`store_anomaly.spc.chain`), so the chain's season, weather and events between the anchor and today are
not a store's drift. sigma is the one in force on the candidate onset day (before the change, so a slide does not
inflate its own yardstick).

The statistic of a day is the largest |T| over the windows of at most `drift_max_flag_window` days (both models):
those windows are where the budget is spent. Longer windows (up to the longest of `anchor_windows`) only estimate
the onset and the anchor of a change that has lasted longer, which is what `anchor_value` / `anchor_since`
publish: the anchored reference is held as long as the change is, up to that many days after its onset.

Every sum is an exact integer sum (values rounded to 2^-16) of a bounded window and every chain effect a
same-day median, so day D depends only on rows in [D - lookback_days, D].
"""

from __future__ import annotations

import polars as pl

from store_anomaly.spc.chain import add_chain_effects
from store_anomaly.spc.config import SpcConfig
from store_anomaly.spc.windows import add_group_index, running_sum

_Q = 2.0**16
_CLIP = 2.0**12


def _lagged(cum: str, lag: int, pre: bool = False) -> pl.Expr:
    """A per-group cumulative sum `lag` rows back (0 before the group's first row). Rows are sorted by group, so
    a plain shift is the group's own row whenever the row index within the group (`_i`) reaches back that far.
    `pre`: the column `{cum}@{lag}` holding it (materialised before the rows were cut, `add_window_sums`)."""
    if pre:
        return pl.col(f"{cum}@{lag}")
    return pl.when(pl.col("_i") >= lag).then(pl.col(cum).shift(lag)).otherwise(0)


def _window_sum(cum: str, w: int, pre: bool = False) -> pl.Expr:
    """Sum over the last `w` rows (today included) of a per-group cumulative sum column."""
    return pl.col(cum) - _lagged(cum, w, pre)


def _onset_sigma(sigma: str, w: int, pre: bool = False) -> pl.Expr:
    """`sigma` on the candidate onset day of window w (w - 1 rows back; null before the group's first row)."""
    if pre:
        return pl.col(f"{sigma}@{w - 1}")
    return pl.when(pl.col("_i") >= w - 1).then(pl.col(sigma).shift(w - 1))


def add_anchored_drift(
    df: pl.DataFrame, values: str, sigma: str, config: SpcConfig, chain: bool, material: bool = False
) -> pl.DataFrame:
    """Add, per row, the anchored-drift statistics of column `values` (weekday-adjusted, screened; null = not
    usable) with yardstick `sigma` (transformed units):

    drift_t_up / drift_t_down: the largest upward / downward T over the flagging windows (>= 0, null if none);
    drift_change_up / drift_change_down: the chain-relative level change D of the window giving each;
    drift_ref_up / drift_ref_down: that window's anchor carried to today by the chain's movement since (the
        weekday-free level expected today had the store followed the chain);
    anchor_t: the anchored level (transformed, no weekday factor) of the best window over all windows;
    anchor_window: that window's length w (the onset is w - 1 days before the day);
    anchor_change: its chain-relative level change D (the mean since the onset: half of a ramp's drop so far);
    anchor_stat: its |T|; recent_t: the mean weekday-adjusted level of the last `recent_level_days` days.
    material: the KPI is flagged only beyond a material change (`MetricSpec.material_change`): every window and
        both models flag. `df` is sorted by sid, epoch_start, metric_date, one row per day.

    The three steps (`add_window_sums`, the chain effects of `chain_specs`, `add_anchor_statistics`) can run on
    slices of stores, the chain effects from every store's `add_window_sums` (see `store_anomaly.spc.robust`).
    """
    df = add_window_sums(df, values, sigma, config)
    if chain:
        df = add_chain_effects(
            df, chain_specs(config), config.chain_min_stores, config.chain_leave_one_out, counts=False
        )
    return add_anchor_statistics(df, sigma, config, chain, material)


def add_window_sums(
    df: pl.DataFrame, values: str, sigma: str, config: SpcConfig, keep: pl.Expr | None = None
) -> pl.DataFrame:
    """First step of `add_anchored_drift`: per candidate window w, the anchor `_a{w}`, the level change `_d{w}`
    and the ramp slope `_b{w}` (null when the window or its anchor lacks usable days), the yardstick terms of its
    statistics (`_s{w}`, `_vd{w}`, `_vb{w}`, see `_window_terms`), and `recent_t`. What it adds is per row: the
    rows can be filtered afterwards (to the days scored) without changing any of them.

    `keep`: only the rows where it holds are returned; the running sums then run over every row, but the
    windows' terms (the bulk of the work) only over the kept ones, from the lagged sums they read (taken first)."""
    windows = tuple(sorted(config.anchor_windows))
    a_days = config.anchor_days
    q = (pl.col(values).clip(-_CLIP, _CLIP) * _Q).round(0).cast(pl.Int64)
    present = pl.col(values).is_not_null().cast(pl.Int64)
    df = add_group_index(df).with_columns(
        running_sum(q.fill_null(0)).alias("_zs"),
        running_sum(present).alias("_zn"),
        running_sum(q.fill_null(0) * pl.col("_i")).alias("_zis"),
        running_sum(present * pl.col("_i")).alias("_zin"),
        running_sum(present * pl.col("_i") * pl.col("_i")).alias("_ziin"),
    )
    recent = config.recent_level_days
    pre = keep is not None
    if pre:
        lags = {(c, w) for w in windows for c in ("_zs", "_zn", "_zis", "_zin", "_ziin")}
        lags |= {(c, w + a_days) for w in windows for c in ("_zs", "_zn")} | {("_zs", recent), ("_zn", recent)}
        df = df.with_columns(
            *[_lagged(c, lag).alias(f"{c}@{lag}") for c, lag in sorted(lags)],
            *[_onset_sigma(sigma, w).alias(f"{sigma}@{w - 1}") for w in windows],
        ).filter(keep)
        lagged = [f"{c}@{lag}" for c, lag in sorted(lags)] + [f"{sigma}@{w - 1}" for w in windows]
    else:
        lagged = []
    n_recent = _window_sum("_zn", recent, pre)
    # every window's columns read only the running sums (and their lags): one pass adds them all
    columns = [
        pl.when(n_recent >= (recent + 1) // 2)
        .then(_window_sum("_zs", recent, pre).cast(pl.Float64) / _Q / n_recent.cast(pl.Float64))
        .alias("recent_t")
    ]
    for w in windows:
        n1 = _window_sum("_zn", w, pre)
        s1 = _window_sum("_zs", w, pre)
        si = _window_sum("_zis", w, pre)
        sin = _window_sum("_zin", w, pre)
        siin = _window_sum("_ziin", w, pre)
        # anchor: the a_days rows before the window
        n0 = _lagged("_zn", w, pre) - _lagged("_zn", w + a_days, pre)
        s0 = _lagged("_zs", w, pre) - _lagged("_zs", w + a_days, pre)
        c = pl.col("_i") - w  # k = i - c, 1..w inside the window
        # sums of k u, k, k^2 over the window's usable rows (exact integers, then scaled)
        sku = (si - c * s1).cast(pl.Float64) / _Q
        sk = (sin - c * n1).cast(pl.Float64)
        skk = (siin - 2 * c * sin + c * c * n1).cast(pl.Float64)
        n1f, n0f = n1.cast(pl.Float64), n0.cast(pl.Float64)
        ok = (n1 >= max(3, int(config.drift_min_share * w))) & (n0 >= config.anchor_min_obs)
        anchor = s0.cast(pl.Float64) / _Q / n0f
        sig = _onset_sigma(sigma, w, pre)
        columns += [
            pl.when(ok & sig.is_not_null()).then(anchor).alias(f"_a{w}"),
            pl.when(ok & sig.is_not_null()).then(s1.cast(pl.Float64) / _Q / n1f - anchor).alias(f"_d{w}"),
            pl.when(ok & sig.is_not_null()).then((sku - anchor * sk) / skk).alias(f"_b{w}"),
        ]
    for w in windows:
        sig, vd, vb = _window_terms(w, sigma, config, pre)
        columns += [sig.alias(f"_s{w}"), vd.alias(f"_vd{w}"), vb.alias(f"_vb{w}")]
    # every column from here on is per row: the frame can be cut to the days to score
    return df.with_columns(columns).drop("_i", "_zs", "_zn", "_zis", "_zin", "_ziin", *lagged)


def _window_terms(w: int, sigma: str, config: SpcConfig, pre: bool = False) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(sigma on the candidate onset day, sqrt(1/n1 + 1/n0), sum k^2 / sqrt(sum k^2 + (sum k)^2 / n0)) of window w,
    from the running sums of `add_window_sums`."""
    n1 = _window_sum("_zn", w, pre)
    sin = _window_sum("_zin", w, pre)
    siin = _window_sum("_ziin", w, pre)
    n0 = _lagged("_zn", w, pre) - _lagged("_zn", w + config.anchor_days, pre)
    c = pl.col("_i") - w
    sk = (sin - c * n1).cast(pl.Float64)
    skk = (siin - 2 * c * sin + c * c * n1).cast(pl.Float64)
    n1f, n0f = n1.cast(pl.Float64), n0.cast(pl.Float64)
    sig = _onset_sigma(sigma, w, pre)
    return sig, (1.0 / n1f + 1.0 / n0f).sqrt(), skk / (skk + sk * sk / n0f).sqrt()


def chain_specs(config: SpcConfig) -> list[tuple[str, pl.Expr, str]]:
    """The chain effects the windows need (`store_anomaly.spc.chain`): every window's level change `_d{w}` (effect
    `_cd{w}`) and each flagging window's slope `_b{w}` (effect `_cb{w}`), over the stores past warm-up
    (`_member`) with that window defined."""
    specs = []
    for w in sorted(config.anchor_windows):
        member = pl.col(f"_d{w}").is_not_null() & pl.col("_member")
        specs.append((f"_d{w}", member, f"_cd{w}"))
        if w <= config.drift_max_flag_window:
            specs.append((f"_b{w}", member, f"_cb{w}"))
    return specs


def add_anchor_statistics(
    df: pl.DataFrame, sigma: str, config: SpcConfig, chain: bool, material: bool = False
) -> pl.DataFrame:
    """Last step of `add_anchored_drift`: the windows' chain-relative statistics (the chain effects of
    `chain_specs` already added when `chain`), the best windows and what they estimate; drops the work columns."""
    windows = tuple(sorted(config.anchor_windows))
    stats: list[tuple[int, str, str, str]] = []  # (w, kind, T column, D column)
    temp = [f"_{p}{w}" for w in windows for p in ("a", "d", "b", "cd", "s", "vd", "vb")]
    if chain:
        specs = chain_specs(config)
        df = df.with_columns(
            *[(pl.col(name) - pl.col(out).fill_null(0.0)).alias(name) for name, _, out in specs],
            *[pl.col(f"_cd{w}").fill_null(0.0) for w in windows],
        ).drop([f"_cb{w}" for w in windows if w <= config.drift_max_flag_window])
    else:
        df = df.with_columns(*[pl.lit(0.0).alias(f"_cd{w}") for w in windows])
    for w in windows:
        slope = w <= config.drift_max_flag_window  # longer windows: level only (they estimate, never flag)
        sig, vd, vb = pl.col(f"_s{w}"), pl.col(f"_vd{w}"), pl.col(f"_vb{w}")
        df = df.with_columns(
            (pl.col(f"_d{w}") / (sig * vd)).alias(f"_tl{w}"),
            *([(pl.col(f"_b{w}") * vb / sig).alias(f"_ts{w}")] if slope else []),
        )
        temp += [f"_tl{w}"] + ([f"_ts{w}"] if slope else [])
        stats += [(w, "level", f"_tl{w}", f"_d{w}")] + ([(w, "slope", f"_ts{w}", f"_d{w}")] if slope else [])

    # a KPI flagged only for operationally material moves (staffing) can afford every short window and both
    # models: the materiality, not the statistic, is what keeps its false alarms down
    models = ("level", "slope") if material else config.drift_flag_models
    first = min(windows) if material else config.drift_min_flag_window
    flagging = [s for s in stats if first <= s[0] <= config.drift_max_flag_window and s[1] in models]

    def best(frame: pl.DataFrame, scores: list[pl.Expr], alias: str) -> pl.DataFrame:
        """Add `alias`: the index of the largest score (nulls never win; the first on ties; null when every score
        is null). One pass per score over plain columns."""
        filled = [sc.fill_null(float("-inf")) for sc in scores]
        frame = frame.with_columns(filled[0].alias("_bv"), pl.lit(0, pl.Int64).alias(alias))
        for i, sc in enumerate(filled[1:], start=1):
            better = sc > pl.col("_bv")
            frame = frame.with_columns(
                pl.when(better).then(sc).otherwise(pl.col("_bv")).alias("_bv"),
                pl.when(better).then(pl.lit(i, pl.Int64)).otherwise(pl.col(alias)).alias(alias),
            )
        some = pl.any_horizontal(*[sc.is_not_null() for sc in scores])
        return frame.with_columns(pl.when(some).then(pl.col(alias)).alias(alias)).drop("_bv")

    def pick(index: str, values: list[pl.Expr]) -> pl.Expr:
        out = pl.when(pl.col(index) == 0).then(values[0])
        for i, v in enumerate(values[1:], start=1):
            out = out.when(pl.col(index) == i).then(v)
        return out

    up_scores = [pl.col(t) for _, _, t, _ in flagging]
    down_scores = [-pl.col(t) for _, _, t, _ in flagging]
    all_scores = [pl.col(t).abs() for _, _, t, _ in stats]
    df = best(best(best(df, up_scores, "_bu"), down_scores, "_bd"), all_scores, "_ba")
    refs = [pl.col(f"_a{w}") + pl.col(f"_cd{w}") for w, _, _, _ in flagging]
    df = df.with_columns(
        pl.max_horizontal(*up_scores).clip(lower_bound=0.0).alias("drift_t_up"),
        pl.max_horizontal(*down_scores).clip(lower_bound=0.0).alias("drift_t_down"),
        pick("_bu", [pl.col(d) for _, _, _, d in flagging]).alias("drift_change_up"),
        pick("_bd", [pl.col(d) for _, _, _, d in flagging]).alias("drift_change_down"),
        pick("_bu", refs).alias("drift_ref_up"),
        pick("_bd", refs).alias("drift_ref_down"),
        pick("_ba", [pl.col(f"_a{w}") for w, _, _, _ in stats]).alias("anchor_t"),
        pick("_ba", [pl.lit(w, pl.Int64) for w, _, _, _ in stats]).alias("anchor_window"),
        pick("_ba", [pl.col(d) for _, _, _, d in stats]).alias("anchor_change"),
        pl.max_horizontal(*all_scores).alias("anchor_stat"),
    ).drop("_bu", "_bd", "_ba")
    return df.drop(temp)
