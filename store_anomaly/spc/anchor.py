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

from store_anomaly.spc.chain import add_chain_effect
from store_anomaly.spc.config import SpcConfig

GROUP = ["sid", "epoch_start"]
_Q = 2.0**16
_CLIP = 2.0**12


def _lagged(cum: str, lag: int) -> pl.Expr:
    """A per-group cumulative sum `lag` rows back (0 before the group's first row). Rows are sorted by group, so
    a plain shift is the group's own row whenever the row index within the group (`_i`) reaches back that far."""
    return pl.when(pl.col("_i") >= lag).then(pl.col(cum).shift(lag)).otherwise(0)


def _window_sum(cum: str, w: int) -> pl.Expr:
    """Sum over the last `w` rows (today included) of a per-group cumulative sum column."""
    return pl.col(cum) - _lagged(cum, w)


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
    """
    windows = tuple(sorted(config.anchor_windows))
    a_days = config.anchor_days
    q = (pl.col(values).clip(-_CLIP, _CLIP) * _Q).round(0).cast(pl.Int64)
    present = pl.col(values).is_not_null().cast(pl.Int64)
    idx = pl.int_range(pl.len(), dtype=pl.Int64).over(GROUP)
    df = df.with_columns(idx.alias("_i")).with_columns(
        q.fill_null(0).cum_sum().over(GROUP).alias("_zs"),
        present.cum_sum().over(GROUP).alias("_zn"),
        (q.fill_null(0) * pl.col("_i")).cum_sum().over(GROUP).alias("_zis"),
        (present * pl.col("_i")).cum_sum().over(GROUP).alias("_zin"),
        (present * pl.col("_i") * pl.col("_i")).cum_sum().over(GROUP).alias("_ziin"),
    )
    recent = config.recent_level_days
    n_recent = _window_sum("_zn", recent)
    df = df.with_columns(
        pl.when(n_recent >= (recent + 1) // 2)
        .then(_window_sum("_zs", recent).cast(pl.Float64) / _Q / n_recent.cast(pl.Float64))
        .alias("recent_t")
    )
    stats: list[tuple[int, str, str, str]] = []  # (w, kind, T column, D column)
    temp = ["_i", "_zs", "_zn", "_zis", "_zin", "_ziin"]
    for w in windows:
        slope = w <= config.drift_max_flag_window  # longer windows: level only (they estimate, never flag)
        n1 = _window_sum("_zn", w)
        s1 = _window_sum("_zs", w)
        si = _window_sum("_zis", w)
        sin = _window_sum("_zin", w)
        siin = _window_sum("_ziin", w)
        # anchor: the a_days rows before the window
        n0 = _lagged("_zn", w) - _lagged("_zn", w + a_days)
        s0 = _lagged("_zs", w) - _lagged("_zs", w + a_days)
        c = pl.col("_i") - w  # k = i - c, 1..w inside the window
        # sums of k u, k, k^2 over the window's usable rows (exact integers, then scaled)
        sku = (si - c * s1).cast(pl.Float64) / _Q
        sk = (sin - c * n1).cast(pl.Float64)
        skk = (siin - 2 * c * sin + c * c * n1).cast(pl.Float64)
        n1f, n0f = n1.cast(pl.Float64), n0.cast(pl.Float64)
        ok = (n1 >= max(3, int(config.drift_min_share * w))) & (n0 >= config.anchor_min_obs)
        anchor = s0.cast(pl.Float64) / _Q / n0f
        sig = pl.when(pl.col("_i") >= w - 1).then(pl.col(sigma).shift(w - 1))
        df = df.with_columns(
            pl.when(ok & sig.is_not_null()).then(anchor).alias(f"_a{w}"),
            pl.when(ok & sig.is_not_null()).then(s1.cast(pl.Float64) / _Q / n1f - anchor).alias(f"_d{w}"),
            pl.when(ok & sig.is_not_null()).then((sku - anchor * sk) / skk).alias(f"_b{w}"),
            sig.alias(f"_s{w}"),
            (1.0 / n1f + 1.0 / n0f).sqrt().alias(f"_vd{w}"),
            (skk / (skk + sk * sk / n0f).sqrt()).alias(f"_vb{w}"),
        )
        if chain:
            member = pl.col(f"_d{w}").is_not_null() & pl.col("_member")
            for name, moved in ((f"_d{w}", f"_cd{w}"), (f"_b{w}", None))[: 2 if slope else 1]:
                df = add_chain_effect(df, name, member, config.chain_min_stores, config.chain_leave_one_out, "_ce")
                df = df.with_columns((pl.col(name) - pl.col("_ce").fill_null(0.0)).alias(name))
                if moved:
                    df = df.with_columns(pl.col("_ce").fill_null(0.0).alias(moved))
                df = df.drop("_ce", "_ce_n")
        else:
            df = df.with_columns(pl.lit(0.0).alias(f"_cd{w}"))
        df = df.with_columns(
            (pl.col(f"_d{w}") / (pl.col(f"_s{w}") * pl.col(f"_vd{w}"))).alias(f"_tl{w}"),
            (pl.col(f"_b{w}") * pl.col(f"_vb{w}") / pl.col(f"_s{w}")).alias(f"_ts{w}"),
        )
        temp += [f"_{p}{w}" for p in ("a", "d", "b", "s", "vd", "vb", "tl", "ts", "cd")]
        stats += [(w, "level", f"_tl{w}", f"_d{w}")] + ([(w, "slope", f"_ts{w}", f"_d{w}")] if slope else [])

    # a KPI flagged only for operationally material moves (staffing) can afford every short window and both
    # models: the materiality, not the statistic, is what keeps its false alarms down
    models = ("level", "slope") if material else config.drift_flag_models
    first = min(windows) if material else config.drift_min_flag_window
    flagging = [s for s in stats if first <= s[0] <= config.drift_max_flag_window and s[1] in models]

    def best(scores: list[pl.Expr], alias: str) -> pl.Expr:
        """Index of the largest score (nulls never win; the first on ties; null when every score is null)."""
        filled = [sc.fill_null(float("-inf")) for sc in scores]
        top = pl.concat_list(filled).list.arg_max()
        return pl.when(pl.any_horizontal(*[sc.is_not_null() for sc in scores])).then(top).alias(alias)

    def pick(index: str, values: list[pl.Expr]) -> pl.Expr:
        return pl.concat_list([v.cast(pl.Float64) for v in values]).list.get(pl.col(index), null_on_oob=True)

    up_scores = [pl.col(t) for _, _, t, _ in flagging]
    down_scores = [-pl.col(t) for _, _, t, _ in flagging]
    all_scores = [pl.col(t).abs() for _, _, t, _ in stats]
    df = df.with_columns(best(up_scores, "_bu"), best(down_scores, "_bd"), best(all_scores, "_ba"))
    refs = [pl.col(f"_a{w}") + pl.col(f"_cd{w}") for w, _, _, _ in flagging]
    df = df.with_columns(
        pl.max_horizontal(*up_scores).clip(lower_bound=0.0).alias("drift_t_up"),
        pl.max_horizontal(*down_scores).clip(lower_bound=0.0).alias("drift_t_down"),
        pick("_bu", [pl.col(d) for _, _, _, d in flagging]).alias("drift_change_up"),
        pick("_bd", [pl.col(d) for _, _, _, d in flagging]).alias("drift_change_down"),
        pick("_bu", refs).alias("drift_ref_up"),
        pick("_bd", refs).alias("drift_ref_down"),
        pick("_ba", [pl.col(f"_a{w}") for w, _, _, _ in stats]).alias("anchor_t"),
        pick("_ba", [pl.lit(w) for w, _, _, _ in stats]).cast(pl.Int64).alias("anchor_window"),
        pick("_ba", [pl.col(d) for _, _, _, d in stats]).alias("anchor_change"),
        pl.max_horizontal(*all_scores).alias("anchor_stat"),
    ).drop("_bu", "_bd", "_ba")
    return df.drop(temp)
