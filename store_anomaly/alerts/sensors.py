"""Notifications: new and escalated WARNING/CRITICAL alerts, sent once through apprise.

The sensor reads the alerts with the notification log applied, so a re-run, a rebuilt alerts table or a
restarted daemon never sends the same alert at the same severity twice. A failed delivery is not logged:
the tick fails, visibly in the UI, and the next tick retries it.
"""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from store_anomaly.alerts.notify import send_notifications, urls_from_env
from store_anomaly.alerts.state import current_alert_state, record_notifications
from store_anomaly.resources import Warehouse
from store_anomaly.settings import NOTIFY_URLS_ENV_VAR, language_from_env


class NotificationDeliveryError(RuntimeError):
    """Some alerts could not be delivered; they are retried on the next tick."""


def deliver_pending_notifications(warehouse: Warehouse, urls: list[str], language: str | None = None):
    """Sends what is pending in `language` (default: STORE_ANOMALY_LANGUAGE), logs what was delivered, and
    returns the `NotificationResult`."""
    language = language or language_from_env()
    with warehouse.connect() as connection:
        alerts = current_alert_state(connection)  # empty before the first alerts materialization
    result = send_notifications(alerts, urls, language)
    targets = ", ".join(url.split("://", 1)[0] for url in urls)  # schemes only: URLs may hold secrets
    delivered = [(alert_id, severity, targets) for alert_id, severity in result.delivered.items()]
    with warehouse.connect() as connection:
        record_notifications(connection, delivered)
    return result


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=f"Sends new and escalated WARNING/CRITICAL alerts to the apprise URLs in {NOTIFY_URLS_ENV_VAR}.",
)
def alert_notifications_sensor(context: SensorEvaluationContext, warehouse: Warehouse):
    urls = urls_from_env()
    if not urls:
        return SkipReason(f"{NOTIFY_URLS_ENV_VAR} is not set: no notification target")
    result = deliver_pending_notifications(warehouse, urls)
    if not result.outcomes:
        return SkipReason("no new or escalated WARNING/CRITICAL alert")
    context.log.info(f"delivered {len(result.delivered)} alert notifications")
    if result.failed:
        raise NotificationDeliveryError(
            f"{len(result.failed)} alert notifications failed and will be retried: "
            + "; ".join(f"{alert_id}: {reason}" for alert_id, reason in result.failed.items())
        )
    return SkipReason(f"delivered {len(result.delivered)} notifications")
