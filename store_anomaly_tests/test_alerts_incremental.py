"""The alerts asset brought up to date from the days a run changed equals a rebuild from every flag: after
daily windows, and after a backfill of an older range whose later episodes it re-derives."""

from datetime import date

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance
from polars.testing import assert_frame_equal

from store_anomaly.alerts.assets import rebuild
from store_anomaly.alerts.config import AlertConfig
from store_anomaly.alerts.feedback import AckInput
from store_anomaly.alerts.state import current_alert_state, record_ack
from store_anomaly.resources import Warehouse
from store_anomaly.runner import run_backfill
from store_anomaly.settings import SOURCE_ENV_VARS
from store_anomaly.sources.demo_data import generate_demo_sources
from store_anomaly_tests.databases import FreshDatabases, export_platform

# One worker builds this module's shared fixture once (`make test` runs the suite on two workers).
pytestmark = [pytest.mark.mysql, pytest.mark.xdist_group("test_alerts_incremental")]

START, END = date(2025, 7, 14), date(2025, 12, 7)


@pytest.fixture(scope="module")
def chain():
    """Four demo stores (the flagship slides from 2025-10-03), their sources for the whole range."""
    databases = FreshDatabases()
    with pytest.MonkeyPatch.context() as patch:
        urls = databases.create_platform()
        export_platform(urls, patch)
        generate_demo_sources({s: urls[s] for s in SOURCE_ENV_VARS}, start=START, end=END, stores=4, seed=3)
        try:
            yield DagsterInstance.ephemeral()
        finally:
            databases.drop_all()


def assert_equals_a_rebuild() -> pl.DataFrame:
    with Warehouse.from_env().connect() as connection:
        stored = current_alert_state(connection)
        rebuilt = rebuild(connection, stored, AlertConfig())
    assert stored.height > 0
    assert_frame_equal(stored.sort("alert_id"), rebuilt.sort("alert_id"))
    return stored


def derived_from(instance: DagsterInstance) -> str:
    (record,) = instance.fetch_materializations(AssetKey("store_anomaly_alerts"), limit=1).records
    return record.asset_materialization.metadata["derived_from"].value


def test_daily_windows_and_an_older_range_equal_a_rebuild(chain):
    """Daily windows and an older range update incrementally and equal a rebuild; an acknowledgement keeps the
    incremental path, a hand edit of the table makes the next run rebuild."""
    instance = chain
    run_backfill(START, date(2025, 11, 20), instance=instance)
    assert derived_from(instance) == "every flag"
    assert_equals_a_rebuild()

    for end in (date(2025, 11, 21), date(2025, 11, 22), date(2025, 11, 30), date(2025, 12, 7)):
        run_backfill(date(2025, 11, 21), end, instance=instance)  # the schedule's window grows a day at a time
        assert derived_from(instance).startswith("flags from ")
        alerts = assert_equals_a_rebuild()
    flagship = alerts.filter((pl.col("shop_no") == "US00001") & (pl.col("episode_key") == "sales"))
    assert flagship.height == 1 and flagship["status"].to_list() == ["open"]

    # an older range: the episodes it can reach (the flagship's, opened in October) are re-derived whole
    run_backfill(date(2025, 10, 1), date(2025, 10, 10), instance=instance)
    assert derived_from(instance).startswith("flags from ")
    assert_equals_a_rebuild()

    # an acknowledgement is human state: the next run still builds on the stored table
    flagship_id = flagship["alert_id"].item()
    with Warehouse.from_env().connect() as connection:
        record_ack(connection, AckInput(alert_id=flagship_id, by="ops", label="confirmed", note=None))
    run_backfill(date(2025, 12, 7), date(2025, 12, 7), instance=instance)
    assert derived_from(instance).startswith("flags from ")
    assert assert_equals_a_rebuild().filter(pl.col("alert_id") == flagship_id)["acknowledged"].to_list() == [True]

    # a hand edit the row count cannot see: the next run does not build on it, it rebuilds from every flag
    with Warehouse.from_env().connect() as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE store_anomaly_alerts SET last_seen_on = opened_on, status = 'resolved' WHERE alert_id = %s",
                (flagship_id,),
            )
        connection.commit()
    run_backfill(date(2025, 12, 7), date(2025, 12, 7), instance=instance)
    assert derived_from(instance) == "every flag"
    restored = assert_equals_a_rebuild().filter(pl.col("alert_id") == flagship_id)
    assert restored["status"].to_list() == ["open"] and restored["acknowledged"].to_list() == [True]
