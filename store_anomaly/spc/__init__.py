"""Statistical Process Control for store KPIs: pure functions over polars frames (no Dagster in this package,
except the asset module ``store_anomaly.spc.assets`` which wraps it).

API
---
``METRICS``: the KPI column names scored (``revenue`` ... ``expired_qty``).

``SpcConfig``: frozen dataclass holding every parameter; ``SpcConfig.seed()`` (the seeds' design) and
``SpcConfig.default()`` (the product's rule set); ``config.replace(**changes)``; ``config.lookback_days``: how many
days before the first output day the computation needs (rows older than that are ignored).

``compute_spc(metrics, start, end, config, baseline_resets=None) -> SpcResult(limits, flags)``
``compute_anomaly_flags(...) -> pl.DataFrame`` (= ``compute_spc(...).flags``)
``compute_spc_by_metric(...) -> Iterator[SpcResult]``: the same rows one KPI at a time; in a long range each is
scored only when the previous part has been taken (what a writer uses: it never holds the whole range's output)

- ``metrics``: wide ``store_daily_metrics`` rows (metric_date Date, shop_no String, the KPI columns, is_closed,
  holiday_name; other columns ignored). It may hold lookback days and stores with different first days; a
  store's first row is its first in-scope day. Dirty rows are tolerated (see ``prepare``).
- ``baseline_resets``: optional frame (shop_no, metric_name nullable = every metric, reset_date): from
  reset_date on, that store/metric's baselines use only days >= reset_date, and it warms up again (no limits, no
  flags) for ``warmup_days`` (default rule set: until its windows are filled again, about 6 weeks for daily KPIs).
- Outputs hold only rows with start <= metric_date <= end, sorted.

Limits (``LIMITS_SCHEMA``), one row per store x metric x day that has a baseline (the store/epoch is at least
``warmup_days`` old and the windows hold enough usable days; nothing is emitted before): metric_date, shop_no,
metric_name, center_line, sigma, ucl, lcl, baseline_days (the contract columns), rule_set, observed_value,
z_score, and for the default rule set center_days, scale, center_transformed, sigma_transformed,
reference_value, cusum_shift_up/down, cusum_drift_up/down, drift_z, is_outlier, chain_effect, chain_stores,
and the anchored reference (``store_anomaly.spc.anchor``): anchor_value, anchor_since (NULL when no change is under
test), anchor_change, anchor_stat, recent_level, drift_glr_up/down, drift_change_up/down.
ucl/lcl are the WARNING limits (seed: +-3 sigma; default: +-4 sigma on the transformed scale, mapped back to
metric units, so they are asymmetric for log-scale KPIs); sigma is in metric units (default: half the +-1 sigma
band). Default rule set: the centre line is the store's own expectation (earlier days) times the chain's movement
that day (``chain_effect``, the same-day median residual of the other stores, on the transformed scale; null when
fewer than ``chain_min_stores`` stores are in the day's cross-section, ``chain_stores``), so movements every store
shares (season, weather, a city-wide event) are not store anomalies.

Flags (``FLAGS_SCHEMA``), unique on (shop_no, metric_date, metric_name, rule): metric_date, shop_no,
metric_name, rule, observed_value, expected_value, z_score, severity (INFO/WARNING/CRITICAL), direction
(up/down), rule_set, detail (short human text).

Determinism: the result for day D depends only on input rows dated in [D - lookback_days, D] (and the resets):
every statistic is an order statistic of a bounded window, an exact integer sum, or a same-day cross-store median
of such statistics, so computing a year in one call and any sub-range with its lookback give byte-identical rows
for the shared days (given the same stores).

Rule sets: ``seed`` (``store_anomaly.spc.seed``) and ``default`` (``store_anomaly.spc.robust``); the anchored
reference and ``anchored_drift`` in ``store_anomaly.spc.anchor``; the backtest in ``store_anomaly.spc.backtest``; CUSUM maths in
``store_anomaly.spc.cusum``; the chain effect in ``store_anomaly.spc.chain``; asset-check helpers in ``store_anomaly.spc.checks``; a synthetic store generator
for tests and benchmarks in ``store_anomaly.spc.simulate``. Documentation: docs/spc.md.
"""

from store_anomaly.spc.config import METRICS, MetricSpec, SpcConfig
from store_anomaly.spc.engine import (
    FLAGS_KEY,
    FLAGS_SCHEMA,
    LIMITS_CHART_INDEX,
    LIMITS_KEY,
    LIMITS_SCHEMA,
    SEVERITIES,
    SpcResult,
    compute_anomaly_flags,
    compute_spc,
    compute_spc_by_metric,
)

__all__ = [
    "FLAGS_KEY",
    "FLAGS_SCHEMA",
    "LIMITS_CHART_INDEX",
    "LIMITS_KEY",
    "LIMITS_SCHEMA",
    "METRICS",
    "SEVERITIES",
    "MetricSpec",
    "SpcConfig",
    "SpcResult",
    "compute_anomaly_flags",
    "compute_spc",
    "compute_spc_by_metric",
]
