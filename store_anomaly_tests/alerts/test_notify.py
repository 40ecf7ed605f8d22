"""Notifications through apprise's JSON target to a real HTTP server on 127.0.0.1 (no mocks); deliveries are
logged in a real warehouse, as the sensor does."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from store_anomaly.alerts import select_for_notification, send_notifications, urls_from_env
from store_anomaly.alerts.config import ALERT_SCHEMA
from store_anomaly.alerts.sensors import deliver_pending_notifications
from store_anomaly.settings import LANGUAGE_ENV_VAR, SettingsError
from store_anomaly_tests.warehouse_rows import store_alerts, warehouse_at


def _alerts(rows: list[dict]) -> pl.DataFrame:
    base = {
        "shop_no": "US00001",
        "shop_name": "8th & Broadway",
        "metric_name": "revenue",
        "status": "open",
        "opened_on": date(2025, 10, 20),
        "last_seen_on": date(2025, 11, 10),
        "change_started_on": date(2025, 10, 6),
        "change_pct": -18.2,
        "direction": "down",
        "description": "Revenue is down.",
        "recommended_action": "1. Check.",
        "description_zh": "营业额下降。",
        "recommended_action_zh": "1. 检查。",
        "notified_severity": None,
        "stale": False,
        "acknowledged": False,
    }
    frame = pl.DataFrame([{**base, **row} for row in rows])
    return frame.cast({k: v for k, v in ALERT_SCHEMA.items() if k in frame.columns})


def test_selection_new_and_escalated_only():
    alerts = _alerts(
        [
            {"alert_id": "A-000000000a", "severity": "WARNING"},
            {"alert_id": "A-000000000b", "severity": "CRITICAL", "notified_severity": "WARNING"},
            {"alert_id": "A-000000000c", "severity": "CRITICAL", "notified_severity": "CRITICAL"},
            {"alert_id": "A-000000000d", "severity": "INFO"},
            {"alert_id": "A-000000000e", "severity": "CRITICAL", "status": "resolved"},
            {"alert_id": "A-000000000f", "severity": "WARNING", "stale": True},
        ]
    )
    assert select_for_notification(alerts)["alert_id"].to_list() == ["A-000000000b", "A-000000000a"]


@pytest.mark.mysql
def test_delivered_alerts_are_logged_and_never_resent(endpoint, fresh_database):
    warehouse = warehouse_at(fresh_database)
    store_alerts(fresh_database, _alerts([{"alert_id": "A-000000000a", "severity": "WARNING"}]))
    result = deliver_pending_notifications(warehouse, [endpoint.url()])
    assert result.delivered == {"A-000000000a": "WARNING"} and result.ok
    posts = endpoint.posts()
    assert len(posts) == 1
    assert posts[-1]["title"] == "[WARNING] US00001 8th & Broadway: Revenue down 18% since 2025-10-06"
    assert "Revenue is down." in posts[-1]["message"] and "A-000000000a" in posts[-1]["message"]
    assert posts[-1]["type"] == "warning"

    again = deliver_pending_notifications(warehouse, [endpoint.url()])
    assert again.outcomes == () and len(endpoint.posts()) == 1  # a second tick sends nothing

    with warehouse.connect() as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE store_anomaly_alerts SET severity = 'CRITICAL'")
        connection.commit()
    third = deliver_pending_notifications(warehouse, [endpoint.url()])
    assert third.delivered == {"A-000000000a": "CRITICAL"}
    assert endpoint.posts()[-1]["title"].startswith("[Escalated to CRITICAL] US00001")
    assert endpoint.posts()[-1]["type"] == "failure"


@pytest.mark.mysql
def test_notifications_in_chinese_when_the_language_is_zh(endpoint, fresh_database, monkeypatch):
    warehouse = warehouse_at(fresh_database)
    store_alerts(fresh_database, _alerts([{"alert_id": "A-000000000a", "severity": "CRITICAL"}]))
    monkeypatch.setenv(LANGUAGE_ENV_VAR, "zh")
    result = deliver_pending_notifications(warehouse, [endpoint.url()])
    assert result.delivered == {"A-000000000a": "CRITICAL"}
    (post,) = endpoint.posts()
    assert post["title"] == "[CRITICAL] US00001 8th & Broadway：营业额自 2025-10-06 起下降 18%"
    assert post["message"].split("\n\n") == [
        "营业额下降。",
        "1. 检查。",
        "告警 A-000000000a（仍在持续），2025-10-20 开启，最近一次出现于 2025-11-10。",
    ]
    assert post["type"] == "failure"
    with warehouse.connect() as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE store_anomaly_alerts SET severity = 'CRITICAL', notified_severity = NULL")
        cursor.execute("DELETE FROM store_anomaly_alert_notifications")
        connection.commit()
    monkeypatch.setenv(LANGUAGE_ENV_VAR, "klingon")
    with pytest.raises(SettingsError, match=LANGUAGE_ENV_VAR):
        deliver_pending_notifications(warehouse, [endpoint.url()])
    assert len(endpoint.posts()) == 1  # nothing sent in a language the platform does not have


@pytest.mark.mysql
def test_failed_delivery_is_reported_not_retried_within_the_tick_and_sent_on_the_next(endpoint, fresh_database):
    warehouse = warehouse_at(fresh_database)
    store_alerts(fresh_database, _alerts([{"alert_id": "A-000000000a", "severity": "CRITICAL"}]))
    endpoint.statuses["/hook"] = [500]
    result = deliver_pending_notifications(warehouse, [endpoint.url()])
    assert result.delivered == {} and not result.ok
    assert not result.outcomes[0].delivered and len(endpoint.posts()) == 1
    assert "500" in result.failed["A-000000000a"]
    # next sensor tick: the server is back, the alert goes out once
    retry = deliver_pending_notifications(warehouse, [endpoint.url()])
    assert retry.delivered == {"A-000000000a": "CRITICAL"} and len(endpoint.posts()) == 2


def test_partial_delivery_counts_as_sent_and_names_the_failing_target(endpoint):
    alerts = _alerts([{"alert_id": "A-000000000a", "severity": "WARNING"}])
    endpoint.statuses["/down"] = [503]
    result = send_notifications(alerts, [endpoint.url("/hook"), endpoint.url("/down")])
    outcome = result.outcomes[0]
    assert outcome.delivered and len(outcome.failed_targets) == 1 and "/down" in outcome.failed_targets[0]
    assert len(endpoint.posts("/hook")) == 1 and len(endpoint.posts("/down")) == 1
    assert not result.ok


def test_bad_url_and_missing_urls():
    alerts = _alerts([{"alert_id": "A-000000000a", "severity": "WARNING"}])
    result = send_notifications(alerts, ["nosuchscheme://user:secret@host"])
    assert not result.outcomes[0].delivered
    assert "secret" not in result.failed["A-000000000a"] and "not a valid apprise URL" in result.failed["A-000000000a"]
    with pytest.raises(ValueError, match="STORE_ANOMALY_NOTIFY_URLS"):
        send_notifications(alerts, [])
    assert send_notifications(alerts.head(0), []).outcomes == ()


def test_urls_from_env():
    env = {"STORE_ANOMALY_NOTIFY_URLS": " json://a:1/x, mailto://u:p@h \n slack://t/a/b ,"}
    assert urls_from_env(env) == ["json://a:1/x", "mailto://u:p@h", "slack://t/a/b"]
    assert urls_from_env({}) == []
