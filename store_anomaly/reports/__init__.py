"""Reports over the daily metrics, SPC limits and alerts (pure, no Dagster outside `assets`): store health scores,
weekly peer comparison, and the static HTML reports (`data` reads a bounded window of the warehouse, `charts` and
`pages` build plotly figures and pages, `site` writes them into the reports folder)."""

from store_anomaly.reports.health import HealthConfig, compute_health_scores
from store_anomaly.reports.peers import compute_peer_comparison

__all__ = ["HealthConfig", "compute_health_scores", "compute_peer_comparison"]
