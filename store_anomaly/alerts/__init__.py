"""From SPC flags to action: alert episodes, their descriptions, feedback and notifications.

The modules here are pure (polars frames in, frames out; no Dagster): `episodes.build_alerts`,
`changepoint`, `describe`, `feedback`, `listing` and `notify` (whose only side effect is sending).
"""

from store_anomaly.alerts.config import ALERT_SCHEMA, AlertConfig
from store_anomaly.alerts.episodes import build_alerts
from store_anomaly.alerts.feedback import (
    AckError,
    AckInput,
    rule_feedback_counts,
    validate_ack,
)
from store_anomaly.alerts.listing import format_alerts, select_alerts
from store_anomaly.alerts.notify import (
    NotificationResult,
    select_for_notification,
    send_notifications,
    urls_from_env,
)

__all__ = [
    "ALERT_SCHEMA",
    "AckError",
    "AckInput",
    "AlertConfig",
    "NotificationResult",
    "build_alerts",
    "format_alerts",
    "rule_feedback_counts",
    "select_alerts",
    "select_for_notification",
    "send_notifications",
    "urls_from_env",
    "validate_ack",
]
