"""From flags to action, end to end on generated sources: alert episodes, acknowledgements that survive
re-materialization, notifications sent once to a real local HTTP endpoint, health, peers and the run log."""

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import polars as pl
import pytest
from dagster import DagsterInstance, build_sensor_context

from store_anomaly.alerts.feedback import validate_ack
from store_anomaly.alerts.sensors import NotificationDeliveryError, alert_notifications_sensor
from store_anomaly.alerts.state import current_alert_state, record_ack
from store_anomaly.resources import Warehouse
from store_anomaly.runner import run_backfill
from store_anomaly.settings import SOURCE_ENV_VARS
from store_anomaly.sources.demo_data import generate_demo_sources
from store_anomaly_tests.bilingual import is_chinese, numbers
from store_anomaly_tests.databases import FreshDatabases, export_platform

# One worker builds this module's shared fixture once (`make test` runs the suite on two workers).
pytestmark = [pytest.mark.mysql, pytest.mark.xdist_group("test_alerts_pipeline")]

START, END = date(2025, 7, 14), date(2025, 12, 14)


@pytest.fixture(scope="module")
def pipeline():
    """Four demo stores (the flagship slides from 2025-10-03), backfilled once for the module."""
    databases = FreshDatabases()
    with pytest.MonkeyPatch.context() as patch:
        urls = databases.create_platform()
        export_platform(urls, patch)
        generate_demo_sources({s: urls[s] for s in SOURCE_ENV_VARS}, start=START, end=END, stores=4, seed=3)
        instance = DagsterInstance.ephemeral()
        run_backfill(START, END, instance=instance)
        try:
            yield urls, instance, patch
        finally:
            databases.drop_all()


def alerts_now() -> pl.DataFrame:
    with Warehouse.from_env().connect() as connection:
        return current_alert_state(connection)


def test_the_flagship_slide_is_one_open_escalated_sales_alert(pipeline):
    alerts = alerts_now()
    flagship_sales = alerts.filter((pl.col("shop_no") == "US00001") & (pl.col("episode_key") == "sales"))
    assert flagship_sales.height == 1, flagship_sales
    alert = flagship_sales.row(0, named=True)
    assert alert["status"] == "open" and alert["severity"] == "CRITICAL"
    assert date(2025, 10, 3) < alert["opened_on"] <= date(2025, 10, 31)
    assert "down" in alert["description"] and "US00004" in (alert["cannibalization_suspect"] or "")


def test_every_stored_alert_is_written_in_both_languages_with_the_same_numbers(pipeline):
    alerts = alerts_now()
    assert alerts.height
    for alert in alerts.iter_rows(named=True):
        for english, chinese in (("description", "description_zh"), ("recommended_action", "recommended_action_zh")):
            assert is_chinese(alert[chinese]), (alert["alert_id"], chinese)
            assert numbers(alert[english]) == numbers(alert[chinese]), (alert[english], alert[chinese])


def test_acknowledgement_survives_rematerialization_and_nothing_duplicates(pipeline):
    _, instance, _ = pipeline
    before = alerts_now()
    target = before.filter((pl.col("shop_no") == "US00001") & (pl.col("episode_key") == "sales")).row(0, named=True)
    with Warehouse.from_env().connect() as connection:
        record_ack(connection, validate_ack(target["alert_id"], "maria", "confirmed", "office crowd gone"))

    run_backfill(date(2025, 11, 1), END, instance=instance)  # a partial range
    run_backfill(START, END, instance=instance)  # and the whole history again
    after = alerts_now()
    assert after.height == before.height
    assert after["alert_id"].n_unique() == after.height
    acked = after.filter(pl.col("alert_id") == target["alert_id"]).row(0, named=True)
    assert acked["acknowledged"] and acked["acknowledged_by"] == "maria"
    assert acked["ack_label"] == "confirmed" and acked["ack_note"] == "office crowd gone"


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    fail_next = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Receiver.fail_next:
            Receiver.fail_next -= 1
            self.send_response(500)
        else:
            Receiver.received.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.received, Receiver.fail_next = [], 0
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()


def tick(instance):
    return alert_notifications_sensor.evaluate_tick(
        build_sensor_context(instance=instance, resources={"warehouse": Warehouse.from_env()})
    )


def test_notifications_are_sent_once_and_failures_retried(pipeline, receiver):
    _, instance, patch = pipeline
    patch.setenv("STORE_ANOMALY_NOTIFY_URLS", receiver)
    Receiver.fail_next = 99  # the endpoint is down: the tick fails visibly and nothing is marked sent
    with pytest.raises(Exception, match="will be retried") as failure:
        tick(instance)
    assert NotificationDeliveryError.__name__ in repr(failure.value) + str(failure.getrepr())
    assert not Receiver.received

    Receiver.fail_next = 0
    tick(instance)
    pending = alerts_now().filter((pl.col("status") == "open") & pl.col("severity").is_in(["WARNING", "CRITICAL"]))
    assert len(Receiver.received) == pending.height > 0
    assert all(body["title"] for body in Receiver.received)

    tick(instance)  # a restart or a second tick sends nothing again
    run_backfill(START, END, instance=instance)  # nor does a re-materialization
    tick(instance)
    assert len(Receiver.received) == pending.height
    assert set(alerts_now().filter(pl.col("alert_id").is_in(pending["alert_id"].to_list()))["notified_severity"]) <= {
        "WARNING",
        "CRITICAL",
    }


def test_health_peers_and_run_log_are_written(pipeline):
    warehouse = Warehouse.from_env()
    health = warehouse.fetch_frame(
        "SELECT shop_no, MIN(health_score), MAX(health_score), COUNT(*) FROM store_health_scores GROUP BY shop_no",
        None,
        {"shop_no": pl.String, "low": pl.Float64, "high": pl.Float64, "days": pl.Int64},
    )
    assert set(health["shop_no"]) == {"US00001", "US00002", "US00003", "US00004"}
    assert health["low"].min() >= 0 and health["high"].max() <= 100
    december = dict(
        warehouse.fetch_frame(
            "SELECT shop_no, AVG(health_score) FROM store_health_scores WHERE metric_date >= '2025-12-01' GROUP BY shop_no",
            None,
            {"shop_no": pl.String, "score": pl.Float64},
        ).iter_rows()
    )
    peers = warehouse.fetch_frame(
        "SELECT week_start, COUNT(DISTINCT shop_no), MIN(`rank`), MAX(`rank`) FROM store_peer_comparison "
        "WHERE metric_name = 'revenue' GROUP BY week_start ORDER BY week_start",
        None,
        {"week_start": pl.Date, "stores": pl.Int64, "best": pl.Int64, "worst": pl.Int64},
    )
    assert peers["week_start"].dt.weekday().unique().to_list() == [1]  # Mondays
    assert (peers["stores"] == 4).all() and (peers["best"] == 1).all() and (peers["worst"] == 4).all()
    flagship = december.pop("US00001")
    assert flagship < 90 and flagship < min(december.values())  # the sliding store is the least healthy
    log = warehouse.fetch_frame(
        "SELECT asset, status, row_count FROM store_anomaly_run_log",
        None,
        {"asset": pl.String, "status": pl.String, "row_count": pl.Int64},
    )
    assert {"store_daily_metrics", "store_anomaly_flags", "store_anomaly_alerts"} <= set(log["asset"])
    assert (log["status"] == "success").all()
