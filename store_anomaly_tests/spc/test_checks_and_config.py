"""Pure asset-check helpers and the configuration."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from store_anomaly.spc import METRICS, SpcConfig
from store_anomaly.spc.checks import flags_in_warmup, flags_without_baseline, invalid_flags, malformed_limits


def test_malformed_limits_detected() -> None:
    limits = pl.DataFrame(
        {
            "center_line": [10.0, 10.0, 10.0, 10.0],
            "sigma": [1.0, 1.0, -1.0, None],
            "ucl": [13.0, 9.0, 13.0, 13.0],
            "lcl": [7.0, 7.0, 7.0, 7.0],
        }
    )
    assert malformed_limits(limits).height == 3


def test_flag_checks() -> None:
    d = date(2025, 3, 1)
    flags = pl.DataFrame(
        {
            "shop_no": ["A", "A", "B"],
            "metric_name": ["revenue"] * 3,
            "metric_date": [d, d, d],
            "rule": ["robust_z", "robust_z", "cusum_shift"],
            "severity": ["WARNING", "WARNING", "LOUD"],
            "direction": ["down", "down", "up"],
        }
    )
    limits = pl.DataFrame({"shop_no": ["A"], "metric_name": ["revenue"], "metric_date": [d]})
    assert flags_without_baseline(flags, limits)["shop_no"].to_list() == ["B"]
    assert invalid_flags(flags).height == 2  # the duplicated key (once) and the unknown severity
    firsts = pl.DataFrame({"shop_no": ["A", "B"], "first_date": [date(2025, 2, 10), date(2025, 1, 1)]})
    assert flags_in_warmup(flags, firsts, 28)["shop_no"].to_list() == ["A", "A"]


def test_config_presets_and_lookback() -> None:
    seed, default = SpcConfig.seed(), SpcConfig.default()
    assert seed.rule_set == "seed" and default.rule_set == "default"
    assert seed.metrics == METRICS == default.metrics
    assert seed.lookback_days >= seed.seed_window + 7
    assert default.lookback_days > default.cusum_window_days + default.scale_days
    assert default.replace(drift_h=7.0).drift_h == 7.0
    # per kind of metric, a day's Z reaches 84 (sigma) + 118 (centre) + 202 (screen) = 404 days back (weekly KPIs;
    # the sparse ones' longer sigma window sits on a shorter centre: 364); the anchored reference adds its longest
    # candidate onset (140 days) and the anchor window before it (42): 586 (546)
    assert default.lookback_days == 586
    assert default.replace(metrics=("qc_score", "expired_qty")).lookback_days == 546
    assert default.replace(chain_relative=False).lookback_days == 586  # the chain effect adds no depth
    with pytest.raises(ValueError):
        SpcConfig.default(chain_min_stores=2)
    with pytest.raises(ValueError):
        SpcConfig(rule_set="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SpcConfig.default(metrics=("revenue", "nope"))


def test_limits_by_kpi_are_regrouped_into_ranges_of_whole_stores() -> None:
    from store_anomaly.spc.assets import regrouped_by_stores

    days = pl.date_range(date(2025, 1, 1), date(2025, 1, 10), "1d", eager=True)
    stores = [f"US{n:05d}" for n in (3, 1, 12, 7, 2)]
    by_kpi = [
        pl.DataFrame({"metric_date": days})
        .join(pl.DataFrame({"shop_no": stores[: 5 - k]}), how="cross")  # (some KPIs lack some stores)
        .with_columns(metric_name=pl.lit(kpi), center_line=pl.int_range(pl.len()).cast(pl.Float64) + k / 3)
        .sort("shop_no", "metric_date")
        for k, kpi in enumerate(("revenue", "order_count", "aov"))
    ]
    everything = pl.concat(by_kpi).sort("shop_no", "metric_name", "metric_date")
    parts = list(regrouped_by_stores(iter(by_kpi), rows_per_part=60))
    assert len(parts) == 3  # 120 rows of 5 stores: 2 stores (~60 rows) a part
    shops = [part["shop_no"].unique().to_list() for part in parts]
    assert sum(len(s) for s in shops) == 5 and len({shop for s in shops for shop in s}) == 5  # each store in one part
    assert pl.concat(parts).equals(everything)  # every row, in order, nothing changed
    assert list(regrouped_by_stores(iter([]))) == []
