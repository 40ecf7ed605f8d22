"""The seeds' rule set on textbook Western Electric sequences."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from store_anomaly.spc import SpcConfig, compute_spc
from store_anomaly_tests.spc.helpers import frame_from_series

START = date(2025, 1, 6)
PRE = 40  # days of alternating 90 / 110 before the pattern: mean 100, sd ~10.2


def _run(pattern: list[float]) -> tuple[pl.DataFrame, pl.DataFrame, date]:
    values = [90.0 if i % 2 else 110.0 for i in range(PRE)] + pattern + [100.0] * 3
    df = frame_from_series("US00001", START, {"revenue": values})
    first = START + timedelta(days=PRE)
    res = compute_spc(df, START, START + timedelta(days=len(values) - 1), SpcConfig.seed(metrics=("revenue",)))
    return res.limits, res.flags, first


def _rules_on(flags: pl.DataFrame, day: date) -> dict[str, tuple[str, str]]:
    f = flags.filter(pl.col("metric_date") == day)
    return {r["rule"]: (r["severity"], r["direction"]) for r in f.iter_rows(named=True)}


def test_baseline_is_previous_28_days_mean_and_sd() -> None:
    limits, _, first = _run([100.0])
    row = limits.filter(pl.col("metric_date") == first).row(0, named=True)
    assert row["center_line"] == 100.0
    assert abs(row["sigma"] - (2800 / 27) ** 0.5) < 1e-6  # sample sd of 14 x 90 and 14 x 110
    assert row["baseline_days"] == 28
    assert abs(row["ucl"] - (100 + 3 * row["sigma"])) < 1e-9


def test_no_score_in_first_28_days() -> None:
    limits, flags, _ = _run([100.0])
    assert limits["metric_date"].min() == START + timedelta(days=28)
    assert flags.filter(pl.col("metric_date") < START + timedelta(days=28)).height == 0


def test_we1_and_z_tiers() -> None:
    _, flags, first = _run([140.0])
    rules = _rules_on(flags, first)
    assert rules["we1"] == ("CRITICAL", "up")
    assert rules["z_score"] == ("CRITICAL", "up")
    _, flags, first = _run([78.0])  # z ~ -2.2: WARNING tier, no WE1
    rules = _rules_on(flags, first)
    assert rules["z_score"] == ("WARNING", "down")
    assert "we1" not in rules
    _, flags, first = _run([117.0])  # z ~ 1.7: INFO
    assert _rules_on(flags, first)["z_score"] == ("INFO", "up")


def test_we2_two_of_three_beyond_two_sigma() -> None:
    _, flags, first = _run([124.0, 100.0, 124.0])
    assert "we2" not in _rules_on(flags, first)
    assert _rules_on(flags, first + timedelta(days=2))["we2"] == ("WARNING", "up")


def test_we3_four_of_five_beyond_one_sigma() -> None:
    _, flags, first = _run([88.0, 88.0, 100.0, 88.0, 88.0])
    assert "we3" not in _rules_on(flags, first + timedelta(days=3))
    assert _rules_on(flags, first + timedelta(days=4))["we3"] == ("WARNING", "down")


def test_we4_eight_in_a_row_on_one_side() -> None:
    _, flags, first = _run([103.0] * 8)
    assert "we4" not in _rules_on(flags, first + timedelta(days=6))
    assert _rules_on(flags, first + timedelta(days=7))["we4"] == ("WARNING", "up")


def test_we5_six_in_a_row_rising() -> None:
    _, flags, first = _run([109.0, 91.0, 94.0, 97.0, 100.0, 103.0, 106.0])
    assert "we5" not in _rules_on(flags, first + timedelta(days=5))
    assert _rules_on(flags, first + timedelta(days=6))["we5"] == ("INFO", "up")


def test_rate_of_change_tiers() -> None:
    _, flags, first = _run([100.0, 130.0, 200.0])
    assert _rules_on(flags, first + timedelta(days=1))["rate_of_change"] == ("WARNING", "up")
    assert _rules_on(flags, first + timedelta(days=2))["rate_of_change"] == ("CRITICAL", "up")


def test_zero_sigma_gives_no_z() -> None:
    df = frame_from_series("US00001", START, {"revenue": [100.0] * 40})
    res = compute_spc(df, START, START + timedelta(days=39), SpcConfig.seed(metrics=("revenue",)))
    assert res.limits["sigma"].max() == 0.0
    assert res.limits["z_score"].null_count() == res.limits.height
    assert res.flags.height == 0
