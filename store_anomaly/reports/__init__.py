"""Reports over the daily metrics and SPC limits: store health scores and weekly peer comparison (pure)."""

from store_anomaly.reports.health import HealthConfig, compute_health_scores
from store_anomaly.reports.peers import compute_peer_comparison

__all__ = ["HealthConfig", "compute_health_scores", "compute_peer_comparison"]
