"""CUSUM against the textbook: average run lengths, and the windowed form equals the recursion."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from store_anomaly.spc.cusum import add_windowed_cusum, run_lengths, tabular_cusum


def _arl(shift: float, k: float, h: float, runs: int, length: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    z = rng.normal(shift, 1.0, (runs, length))
    rl = run_lengths(z, k, h)
    assert (rl > 0).mean() > 0.995, "too many censored runs"
    rl = np.where(rl > 0, rl, length)
    return float(rl.mean())


def test_arl_in_control_k05_h5_is_about_465() -> None:
    # Montgomery, Introduction to SQC, Table 9.3: two-sided tabular CUSUM k=0.5, h=5, ARL0 = 465
    arl0 = _arl(0.0, 0.5, 5.0, runs=2500, length=3500, seed=1)
    assert 430 < arl0 < 500, arl0


def test_arl_after_one_sigma_shift_is_about_10_4() -> None:
    arl1 = _arl(1.0, 0.5, 5.0, runs=4000, length=200, seed=2)
    assert 10.0 < arl1 < 10.9, arl1


def test_windowed_equals_tabular_when_window_covers_the_series() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0.2, 1.0, (4, 300))
    z[1, 50:60] = np.nan  # skipped days
    df = pl.DataFrame({"g": np.repeat(np.arange(4), 300), "z": z.ravel()}).with_columns(pl.col("z").fill_nan(None))
    out = add_windowed_cusum(df, "z", 0.5, 10_000, ["g"], None, "c")
    up, down = tabular_cusum(z, 0.5)
    np.testing.assert_allclose(out["c_up"].to_numpy(), up.ravel(), atol=1e-3)
    np.testing.assert_allclose(out["c_down"].to_numpy(), down.ravel(), atol=1e-3)


def test_windowed_is_the_tabular_cusum_restarted_window_days_ago() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(0.3, 1.0, 200)
    w = 30
    out = add_windowed_cusum(pl.DataFrame({"g": [0] * 200, "z": z}), "z", 0.5, w, ["g"], None, "c")
    for t in (40, 99, 199):
        up, down = tabular_cusum(z[t - w + 1 : t + 1], 0.5)
        assert out["c_up"][t] == pytest.approx(up[-1], abs=1e-3)
        assert out["c_down"][t] == pytest.approx(down[-1], abs=1e-3)


def test_windowed_arl_matches_textbook_for_a_56_day_window() -> None:
    """The engine's windowed form (56 days) keeps the textbook run lengths."""
    rng = np.random.default_rng(5)
    runs, length = 600, 2000
    z = rng.normal(0.0, 1.0, (runs, length))
    df = pl.DataFrame({"g": np.repeat(np.arange(runs), length), "z": z.ravel()})
    out = add_windowed_cusum(df, "z", 0.5, 56, ["g"], None, "c")
    hit = ((out["c_up"] > 5) | (out["c_down"] > 5)).to_numpy().reshape(runs, length)
    first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, length)
    assert 400 < first.mean() < 540, first.mean()
    z1 = rng.normal(1.0, 1.0, (2000, 120))
    df1 = pl.DataFrame({"g": np.repeat(np.arange(2000), 120), "z": z1.ravel()})
    out1 = add_windowed_cusum(df1, "z", 0.5, 56, ["g"], None, "c")
    hit1 = (out1["c_up"] > 5).to_numpy().reshape(2000, 120)
    assert 10.0 < (hit1.argmax(axis=1) + 1).mean() < 10.9


def test_windowed_cusum_is_exact_whatever_the_series_start() -> None:
    rng = np.random.default_rng(6)
    z = rng.normal(0.1, 1.3, 500)
    full = add_windowed_cusum(pl.DataFrame({"g": [0] * 500, "z": z}), "z", 0.75, 56, ["g"], 4.0, "c")
    part = add_windowed_cusum(pl.DataFrame({"g": [0] * 300, "z": z[200:]}), "z", 0.75, 56, ["g"], 4.0, "c")
    assert full["c_up"][260:].to_list() == part["c_up"][60:].to_list()
    assert full["c_down"][260:].to_list() == part["c_down"][60:].to_list()
