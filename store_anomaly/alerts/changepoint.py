"""When did a slow change begin? A change-point estimate on a store's daily KPI series (pure, no Dagster).

SPC notices a slow slide only once it is big enough; the operations team needs to know when it *began*.

Public functions
----------------
`estimate_change_start(dates, values, *, not_after=None, direction=None, min_segment_days=7, min_pct=3.0)
    -> ChangePoint`
    One series (dates ascending, values may contain None/NaN, closed days already removed).

    1. Weekday adjustment: each value is divided by its weekday factor (weekday mean / overall mean over the
       window), or, when the series has zeros or negatives, shifted by (weekday mean - overall mean). This
       removes the weekly cycle, so "before" and "after" means compare the same weekday mix.
    2. Two one-break models are fitted: a level step (`ruptures.KernelCPD`, linear kernel = l2 cost, exact
       dynamic programming) and a continuous ramp between two plateaus, y = a + b * clip(t - k1, 0, k2 - k1),
       every (k1, k2) scanned at once with numpy. There is a change when the better of them beats "no
       change" (a constant level) on BIC (n*ln(RSS/n) + p*ln(n)). Its start is the ramp's k1: the ramp nests
       the step (a one-day ramp), so k1 dates a sudden drop at the step and a slow slide where it began,
       where a step fit would date a slide at its middle.
    3. The break is kept only if both sides have `min_segment_days` points, the after/before change is at
       least `min_pct` percent, and (when `direction` is given) it goes that way. The estimate is clipped to
       `not_after` (the day the alert opened: a change cannot begin after it was noticed).
    4. `change_pct` = 100 * (mean after / mean before - 1) of the weekday-adjusted series.

    When no break qualifies, `detected` is False and, if `not_after` is given, the split is made at
    `not_after` instead (so `change_pct` still says "how much since the alert opened").

`change_points_for_episodes(metrics, episodes, config) -> pl.DataFrame`
    `episodes` needs `episode_uid`, `shop_no`, `metric_name`, `opened_on`, `last_seen_on`, `direction`.
    The series searched is the episode's `metric_name` from `opened_on - config.changepoint_lookback_days`
    to `min(last_seen_on, opened_on + config.changepoint_post_days)`, closed days excluded.
    Returns one row per episode: `episode_uid`, `change_started_on` (Date, never after `opened_on`),
    `change_pct` (f64), `mean_before` (f64), `mean_after` (f64), `change_detected` (bool).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from store_anomaly.alerts.config import AlertConfig


@dataclass(frozen=True)
class ChangePoint:
    started_on: date | None
    change_pct: float | None
    mean_before: float | None
    mean_after: float | None
    detected: bool


def _weekday_adjust(dates: Sequence[date], values: np.ndarray) -> np.ndarray:
    weekdays = np.array([d.isoweekday() for d in dates])
    overall = float(values.mean())
    adjusted = values.astype(float).copy()
    multiplicative = bool(np.all(values > 0))
    for weekday in np.unique(weekdays):
        mask = weekdays == weekday
        weekday_mean = float(values[mask].mean())
        if multiplicative:
            adjusted[mask] = values[mask] / (weekday_mean / overall)
        else:
            adjusted[mask] = values[mask] - (weekday_mean - overall)
    return adjusted


def _pct(before: np.ndarray, after: np.ndarray) -> tuple[float | None, float | None, float | None]:
    if len(before) == 0 or len(after) == 0:
        return None, None, None
    mean_before, mean_after = float(before.mean()), float(after.mean())
    if mean_before <= 0:
        return None, mean_before, mean_after
    return 100.0 * (mean_after / mean_before - 1.0), mean_before, mean_after


def _bic(rss: float, n: int, parameters: int) -> float:
    return n * math.log(max(rss, 1e-12) / n) + parameters * math.log(n)


def _ramp_break(y: np.ndarray, min_segment_days: int) -> tuple[int, int, float] | None:
    """Best continuous "flat, linear ramp, flat" fit: y = a + b * clip(t - k1, 0, k2 - k1), scanned over
    every (k1, k2) at once with numpy. A slow slide that settles is exactly this shape; k1 is its start."""
    n = len(y)
    starts = np.arange(min_segment_days, n - min_segment_days + 1)
    if len(starts) == 0:
        return None
    k1, k2 = np.meshgrid(starts, np.arange(1, n + 1), indexing="ij")
    keep = k2 > k1
    k1, k2 = k1[keep], k2[keep]
    t = np.arange(n, dtype=float)
    x = np.clip(t[None, :] - k1[:, None], 0.0, (k2 - k1)[:, None].astype(float))
    x_mean = x.mean(axis=1)
    y_centered = y - y.mean()
    x_centered = x - x_mean[:, None]
    sxx = (x_centered**2).sum(axis=1)
    sxy = (x_centered * y_centered[None, :]).sum(axis=1)
    explained = np.where(sxx > 0, sxy**2 / np.where(sxx > 0, sxx, 1.0), 0.0)
    rss = float((y_centered**2).sum()) - explained
    best = int(np.argmax(explained))
    # t = k1 is the last day on the old level: the change starts at k1 + 1
    return int(k1[best]) + 1, int(k2[best]) + 1, float(max(rss[best], 0.0))


def _candidate_fits(y: np.ndarray, min_segment_days: int) -> dict[str, tuple[float, int]]:
    """(BIC, break index) of the two change models: a level step (ruptures `KernelCPD` with the linear
    kernel, i.e. the l2 cost, solved exactly in C) and a ramp between two plateaus (break = ramp start)."""
    # ruptures imports scipy (over a second): loaded when an episode is first dated, not with the code location.
    import ruptures as rpt
    from ruptures.exceptions import BadSegmentationParameters

    n = len(y)
    fits: dict[str, tuple[float, int]] = {}
    try:
        detector = rpt.KernelCPD(kernel="linear", min_size=min_segment_days, jump=1).fit(y.reshape(-1, 1))
        k = int(detector.predict(n_bkps=1)[0])
        rss = float(((y[:k] - y[:k].mean()) ** 2).sum() + ((y[k:] - y[k:].mean()) ** 2).sum())
        fits["step"] = (_bic(rss, n, 3), k)
    except BadSegmentationParameters:  # a series too short for two segments has no step fit
        pass
    ramp = _ramp_break(y, min_segment_days)
    if ramp is not None:
        start, end, rss = ramp
        if end - start <= 2 and "step" in fits:
            start = fits["step"][1]  # a ramp of a day or two is a step: the exact step location is better
        fits["ramp"] = (_bic(rss, n, 4), start)
    return {name: fit for name, fit in fits.items() if min_segment_days <= fit[1] <= n - min_segment_days}


def estimate_change_start(
    dates: Sequence[date],
    values: Sequence[float | None],
    *,
    not_after: date | None = None,
    direction: str | None = None,
    min_segment_days: int = 7,
    min_pct: float = 3.0,
) -> ChangePoint:
    """The estimated start of the change in one daily series; see the module docstring."""
    pairs = [
        (d, float(v))
        for d, v in zip(dates, values, strict=True)
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    ]
    pairs.sort(key=lambda p: p[0])
    clean_dates = [p[0] for p in pairs]
    series = np.array([p[1] for p in pairs], dtype=float)
    n = len(series)

    def fallback() -> ChangePoint:
        if not_after is None or n == 0:
            return ChangePoint(None, None, None, None, False)
        adjusted = _weekday_adjust(clean_dates, series) if n else series
        split = next((i for i, d in enumerate(clean_dates) if d >= not_after), n)
        pct, before, after = _pct(adjusted[:split], adjusted[split:])
        return ChangePoint(not_after, pct, before, after, False)

    if n < 2 * min_segment_days or float(np.ptp(series)) == 0.0:
        return fallback()
    adjusted = _weekday_adjust(clean_dates, series)
    fits = _candidate_fits(adjusted, min_segment_days)
    if not fits:
        return fallback()
    rss_none = float(((adjusted - adjusted.mean()) ** 2).sum())
    bic_none = _bic(rss_none, n, 1)
    best_bic, k = min(fits.values())
    if not best_bic < bic_none:
        return fallback()
    if "ramp" in fits:
        # The ramp fit nests the step (a one-day ramp), so its start dates both a slide and a sudden drop.
        k = fits["ramp"][1]
    pct, before, after = _pct(adjusted[:k], adjusted[k:])
    if pct is None or abs(pct) < min_pct:
        return fallback()
    if direction == "down" and pct > 0 or direction == "up" and pct < 0:
        return fallback()
    started = clean_dates[k]
    if not_after is not None and started > not_after:
        return fallback()
    return ChangePoint(started, pct, before, after, True)


CHANGE_POINT_SCHEMA = {
    "episode_uid": pl.Int64(),
    "change_started_on": pl.Date(),
    "change_pct": pl.Float64(),
    "mean_before": pl.Float64(),
    "mean_after": pl.Float64(),
    "change_detected": pl.Boolean(),
}


def change_points_for_episodes(metrics: pl.DataFrame, episodes: pl.DataFrame, config: AlertConfig) -> pl.DataFrame:
    """One change-point estimate per episode; see the module docstring."""
    if episodes.is_empty():
        return pl.DataFrame(schema=CHANGE_POINT_SCHEMA)
    metric_names = [m for m in episodes["metric_name"].unique().to_list() if m in metrics.columns]
    open_days = metrics
    if "is_closed" in metrics.columns:
        open_days = metrics.filter(~pl.col("is_closed").fill_null(False))
    long = (
        open_days.select("shop_no", "metric_date", *[pl.col(m).cast(pl.Float64) for m in metric_names])
        .unpivot(index=["shop_no", "metric_date"], variable_name="metric_name", value_name="value")
        .drop_nulls("value")
    )
    windows = episodes.select(
        "episode_uid",
        "shop_no",
        "metric_name",
        "opened_on",
        "direction",
        (pl.col("opened_on") - pl.duration(days=config.changepoint_lookback_days)).alias("window_from"),
        pl.min_horizontal(
            pl.col("last_seen_on"), pl.col("opened_on") + pl.duration(days=config.changepoint_post_days)
        ).alias("window_to"),
    )
    series = (
        windows.join(long, on=["shop_no", "metric_name"], how="inner")
        .filter(pl.col("metric_date").is_between(pl.col("window_from"), pl.col("window_to")))
        .sort("episode_uid", "metric_date")
    )
    by_episode = {key[0]: frame for key, frame in series.partition_by("episode_uid", as_dict=True).items()}
    rows = []
    for episode in windows.iter_rows(named=True):
        frame = by_episode.get(episode["episode_uid"])
        if frame is None:
            point = ChangePoint(episode["opened_on"], None, None, None, False)
        else:
            point = estimate_change_start(
                frame["metric_date"].to_list(),
                frame["value"].to_list(),
                not_after=episode["opened_on"],
                direction=episode["direction"],
                min_segment_days=config.changepoint_min_segment_days,
                min_pct=config.changepoint_min_pct,
            )
        rows.append(
            {
                "episode_uid": episode["episode_uid"],
                "change_started_on": point.started_on or episode["opened_on"],
                "change_pct": point.change_pct,
                "mean_before": point.mean_before,
                "mean_after": point.mean_after,
                "change_detected": point.detected,
            }
        )
    return pl.DataFrame(rows, schema=CHANGE_POINT_SCHEMA)
