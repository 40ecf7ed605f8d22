"""Configuration and shared vocabulary of the alert layer (pure: no Dagster, no I/O).

`AlertConfig` is one frozen dataclass; every field has a documented default, and `docs/alerts.md` lists them
all. The module also holds the alert vocabulary (the KPIs themselves are in `store_anomaly.kpis.catalog`):

* `KPI_COLUMNS`: the KPI columns of `store_daily_metrics`, from the catalog.
* `SEVERITY_RANK` / `SEVERITY_BY_RANK`: INFO < WARNING < CRITICAL as 0 < 1 < 2.
* `DEFAULT_METRIC_GROUPS`: the related-metric families that form one alert episode per store.
* `ALERT_SCHEMA`: the column names and polars types of the `store_anomaly_alerts` frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from store_anomaly.kpis.catalog import KPI_COLUMNS  # noqa: F401  (re-exported for the alert modules)

SEVERITY_RANK: dict[str, int] = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}
SEVERITY_BY_RANK: dict[int, str] = {rank: name for name, rank in SEVERITY_RANK.items()}

# One episode per store x family. The first metric of a family is its headline metric (the alert's
# `metric_name`) whenever it is among the metrics that flagged; otherwise the first one that did.
# Volume metrics that move together when customers stay away (revenue, orders, items, drinks produced,
# orders per labour hour) are one family, so a sales slide is ONE alert, not five.
DEFAULT_METRIC_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sales", ("revenue", "order_count", "items_sold", "aov", "production_count", "orders_per_labor_hour")),
    ("service_speed", ("avg_production_seconds",)),
    ("staffing", ("staff_hours", "headcount")),
    ("quality", ("qc_score", "expired_qty")),
)

ACK_LABELS: tuple[str, ...] = ("confirmed", "expected", "false-alarm", "new-normal")

# Columns of the store_anomaly_alerts frame, in order. The first 15 are the warehouse contract's.
ALERT_SCHEMA: dict[str, pl.DataType] = {
    "alert_id": pl.String(),
    "shop_no": pl.String(),
    "metric_name": pl.String(),
    "severity": pl.String(),
    "opened_on": pl.Date(),
    "last_seen_on": pl.Date(),
    "status": pl.String(),
    "description": pl.String(),
    "recommended_action": pl.String(),
    "description_zh": pl.String(),
    "recommended_action_zh": pl.String(),
    "acknowledged": pl.Boolean(),
    "acknowledged_by": pl.String(),
    "acknowledged_at": pl.Datetime("us"),
    "ack_note": pl.String(),
    # extras
    "shop_name": pl.String(),
    "episode_key": pl.String(),
    "metric_names": pl.String(),
    "direction": pl.String(),
    "first_severity": pl.String(),
    "rules": pl.String(),
    "flag_days": pl.Int64(),
    "peak_z": pl.Float64(),
    "change_started_on": pl.Date(),
    "change_pct": pl.Float64(),
    "baseline_value": pl.Float64(),
    "current_value": pl.Float64(),
    "estimated_loss": pl.Float64(),
    "chain_wide": pl.Boolean(),
    "chain_share": pl.Float64(),
    "cannibalization_suspect": pl.String(),
    "ack_label": pl.String(),
    "notified_severity": pl.String(),
    "stale": pl.Boolean(),
    "evaluated_as_of": pl.Date(),
}

# Columns written by people (or by the notifier), never recomputed: carried over across re-materializations.
HUMAN_STATE_COLUMNS: tuple[str, ...] = (
    "acknowledged",
    "acknowledged_by",
    "acknowledged_at",
    "ack_note",
    "ack_label",
    "notified_severity",
)


@dataclass(frozen=True)
class AlertConfig:
    """Every tunable of the episode builder. All defaults are the ones documented in docs/alerts.md.

    resolve_after_quiet_days: an episode is `resolved` once `as_of - last_seen_on >= N`; a WARNING+ flag more
        than N days after the previous one (N or more quiet days in between) opens a new episode.
    group_related_metrics: pool the flags of the metrics of one family (`metric_groups`) into one episode
        per store; False gives one episode per store x metric.
    metric_groups: the families, as (name, metrics); a metric in no family is its own family.
    chain_wide_share: a day is chain-wide for a family and direction when at least this share of the stores
        reporting that day have a WARNING+ flag on that family in that direction.
    chain_wide_min_stores: ... and at least this many stores (two stores never make a chain).
    changepoint_lookback_days: days before `opened_on` searched for the start of the change.
    changepoint_post_days: days after `opened_on` (capped at `last_seen_on`) included in the search.
    changepoint_min_segment_days: minimum length of either side of the change point.
    changepoint_min_pct: smallest after-vs-before change (in %) accepted as a change point.
    comparison_baseline_days: length of the "before" window of every before/after comparison (related
        KPIs, cannibalization), ending the day before the change start.
    related_move_pct: a related KPI "moved with it" when its weekday-matched change is at least this (in %).
    cannibalization_metrics: metrics on which a fall can be explained by a peer's rise.
    family_headlines: (family, metric) pairs: the family's episodes are headed, and sized, on that metric
        whichever of its KPIs flagged (a sales episode is about revenue, while orders and tickets are what the
        SPC tests); other families are headed by their first flagged metric.
    cannibalization_min_rise_pct: a peer is named when its same metric rose at least this much (in %) over
        the same window AND that much more than the median store.
    match_tolerance_days: slack when matching a recomputed episode to an existing alert by date overlap.
    min_open_severity: the lowest flag severity that opens or extends an episode.
    """

    resolve_after_quiet_days: int = 7
    group_related_metrics: bool = True
    metric_groups: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_METRIC_GROUPS
    chain_wide_share: float = 0.6
    chain_wide_min_stores: int = 3
    changepoint_lookback_days: int = 84
    changepoint_post_days: int = 28
    changepoint_min_segment_days: int = 7
    changepoint_min_pct: float = 3.0
    comparison_baseline_days: int = 28
    related_move_pct: float = 5.0
    cannibalization_metrics: tuple[str, ...] = ("revenue", "order_count", "items_sold")
    family_headlines: tuple[tuple[str, str], ...] = (("sales", "revenue"),)
    cannibalization_min_rise_pct: float = 8.0
    match_tolerance_days: int = 2
    min_open_severity: str = "WARNING"

    def __post_init__(self) -> None:
        if self.resolve_after_quiet_days < 1:
            raise ValueError("resolve_after_quiet_days must be at least 1")
        if not 0.0 < self.chain_wide_share <= 1.0:
            raise ValueError("chain_wide_share must be in (0, 1]")
        if self.min_open_severity not in ("WARNING", "CRITICAL"):
            raise ValueError("min_open_severity must be WARNING or CRITICAL")
        if self.changepoint_min_segment_days < 2:
            raise ValueError("changepoint_min_segment_days must be at least 2")

    def group_of(self) -> dict[str, str]:
        """metric_name -> family name (only metrics listed in `metric_groups`, and only when grouping)."""
        if not self.group_related_metrics:
            return {}
        return {metric: name for name, metrics in self.metric_groups for metric in metrics}

    def group_order(self) -> dict[str, int]:
        """metric_name -> position inside its family (0 = headline metric)."""
        return {metric: i for _, metrics in self.metric_groups for i, metric in enumerate(metrics)}


def empty_alerts() -> pl.DataFrame:
    """An empty alerts frame with the full schema."""
    return pl.DataFrame(schema=ALERT_SCHEMA)
