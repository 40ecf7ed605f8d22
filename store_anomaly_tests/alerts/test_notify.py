"""Notifications through apprise's JSON target to a real HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest

from store_anomaly.alerts import mark_notified, select_for_notification, send_notifications, urls_from_env
from store_anomaly.alerts.config import ALERT_SCHEMA


class Endpoint:
    """A local webhook: records every POST, answers with the queued status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: dict[str, list[int]] = {}
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                endpoint.requests.append({"path": self.path, **payload})
                queue = endpoint.statuses.get(self.path, [])
                status = queue.pop(0) if queue else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.server.server_port}{path}"

    def posts(self, path: str = "/hook") -> list[dict]:
        return [r for r in self.requests if r["path"].startswith(path)]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def _alerts(rows: list[dict]) -> pl.DataFrame:
    base = {
        "shop_no": "US00001", "shop_name": "8th & Broadway", "metric_name": "revenue", "status": "open",
        "opened_on": date(2025, 10, 20), "last_seen_on": date(2025, 11, 10), "change_started_on": date(2025, 10, 6),
        "change_pct": -18.2, "direction": "down", "description": "Revenue is down.", "recommended_action": "1. Check.",
        "notified_severity": None, "stale": False, "acknowledged": False,
    }
    frame = pl.DataFrame([{**base, **row} for row in rows])
    return frame.cast({k: v for k, v in ALERT_SCHEMA.items() if k in frame.columns})


def _no_sleep(_: float) -> None:
    return None


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


def test_delivery_retry_and_no_resend(endpoint):
    alerts = _alerts([{"alert_id": "A-000000000a", "severity": "WARNING"}])
    endpoint.statuses["/hook"] = [500]  # first attempt fails, the retry succeeds
    waits: list[float] = []
    result = send_notifications(alerts, [endpoint.url()], attempts=3, backoff_seconds=0.25, sleep=waits.append)
    assert result.delivered == {"A-000000000a": "WARNING"}
    assert result.ok and result.outcomes[0].attempts == 2
    assert waits == [0.25]
    posts = endpoint.posts()
    assert len(posts) == 2
    assert posts[-1]["title"] == "[WARNING] US00001 8th & Broadway: Revenue down 18% since 2025-10-06"
    assert "Revenue is down." in posts[-1]["message"] and "A-000000000a" in posts[-1]["message"]
    assert posts[-1]["type"] == "warning"

    marked = mark_notified(alerts, result)
    assert marked["notified_severity"].to_list() == ["WARNING"]
    again = send_notifications(marked, [endpoint.url()], sleep=_no_sleep)
    assert again.outcomes == () and len(endpoint.posts()) == 2  # a re-run sends nothing

    escalated = marked.with_columns(pl.lit("CRITICAL").alias("severity"))
    third = send_notifications(escalated, [endpoint.url()], sleep=_no_sleep)
    assert third.delivered == {"A-000000000a": "CRITICAL"}
    assert endpoint.posts()[-1]["title"].startswith("[Escalated to CRITICAL] US00001")
    assert endpoint.posts()[-1]["type"] == "failure"


def test_failed_delivery_is_reported_and_retried_next_time(endpoint):
    alerts = _alerts([{"alert_id": "A-000000000a", "severity": "CRITICAL"}])
    endpoint.statuses["/hook"] = [500, 500]
    result = send_notifications(alerts, [endpoint.url()], attempts=2, sleep=_no_sleep)
    assert result.delivered == {} and not result.ok
    outcome = result.outcomes[0]
    assert not outcome.delivered and outcome.attempts == 2
    assert "500" in result.failed["A-000000000a"] and "after 2 attempts" in outcome.reason
    assert mark_notified(alerts, result)["notified_severity"].to_list() == [None]
    # next sensor tick: the server is back, the alert goes out once
    retry = send_notifications(mark_notified(alerts, result), [endpoint.url()], sleep=_no_sleep)
    assert retry.delivered == {"A-000000000a": "CRITICAL"} and len(endpoint.posts()) == 3


def test_partial_delivery_counts_as_sent_and_names_the_failing_target(endpoint):
    alerts = _alerts([{"alert_id": "A-000000000a", "severity": "WARNING"}])
    endpoint.statuses["/down"] = [503, 503, 503]
    result = send_notifications(alerts, [endpoint.url("/hook"), endpoint.url("/down")], attempts=3, sleep=_no_sleep)
    outcome = result.outcomes[0]
    assert outcome.delivered and len(outcome.failed_targets) == 1 and "/down" in outcome.failed_targets[0]
    assert len(endpoint.posts("/hook")) == 1 and len(endpoint.posts("/down")) == 3
    assert not result.ok


def test_bad_url_and_missing_urls():
    alerts = _alerts([{"alert_id": "A-000000000a", "severity": "WARNING"}])
    result = send_notifications(alerts, ["nosuchscheme://user:secret@host"], sleep=_no_sleep)
    assert not result.outcomes[0].delivered
    assert "secret" not in result.failed["A-000000000a"] and "not a valid apprise URL" in result.failed["A-000000000a"]
    with pytest.raises(ValueError, match="STORE_ANOMALY_NOTIFY_URLS"):
        send_notifications(alerts, [])
    assert send_notifications(alerts.head(0), []).outcomes == ()


def test_urls_from_env():
    env = {"STORE_ANOMALY_NOTIFY_URLS": " json://a:1/x, mailto://u:p@h \n slack://t/a/b ,"}
    assert urls_from_env(env) == ["json://a:1/x", "mailto://u:p@h", "slack://t/a/b"]
    assert urls_from_env({}) == []
