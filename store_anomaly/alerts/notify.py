"""Send new and escalated WARNING/CRITICAL alerts once, through apprise (no Dagster; the only I/O is the send).

Public API
----------
`urls_from_env(environ=None) -> list[str]`
    The apprise URLs in STORE_ANOMALY_NOTIFY_URLS (`settings.NOTIFY_URLS_ENV_VAR`), separated by commas
    and/or whitespace (empty list when unset).

`select_for_notification(alerts) -> pl.DataFrame`
    The alerts to send: status 'open', not stale, severity WARNING or CRITICAL, and severity above
    `notified_severity` (null = never sent). So a new alert is sent once, an escalation WARNING -> CRITICAL
    once more, and nothing else is ever re-sent. Sorted CRITICAL first, then opened_on.

`notification_message(alert: dict, language="en") -> tuple[str, str]`: (title, body) of one alert row in
    `language` (texts from `store_anomaly.texts`; the body is the alert's description and checklist in that
    language, `description_zh` / `recommended_action_zh` for zh, the English ones when a row has none yet).

`send_notifications(alerts, urls, language="en") -> NotificationResult`
    Sends every selected alert to every URL, each URL separately, once: a failed URL is not retried here
    (the sensor's next tick retries it, and a wait inside a tick would risk its timeout). Raises ValueError
    when there is something to send and no URL.

`NotificationResult.outcomes`: one `DeliveryOutcome(alert_id, severity, delivered, failed_targets, reason)`
    per selected alert. `delivered` is True when at least one URL accepted it: the alert then
    counts as sent (it is never sent again at that severity, so targets that did accept it never get a
    duplicate); URLs that still failed after every attempt are listed in `failed_targets` (privacy-masked)
    and `reason` (apprise's message). When no URL accepted it, `delivered` is False and the next run tries
    again. Convenience: `.delivered` {alert_id: severity}, `.failed` {alert_id: reason}, `.ok`.

The caller logs what was delivered (`state.record_notifications`); the log is overlaid on the alerts, which
is what makes a re-run or a restart never send the same alert twice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from store_anomaly.alerts.config import SEVERITY_RANK
from store_anomaly.alerts.describe import label, text_columns

if TYPE_CHECKING:  # apprise (and its plugins) is imported where a message is sent, not with the code location
    import apprise
from store_anomaly.settings import NOTIFY_URLS_ENV_VAR
from store_anomaly.texts import texts_for


def urls_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Apprise URLs from STORE_ANOMALY_NOTIFY_URLS (comma and/or whitespace separated)."""
    raw = (environ if environ is not None else os.environ).get(NOTIFY_URLS_ENV_VAR, "")
    return [part for part in re.split(r"[,\s]+", raw) if part]


@dataclass(frozen=True)
class DeliveryOutcome:
    alert_id: str
    severity: str
    delivered: bool
    failed_targets: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class NotificationResult:
    outcomes: tuple[DeliveryOutcome, ...] = ()

    @property
    def delivered(self) -> dict[str, str]:
        return {o.alert_id: o.severity for o in self.outcomes if o.delivered}

    @property
    def failed(self) -> dict[str, str]:
        return {o.alert_id: o.reason or "delivery failed" for o in self.outcomes if o.failed_targets}

    @property
    def ok(self) -> bool:
        return all(o.delivered and not o.failed_targets for o in self.outcomes)


def _rank(column: str) -> pl.Expr:
    return pl.col(column).replace_strict(SEVERITY_RANK, default=-1, return_dtype=pl.Int64)


def select_for_notification(alerts: pl.DataFrame) -> pl.DataFrame:
    """Open WARNING/CRITICAL alerts whose severity was not notified yet; see the module docstring."""
    return (
        alerts.filter(
            (pl.col("status") == "open")
            & ~pl.col("stale").fill_null(False)
            & (_rank("severity") >= SEVERITY_RANK["WARNING"])
            & (_rank("severity") > _rank("notified_severity").fill_null(-1))
        )
        .with_columns(_rank("severity").alias("_rank"))
        .sort(["_rank", "opened_on", "alert_id"], descending=[True, False, False])
        .drop("_rank")
    )


def notification_message(alert: dict, language: str = "en") -> tuple[str, str]:
    """(title, body) for one alert row, in `language`."""
    t = texts_for(language)
    shop = f"{alert['shop_no']} {alert.get('shop_name') or ''}".strip()
    pct = alert.get("change_pct")
    move = ""
    if pct is not None:
        move = t(f"notify.move.{'down' if pct < 0 else 'up'}", pct=f"{abs(pct):.0f}%")
    elif alert.get("direction") in ("up", "down"):
        move = t(f"notify.move.direction.{alert['direction']}")
    escalated = alert.get("notified_severity") is not None
    prefix = t("notify.escalated", severity=alert["severity"]) if escalated else alert["severity"]
    since = alert.get("change_started_on") or alert.get("opened_on")
    title = t(
        "notify.title", prefix=prefix, shop=shop, what=label(alert["metric_name"], language), move=move, since=since
    )
    description, action = text_columns(language)
    footer = t(
        "notify.footer",
        alert_id=alert["alert_id"],
        status=t(f"status.{alert['status']}") if t.has(f"status.{alert['status']}") else alert["status"],
        opened=alert["opened_on"],
        last_seen=alert["last_seen_on"],
    )
    parts = (
        alert.get(description) or alert.get("description"),
        alert.get(action) or alert.get("recommended_action"),
        footer,
    )
    return title, "\n\n".join(part for part in parts if part)


def _target_name(app: apprise.Apprise, url: str) -> str:
    try:
        return app[0].url(privacy=True)
    except (IndexError, AttributeError, TypeError, ValueError):  # no plugin: show the scheme, never credentials
        return url.split("://", 1)[0] + "://..."


def _reason(result: object) -> str:
    messages = []
    logs = getattr(result, "logs", None)
    if callable(logs):
        messages = [entry.message for entry in logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
    return messages[-1] if messages else "the target did not accept the notification"


def _targets(urls: list[str]) -> list[tuple[str, apprise.Apprise | None]]:
    """Each URL's privacy-masked name and its apprise client (None for a URL apprise does not accept)."""
    import apprise

    targets: list[tuple[str, apprise.Apprise | None]] = []
    for url in urls:
        app = apprise.Apprise()
        added = app.add(url)
        targets.append((_target_name(app, url) if added else url.split("://", 1)[0] + "://...", app if added else None))
    return targets


def _deliver(
    targets: list[tuple[str, apprise.Apprise | None]], title: str, body: str, notify_type
) -> tuple[int, list[str], list[str]]:
    """Sends one message to every target once: how many accepted it, the names that did not, and why."""
    accepted, failed, reasons = 0, [], []
    for name, app in targets:
        if app is None:
            failed.append(name)
            reasons.append(f"{name}: not a valid apprise URL")
            continue
        result = app.notify(body=body, title=title, notify_type=notify_type)
        if bool(result):
            accepted += 1
        else:
            failed.append(name)
            reasons.append(f"{name}: {_reason(result)}")
    return accepted, failed, reasons


def send_notifications(alerts: pl.DataFrame, urls: list[str], language: str = "en") -> NotificationResult:
    """Send new and escalated alerts in `language`; see the module docstring."""
    selected = select_for_notification(alerts)
    if selected.is_empty():
        return NotificationResult(())
    if not urls:
        raise ValueError(f"no notification URL: set {NOTIFY_URLS_ENV_VAR} to one or more apprise URLs")
    import apprise

    targets = _targets(urls)
    outcomes = []
    for alert in selected.iter_rows(named=True):
        title, body = notification_message(alert, language)
        notify_type = apprise.NotifyType.FAILURE if alert["severity"] == "CRITICAL" else apprise.NotifyType.WARNING
        accepted, failed, reasons = _deliver(targets, title, body, notify_type)
        outcomes.append(
            DeliveryOutcome(
                alert_id=alert["alert_id"],
                severity=alert["severity"],
                delivered=accepted > 0,
                failed_targets=tuple(failed),
                reason="; ".join(reasons) or None,
            )
        )
    return NotificationResult(tuple(outcomes))


def send_message(urls: list[str], title: str, body: str, *, failure: bool = True) -> DeliveryOutcome:
    """Sends one message (not an alert: e.g. a platform incident) to every URL once, as the alerts are sent.
    `delivered` when at least one URL accepted it; `failed_targets` privacy-masked. Raises ValueError without
    a URL."""
    if not urls:
        raise ValueError(f"no notification URL: set {NOTIFY_URLS_ENV_VAR} to one or more apprise URLs")
    import apprise

    notify_type = apprise.NotifyType.FAILURE if failure else apprise.NotifyType.SUCCESS
    accepted, failed, reasons = _deliver(_targets(urls), title, body, notify_type)
    return DeliveryOutcome(
        alert_id="",
        severity="",
        delivered=accepted > 0,
        failed_targets=tuple(failed),
        reason="; ".join(reasons) or None,
    )
