"""Change-point estimate: when a slow change began."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from store_anomaly.alerts import AlertConfig
from store_anomaly.alerts.changepoint import change_points_for_episodes, estimate_change_start
from store_anomaly_tests.alerts.synthetic import WEEKDAY_FACTOR

START = date(2025, 7, 14)
TRUE_START = date(2025, 10, 6)
DATES = [START + timedelta(days=i) for i in range(112)]


def _series(level, seed: int, noise: float = 0.05) -> list[float]:
    rng = np.random.default_rng(seed)
    return [3700 * level(d) * WEEKDAY_FACTOR[d.weekday()] * (1 + rng.normal(0, noise)) for d in DATES]


def _ramp(d: date) -> float:
    return 1.0 if d < TRUE_START else max(0.75, 1 - 0.25 * (d - TRUE_START).days / 35)


def test_slow_ramp_is_dated_near_its_start():
    for seed in range(5):
        point = estimate_change_start(DATES, _series(_ramp, seed), not_after=date(2025, 10, 20), direction="down")
        assert point.detected
        assert abs((point.started_on - TRUE_START).days) <= 10, (seed, point)
        assert point.change_pct < -5


def test_step_is_dated_at_the_step():
    point = estimate_change_start(
        DATES, _series(lambda d: 1.0 if d < TRUE_START else 0.8, 1), not_after=date(2025, 10, 9)
    )
    assert point.detected and abs((point.started_on - TRUE_START).days) <= 2
    assert -25 < point.change_pct < -15


def test_no_change_falls_back_to_the_opening_day():
    point = estimate_change_start(DATES, _series(lambda d: 1.0, 3), not_after=date(2025, 10, 9), direction="down")
    assert not point.detected
    assert point.started_on == date(2025, 10, 9)
    assert abs(point.change_pct) < 5


def test_wrong_direction_short_series_and_gaps():
    rising = _series(lambda d: 1.0 if d < TRUE_START else 1.2, 4)
    assert not estimate_change_start(DATES, rising, not_after=date(2025, 10, 9), direction="down").detected
    short = estimate_change_start(DATES[:10], rising[:10], not_after=DATES[5])
    assert not short.detected and short.started_on == DATES[5]
    with_gaps = [None if i % 9 == 0 else v for i, v in enumerate(_series(_ramp, 5))]
    assert estimate_change_start(DATES, with_gaps, not_after=date(2025, 10, 20), direction="down").detected
    assert estimate_change_start([], [], not_after=None).started_on is None


def test_change_is_never_dated_after_the_alert_opened():
    point = estimate_change_start(
        DATES, _series(lambda d: 1.0 if d < TRUE_START else 0.8, 6), not_after=date(2025, 9, 20)
    )
    assert point.started_on <= date(2025, 9, 20)


def test_frame_level_estimates_per_episode():
    metrics = pl.DataFrame(
        {"metric_date": DATES, "shop_no": "US00001", "revenue": _series(_ramp, 7), "is_closed": False}
    )
    episodes = pl.DataFrame(
        {
            "episode_uid": [1, 2],
            "shop_no": ["US00001", "US00002"],
            "metric_name": ["revenue", "revenue"],
            "opened_on": [date(2025, 10, 20), date(2025, 10, 20)],
            "last_seen_on": [date(2025, 11, 1), date(2025, 11, 1)],
            "direction": ["down", "down"],
        }
    )
    out = change_points_for_episodes(metrics, episodes, AlertConfig())
    assert out.height == 2
    first, second = out.sort("episode_uid").iter_rows(named=True)
    assert first["change_detected"] and abs((first["change_started_on"] - TRUE_START).days) <= 10
    assert not second["change_detected"] and second["change_started_on"] == date(2025, 10, 20)
