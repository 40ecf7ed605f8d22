"""How fast a slow slide can be caught at a given false-flag budget, by statistic, on idealised data.

Independent Gaussian daily residuals of known sigma (1), a slide of `--slope` sigma a day from a known day, and
a budget of `--flags-per-month` false flag-days per month of one test. Three statistics of the downward side:

- `windows GLR`: the engine's `anchored_drift` statistic (`spc.anchor`), idealised: for each flagging window w
  (7, 10, 14, 17 days), the level and ramp T statistics against the mean of the 42 days before the window's
  onset; a day is flagged while the largest T is above h (the engine flags every such day).
- `windows GLR, one flag per excursion`: the same, flagged only on the first day of each excursion above h.
- `CUSUM vs a lagged anchor`: a one-sided CUSUM of (anchor - x - k), the anchor the mean of the 42 days ending
  `lag` days back, reset after each signal (one flag per signal).

Each threshold is set on 4,000 stable series of 900 days to the budget, then the median delay of the first
flag on 3,000 slides is printed. This is the limit the engine's own delays are compared with in docs/spc.md
(the engine adds estimated sigma, weekday factors, holidays and the chain's median on top):

    .venv/bin/python benchmarks/ramp_statistics.py --flags-per-month 0.066 --slope 0.104
"""

from __future__ import annotations

import argparse

import numpy as np

ANCHOR_DAYS = 42
FLAG_WINDOWS = (7, 10, 14, 17)
DAYS_PER_MONTH = 30.44
WARM_UP = 200  # days before any flag is counted (every window and anchor is full by then)


def windows_glr_down(x: np.ndarray) -> np.ndarray:
    """Per series and day, the largest downward T (level or ramp) over the flagging windows; -inf before the
    windows fill."""
    series, days = x.shape
    zeros = np.zeros((series, 1))
    cum = np.concatenate([zeros, np.cumsum(x, 1)], 1)  # cum[:, t] = sum of x[:, :t]
    cum_weighted = np.concatenate([zeros, np.cumsum(x * np.arange(days), 1)], 1)
    best = np.full((series, days), -np.inf)
    for w in FLAG_WINDOWS:
        today = np.arange(ANCHOR_DAYS + w - 1, days)
        onset = today - w + 1
        anchor = (cum[:, onset] - cum[:, onset - ANCHOR_DAYS]) / ANCHOR_DAYS
        total = cum[:, today + 1] - cum[:, onset]
        level = (total / w - anchor) / np.sqrt(1 / w + 1 / ANCHOR_DAYS)
        k = np.arange(1, w + 1)
        weighted = (cum_weighted[:, today + 1] - cum_weighted[:, onset]) - (onset - 1) * total  # sum k x
        ramp = (weighted - anchor * k.sum()) / np.sqrt((k * k).sum() + k.sum() ** 2 / ANCHOR_DAYS)
        best[:, today] = np.maximum(best[:, today], np.maximum(-level, -ramp))
    return best


def cusum_flags(x: np.ndarray, k: float, lag: int, h: float) -> np.ndarray:
    """Signal days of a downward CUSUM against the mean of the ANCHOR_DAYS days ending `lag` days back."""
    series, days = x.shape
    cum = np.concatenate([np.zeros((series, 1)), np.cumsum(x, 1)], 1)
    total = np.zeros(series)
    flags = np.zeros((series, days), bool)
    for t in range(lag + ANCHOR_DAYS, days):  # a recursion: one vectorised step per day over every series
        anchor = (cum[:, t - lag] - cum[:, t - lag - ANCHOR_DAYS]) / ANCHOR_DAYS
        total = np.maximum(0.0, total + (anchor - x[:, t]) - k)
        flags[:, t] = total > h
        total = np.where(flags[:, t], 0.0, total)
    return flags


def first_days(flags: np.ndarray) -> np.ndarray:
    """Days from the slide's start to its first flag (10,000: never)."""
    return np.where(flags[:, WARM_UP:].any(1), flags[:, WARM_UP:].argmax(1), 10_000)


def bisect(rate_at, target: float, low: float, high: float) -> float:
    """The threshold in [low, high] whose false flag rate (decreasing in it) is the target."""
    for _ in range(20):
        middle = (low + high) / 2
        low, high = (middle, high) if rate_at(middle) > target else (low, middle)
    return (low + high) / 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flags-per-month", type=float, default=0.066, help="false flag-days per month of the test")
    parser.add_argument("--slope", type=float, default=0.104, help="the slide, in sigma a day")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    target = args.flags_per_month / DAYS_PER_MONTH
    stable = rng.standard_normal((4_000, 900))
    slides = rng.standard_normal((3_000, WARM_UP + 120))
    slides[:, WARM_UP:] -= args.slope * np.arange(1, 121)
    print(f"slide {args.slope} sigma a day, {args.flags_per_month} false flag-days per month of the test")

    stable_glr, slide_glr = windows_glr_down(stable)[:, WARM_UP:], windows_glr_down(slides)
    h = float(np.quantile(stable_glr[np.isfinite(stable_glr)], 1 - target))
    print(
        f"  windows GLR (every day above h):      h = {h:.2f}, median delay {np.median(first_days(slide_glr > h)):.1f}"
    )

    def excursion_starts(stat: np.ndarray, h: float) -> np.ndarray:
        above = stat > h
        return above & ~np.concatenate([np.zeros((above.shape[0], 1), bool), above[:, :-1]], 1)

    h = bisect(lambda h: excursion_starts(stable_glr, h).mean(), target, 1.5, 6.0)
    print(
        f"  windows GLR, one flag per excursion:  h = {h:.2f}, median delay {np.median(first_days(slide_glr > h)):.1f}"
    )
    for k in (0.2, 0.4, 0.6):
        h = bisect(lambda h, k=k: cusum_flags(stable, k, 21, h)[:, WARM_UP:].mean(), target, 1.0, 30.0)
        delay = np.median(first_days(cusum_flags(slides, k, 21, h)))
        print(f"  CUSUM vs the anchor 21 days back, k = {k}: h = {h:.2f}, median delay {delay:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
