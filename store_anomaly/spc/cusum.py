"""Tabular CUSUM, in two equivalent forms.

`tabular_cusum` is the textbook recursion (Page 1954; Montgomery, *Introduction to Statistical Quality
Control*, sec. 9.1):  C+_t = max(0, C+_{t-1} + z_t - k),  C-_t = max(0, C-_{t-1} - z_t - k),  signal when C > h.

`windowed_cusum_expr` is the form the engine uses. Unrolling the recursion gives
C+_t = max(0, max_{j<=t} sum_{i=j..t} (z_i - k)): the largest partial sum ending today. Restricting j to the
last W days gives exactly the tabular CUSUM restarted (at zero) W days ago. That makes day t depend only on
the last W values of z (no look-ahead, no dependence on where the series was cut), and it vectorises:
with P_t = sum_{i<t}(z_i - k) (an exclusive cumulative sum), C+_t = max(0, P_t + z_t - k - min_{t-W<i<=t} P_i).
The increments are rounded to multiples of 2^-16 sigma and summed as integers, so every partial sum is exact and
a run over any sub-range gives byte-identical results. For W at least a few times h/k the run lengths equal the
textbook's (k = 0.5, h = 5: ARL ~465 in control, ~10.4 after a one-sigma shift; tested).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from store_anomaly.spc.windows import GROUP, GROUP_INDEX, running_sum

QUANTUM = 2.0**16


def tabular_cusum(z: np.ndarray, k: float, h: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower tabular CUSUM along the last axis of `z` (nan counts as 0 increment... i.e. skipped).

    Vectorised over leading axes (many series at once). Returns (C+, C-), same shape as z.
    """
    z = np.asarray(z, dtype=float)
    up = np.zeros_like(z)
    down = np.zeros_like(z)
    cu = np.zeros(z.shape[:-1])
    cd = np.zeros(z.shape[:-1])
    for t in range(z.shape[-1]):
        zt = z[..., t]
        skip = np.isnan(zt)
        zt = np.where(skip, 0.0, zt)
        cu = np.where(skip, cu, np.maximum(0.0, cu + zt - k))
        cd = np.where(skip, cd, np.maximum(0.0, cd - zt - k))
        up[..., t] = cu
        down[..., t] = cd
    return up, down


def run_lengths(z: np.ndarray, k: float, h: float) -> np.ndarray:
    """Index (1-based) of the first signal (C+ > h or C- > h) of each row of `z`; 0 if none."""
    up, down = tabular_cusum(z, k)
    hit = (up > h) | (down > h)
    first = hit.argmax(axis=-1) + 1
    return np.where(hit.any(axis=-1), first, 0)


def add_windowed_cusum(
    frame: pl.DataFrame, z: str, k: float | str, window: int, group: list[str], clip: float | None, out: str
) -> pl.DataFrame:
    """Add columns `{out}_up` and `{out}_down`: the upper and lower CUSUM of column `z` restarted `window` rows
    ago, per `group` (rows sorted by day within each group, one row per day). Null z is skipped (zero
    increment). `k` is a number or the name of a per-row column (sigma units).

    A frame sorted by `windows.GROUP` (each group's rows contiguous) that carries `windows.GROUP_INDEX` gets its
    running sums without a group-by (`windows.running_sum`): the same integers."""
    zz = pl.col(z) if clip is None else pl.col(z).clip(-clip, clip)
    kk = pl.col(k) if isinstance(k, str) else pl.lit(k)
    indexed = group == GROUP and GROUP_INDEX in frame.columns
    sides = (("up", 1.0), ("down", -1.0))
    # both sides at once: increments, their running sums, the window's lowest exclusive sum, the CUSUM
    frame = frame.with_columns(
        ((zz * sign - kk) * QUANTUM).round(0).cast(pl.Int64).fill_null(0).alias(f"_inc_{side}") for side, sign in sides
    )
    frame = frame.with_columns(
        (running_sum(pl.col(f"_inc_{side}")) if indexed else pl.col(f"_inc_{side}").cum_sum().over(group)).alias(
            f"_csum_{side}"
        )
        for side, _ in sides
    )
    frame = frame.with_columns(
        (pl.col(f"_csum_{side}") - pl.col(f"_inc_{side}"))
        .rolling_min(window_size=window, min_samples=1)
        .over(group)
        .alias(f"_low_{side}")
        for side, _ in sides
    )
    return frame.with_columns(
        (
            pl.max_horizontal(pl.col(f"_csum_{side}") - pl.col(f"_low_{side}"), pl.lit(0, pl.Int64)).cast(pl.Float64)
            / QUANTUM
        ).alias(f"{out}_{side}")
        for side, _ in sides
    ).drop(*[f"_{part}_{side}" for part in ("inc", "csum", "low") for side, _ in sides])
