"""Every SPC parameter, in one frozen, documented configuration.

`SpcConfig.seed()` is the seeds' design, implemented faithfully; `SpcConfig.default()` is the product's rule set.
The meaning of each parameter and how to tune it is in ``docs/spc.md`` (section "Parameters and tuning").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from store_anomaly.holiday_calendar import DEFAULT_HOLIDAY_COUNTRY, DEFAULT_HOLIDAY_SUBDIVISION
from store_anomaly.kpis.catalog import KPI_COLUMNS, KPIS, MetricSpec

# The KPIs scored: every KPI column of store_daily_metrics (the contract's metric_name values).
METRICS: tuple[str, ...] = KPI_COLUMNS

RuleSet = Literal["seed", "default"]
# How the default rule set models each KPI: the `spc` field of its catalog record.
DEFAULT_METRIC_SPECS: dict[str, MetricSpec] = {kpi.column: kpi.spc for kpi in KPIS}


@dataclass(frozen=True)
class SpcConfig:
    """All SPC parameters. Build with `SpcConfig.seed()` or `SpcConfig.default()`; refine with `.replace(...)`.

    Common
    ------
    rule_set: ``"seed"`` or ``"default"``.
    metrics: the KPI columns scored.
    warmup_days: a store (or a store/metric after a baseline reset) is never flagged and has no limits during
        its first `warmup_days` days; the seed design's "no score until 28 days of history".
    holiday_country / holiday_subdiv: the public-holiday calendar (``holidays`` package); the input's
        ``holiday_name`` column is honoured as well.
    extra_special_days: month-day strings ("12-24") treated like holidays by the default rule set.

    Seed rule set (the seeds' design)
    ---------------------------------
    seed_window: days in the rolling mean / standard deviation (current day excluded).
    seed_z_info / seed_z_warning / seed_z_critical: |Z| tiers of the ``z_score`` rule.
    seed_roc_warning / seed_roc_critical: day-over-day relative change tiers of the ``rate_of_change`` rule.

    Default rule set
    ----------------
    baseline_weeks / baseline_min_obs: weekday factors come from the same weekday over that many past weeks,
        needing that many usable observations.
    level_days / level_min_obs: the level (weekday-adjusted) is taken over that many past days, needing that
        many usable days. Expected value = level + weekday factor (log scale: level x factor).
    drift_level_days / drift_level_min_obs / drift_lag_days: the drift reference level is the mean of
        `drift_level_days` days ending `drift_lag_days` days before yesterday.
    sparse_center_days / sparse_min_obs: window (days) and minimum observations of the level of metrics with
        ``weekly=False`` (qc_score, expired_qty).
    scale_days / scale_min_obs: sigma = standard deviation of the previous `scale_days` one-step-ahead residuals
        (screened days only), needing `scale_min_obs` of them; `sparse_scale_days` / `sparse_scale_min_obs` for
        sparse metrics.
    sparse_sigma_pool: a sparse metric's spreads (the outlier screen's sigma0 and sigma) are never below this share
        of the chain's pooled spread: the same day's median, over the stores that have one, of their own spread
        (each from its earlier days only; at least `chain_min_stores` stores, else no floor). A sparse KPI's own
        spread reads a few inspections and can collapse by chance; 0 turns the floor off.
    scale_quantile: first pass only: sigma0 = (q(p) - q(1-p)) / (2 Phi^-1(p)) of the residuals (0.85: 15%
        breakdown, insensitive to a level offset).
    outlier_z: first pass: a day whose robust |Z| against the robust (median) baseline exceeds this is an outlier
        and never enters any baseline (non-recursive "flagged days stay out of later baselines").
    point_info_z / point_warning_z / point_critical_z: |Z| tiers of the ``robust_z`` rule (Shewhart individual
        chart on the weekday-aware, transformed-scale Z).
    fast_k / fast_h: the ``cusum_shift`` rule: two-sided tabular CUSUM of Z (reference value k, decision interval
        h, in sigma units), for steps of ~2 sigma and more.
    drift_k / drift_h / drift_critical_h: the ``cusum_drift`` rule: CUSUM of Z against the lagged reference, for
        small sustained shifts and slow declines; above `drift_critical_h` it is CRITICAL.
    anchor_windows / anchor_days / anchor_min_obs / drift_min_share / drift_max_flag_window: the
        ``anchored_drift`` rule (`store_anomaly.spc.anchor`): candidate onsets w - 1 days back for each w in
        `anchor_windows`; the anchor is the mean weekday-adjusted level of the `anchor_days` days before the onset
        (at least `anchor_min_obs` usable); a window needs `drift_min_share` of its days usable; windows up to
        `drift_max_flag_window` days flag, longer ones only estimate the onset and anchor of a longer change.
    drift_flag_models: which statistics flag (``slope``: a ramp from the anchor, matched to slow slides; ``level``:
        a step from it; both always estimate the anchor). Steps are the point and shift rules' job: testing the
        level too would spend budget on a second look at the same windows.
    anchor_h / anchor_other_h / anchor_critical_h / anchor_critical_change: ``anchored_drift`` is a WARNING when
        the GLR statistic exceeds `anchor_h` on the KPI's adverse side (`MetricSpec.drift_h` overrides it),
        `anchor_other_h` on the other side; CRITICAL when it exceeds `anchor_critical_h` *and* the chain-relative
        change is at least `anchor_critical_change` (log units, 0.22 = -20%) in the KPI's adverse direction.
        Calibrated by simulation to the false-alarm budget (docs/spc.md, "False-alarm budget").
    recent_level_days: `recent_level` (published beside the anchor) is the mean weekday-adjusted level of that
        many days, today included: where the store is now, in the anchor's terms.
    anchor_hold_z: the anchor is published (`anchor_value`, `anchor_since`) while the best window's |T| is at
        least this: a change is under test.
    cusum_window_days: a CUSUM is the maximum of the partial sums over the last `cusum_window_days` days, i.e.
        exactly the tabular CUSUM restarted that many days ago (deterministic, no look-ahead).
    cusum_clip: Z is winsorised at +-cusum_clip before entering a CUSUM (one outlier alone never makes a CUSUM
        signal; the point rule reports it).
    chain_relative: score every store relative to the chain. Per metric and day, the chain effect is the median,
        over the stores that have a baseline and trade that day (not closed, not a holiday), of their residual
        y - expected on the transformed scale (a log ratio for log-scale KPIs); it is added to the expected
        value (and, with the residuals against the drift reference, to the drift reference) of every store, so
        movements shared by the whole chain (seasonality, weather, a city-wide event) are not store anomalies.
        Same-day cross-section only: no later day is used.
    chain_min_stores: the chain effect is applied only on days when at least this many stores are in the
        cross-section; otherwise nothing is adjusted (a single store, a small pilot).
    chain_leave_one_out: a store in the cross-section is compared with the median of the *other* stores, so its
        own anomaly never moves its own reference.
    metric_specs: per-metric model, see `MetricSpec`.
    """

    rule_set: RuleSet = "default"
    metrics: tuple[str, ...] = METRICS
    warmup_days: int = 28
    holiday_country: str = DEFAULT_HOLIDAY_COUNTRY
    holiday_subdiv: str | None = DEFAULT_HOLIDAY_SUBDIVISION
    extra_special_days: tuple[str, ...] = ("12-24", "12-31")

    # seed rule set
    seed_window: int = 28
    seed_z_info: float = 1.5
    seed_z_warning: float = 2.0
    seed_z_critical: float = 3.0
    seed_roc_warning: float = 0.25
    seed_roc_critical: float = 0.50

    # default rule set
    baseline_weeks: int = 12
    baseline_min_obs: int = 3
    level_days: int = 28
    level_min_obs: int = 10
    drift_level_days: int = 56
    drift_level_min_obs: int = 20
    sparse_center_days: int = 56
    sparse_min_obs: int = 5
    scale_days: int = 84
    scale_min_obs: int = 21
    sparse_scale_min_obs: int = 10
    sparse_scale_days: int = 168
    sparse_sigma_pool: float = 0.75
    scale_quantile: float = 0.85
    outlier_z: float = 3.5
    point_info_z: float = 3.0
    point_warning_z: float = 4.0
    point_critical_z: float = 6.0
    fast_k: float = 1.0
    fast_h: float = 4.0
    drift_k: float = 0.75
    drift_h: float = 6.0
    drift_critical_h: float = 18.0
    drift_lag_days: int = 7
    cusum_window_days: int = 56
    cusum_clip: float = 4.0
    anchor_windows: tuple[int, ...] = (7, 10, 14, 17, 21, 28, 42, 56, 84, 112, 140)
    anchor_days: int = 42
    anchor_min_obs: int = 21
    drift_min_share: float = 0.6
    drift_min_flag_window: int = 10
    drift_max_flag_window: int = 17
    drift_flag_models: tuple[str, ...] = ("slope",)
    anchor_h: float = 4.0
    anchor_other_h: float = 4.25
    anchor_critical_h: float = 9.0
    anchor_critical_change: float = 0.22
    anchor_hold_z: float = 3.0
    recent_level_days: int = 7
    chain_relative: bool = True
    chain_min_stores: int = 5
    chain_leave_one_out: bool = True
    metric_specs: dict[str, MetricSpec] = field(default_factory=lambda: dict(DEFAULT_METRIC_SPECS))

    def __post_init__(self) -> None:
        if self.rule_set not in ("seed", "default"):
            raise ValueError(f"rule_set must be 'seed' or 'default', not {self.rule_set!r}")
        unknown = set(self.metrics) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}; known: {METRICS}")
        if self.drift_lag_days < 0:
            raise ValueError("drift_lag_days must be >= 0")
        if self.chain_min_stores < 3:
            raise ValueError("chain_min_stores must be >= 3 (a median of fewer stores is not a chain)")
        if self.warmup_days < 1 or self.seed_window < 2:
            raise ValueError("warmup_days must be >= 1 and seed_window >= 2")
        if not 0.5 < self.scale_quantile < 1.0:
            raise ValueError("scale_quantile must be in (0.5, 1)")
        missing = [m for m in self.metrics if m not in self.metric_specs]
        if missing:
            raise ValueError(f"metric_specs lacks {missing}")

    @classmethod
    def seed(cls, **overrides: object) -> SpcConfig:
        """The seeds' rule set: 28-day mean/std, Z tiers, Western Electric rules 1-5, rate of change."""
        return cls(rule_set="seed", **overrides)  # type: ignore[arg-type]

    @classmethod
    def default(cls, **overrides: object) -> SpcConfig:
        """The product's rule set: robust, weekday- and holiday-aware, log scale, point + two CUSUMs."""
        return cls(rule_set="default", **overrides)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> SpcConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    # ---- derived quantities -------------------------------------------------------------------------------

    @property
    def factor_span_days(self) -> int:
        """How far back a weekday factor reaches (its own window plus the 6 earlier days it is centred with)."""
        return 7 * self.baseline_weeks + 6

    def center_span(self, weekly: bool, drift: bool) -> int:
        """How far back a centre line (drift: the drift reference) reaches over its (screened) input values."""
        if weekly:
            level = self.drift_lag_days + self.drift_level_days if drift else self.level_days
            return level + self.factor_span_days
        return self.drift_lag_days + self.drift_level_days if drift else self.sparse_center_days

    def _outlier_span(self, weekly: bool) -> int:
        """How far back the first-pass outlier decision of a day reaches (median centre + quantile spread)."""
        return self.center_span(weekly, False) + self.scale_days

    def _z_span(self, weekly: bool) -> int:
        """How far back the Z of a day (its limits and CUSUM increments) reaches for one kind of metric.

        Residual of day t: the centre (which reads screened values) + the screen. Chain effect of day t: the same
        residual of the other stores on day t (and whether they have a centre and are past warm-up): no deeper.
        Sigma: the previous sigma-window residuals, chain-adjusted. Drift Z: the lagged reference + the screen.
        """
        screen = self._outlier_span(weekly)
        residual = self.center_span(weekly, False) + screen
        sigma_days = self.scale_days if weekly else self.sparse_scale_days
        return max(sigma_days + residual, self.center_span(weekly, True) + screen)

    @property
    def outlier_dependency_days(self) -> int:
        """How far back the first-pass outlier decision of a day reaches (the deepest metric kind in use)."""
        return max(self._outlier_span(self.metric_specs[m].weekly) for m in self.metrics)

    @property
    def z_dependency_days(self) -> int:
        """How far back the Z of a day (its limits and CUSUM increments) reaches (the deepest metric in use)."""
        return max(self._z_span(self.metric_specs[m].weekly) for m in self.metrics)

    @property
    def lookback_days(self) -> int:
        """Days before the first output day the computation needs (and uses; older rows are ignored).

        The result for day D depends only on input rows dated in [D - lookback_days, D], which is what makes a
        run over any range byte-identical, on the shared days, to a run over any other range. Default rule set:
        the CUSUM window on top of the Z dependency, computed per kind of metric (weekly or sparse) so that the
        sparse metrics' longer sigma window is not stacked on the weekly metrics' longer centre.
        """
        if self.rule_set == "seed":
            # rolling window + the WE rules look back at most 8 days on the Z series + warm-up cap
            return max(self.seed_window + 8, self.warmup_days)
        anchored = max(self.anchor_windows) + self.anchor_days + self.z_dependency_days
        return max(self.cusum_window_days - 1 + self.z_dependency_days, anchored, self.warmup_days)

    def severity_thresholds(self, metric: str | None = None) -> dict[str, float]:
        """|Z| tiers of the ``robust_z`` rule (of `metric`, with its `MetricSpec` overrides, when given): info,
        warning, critical, and the upward side's info_up and warning_up (`MetricSpec.up_warning_z`)."""
        spec = self.metric_specs.get(metric) if metric is not None else None
        warning = spec.warning_z if spec is not None and spec.warning_z is not None else self.point_warning_z
        critical = spec.critical_z if spec is not None and spec.critical_z is not None else self.point_critical_z
        up = spec.up_warning_z if spec is not None and spec.up_warning_z is not None else warning
        return {
            "info": min(self.point_info_z, warning),
            "warning": warning,
            "critical": max(critical, warning, up),
            "info_up": min(self.point_info_z, up),
            "warning_up": up,
        }
