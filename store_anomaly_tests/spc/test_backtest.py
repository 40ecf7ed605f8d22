"""Backtest: synthetic changes injected into real stores' history, one store at a time."""

from __future__ import annotations

from datetime import date

import polars as pl

from store_anomaly.spc import SpcConfig
from store_anomaly.spc.backtest import SCENARIOS, Injection, backtest, format_backtest, inject
from store_anomaly.spc.simulate import StoreSpec, random_chain, simulate_stores

START, END = date(2025, 1, 1), date(2025, 12, 31)


def test_inject_moves_one_store_traffic_from_the_onset() -> None:
    metrics = simulate_stores([StoreSpec("A"), StoreSpec("B")], START, date(2025, 3, 31), seed=1)
    onset = date(2025, 3, 1)
    out = inject(metrics, "A", onset, Injection("ramp", "ramp", -0.5, 10))
    joined = metrics.join(out, on=["shop_no", "metric_date"], suffix="_new")
    ratio = joined.with_columns((pl.col("revenue_new") / pl.col("revenue")).alias("r"))
    assert ratio.filter(pl.col("shop_no") == "B")["r"].drop_nans().drop_nulls().max() == 1.0
    assert ratio.filter(pl.col("shop_no") == "A", pl.col("metric_date") < onset)["r"].drop_nans().min() == 1.0
    late = ratio.filter(pl.col("shop_no") == "A", pl.col("metric_date") >= date(2025, 3, 12))["r"].drop_nans()
    assert abs(late.mean() - 0.5) < 1e-9
    assert (joined["aov_new"] == joined["aov"]).all()  # the ticket is unchanged (a traffic change)


def test_backtest_reports_delays_false_flags_and_smallest_slide() -> None:
    stores = [StoreSpec(f"S{i}") for i in range(6)]
    metrics = simulate_stores(stores, START, END, seed=4, chain=random_chain(START, END, 4))
    table = backtest(metrics, {"default": SpcConfig.default()}, onset_after_days=200)
    assert table.height == 6 and set(table["rule_set"]) == {"default"}
    # steps of 25% within 2 days, one-day drops of 50% on the day, a fast -50% ramp within two weeks
    assert table["step -25%"].median() <= 1 and table["step -25%"].max() <= 4
    assert (table["one-day drop -50%"] == 0).all()
    assert (table["ramp -50% / 30 d"] <= 14).all()
    assert table["smallest_slide_14d"].drop_nulls().len() == 6
    assert (table["false_flags_per_store_month"] >= 0).all()
    text = format_backtest(table)
    assert text.count("\n") == 7 and all(c.name in text for c in SCENARIOS)
