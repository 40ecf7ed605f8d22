"""The source databases observed in the lineage graph, through the real webserver's GraphQL API: rows added to a
source for a materialized day make that day's downstream partitions stale (naming the source), a new
materialization clears it, and a late feed shows as a failed check on the KPI asset."""

from datetime import date, datetime, time, timedelta

import pytest
from dagster import DagsterInstance

from store_anomaly.definitions import build_definitions
from store_anomaly.partitions import daily_partitions
from store_anomaly.runner import run_backfill
from store_anomaly.sources.observations import OBSERVED_DAYS, observed_dates
from store_anomaly_tests.dagster_processes import graphql, serving
from store_anomaly_tests.small_chain import END, START, build_sources
from store_anomaly_tests.source_rows import insert_rows

DAYS = [START.isoformat(), "2025-11-02", END.isoformat()]
DOWNSTREAM = ["source_sales_order_daily", "store_daily_metrics", "excluded_source_rows"]

STALENESS = """
query ($keys: [AssetKeyInput!], $partitions: [String!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    staleStatusByPartition(partitions: $partitions)
    staleCausesByPartition(partitions: $partitions) {
      key { path } partitionKey category reason dependency { path } dependencyPartitionKey
    }
  }
}
"""

CHECKS = """
{
  assetNodeOrError(assetKey: {path: ["store_daily_metrics"]}) {
    ... on AssetNode {
      assetChecksOrError { ... on AssetChecks { checks {
        name
        executionForLatestMaterialization {
          status
          evaluation { success severity description metadataEntries { label ... on TextMetadataEntry { text } } }
        }
      } } }
    }
  }
}
"""


def staleness(port: int) -> dict[str, dict[str, tuple[str, list]]]:
    """asset -> partition -> (stale status, its root causes: [(asset, partition, category, reason)])."""
    variables = {"keys": [{"path": [asset]} for asset in DOWNSTREAM], "partitions": DAYS}
    data = graphql(port, STALENESS, variables)["assetNodes"]
    return {
        node["assetKey"]["path"][-1]: {
            day: (status, [(c["key"]["path"][-1], c["partitionKey"], c["category"], c["reason"]) for c in causes])
            for day, status, causes in zip(DAYS, node["staleStatusByPartition"], node["staleCausesByPartition"])
        }
        for node in data
    }


def observe(instance: DagsterInstance) -> None:
    assert build_definitions().resolve_job_def("observe_sources_job").execute_in_process(instance=instance).success


def trade(id_: int, when: datetime) -> dict:
    return {"id": id_, "trade_no": f"T{id_}", "dept_id": 1127, "pay_money": 8, "trade_status": 1, "create_time": when}


@pytest.fixture
def observed_chain(platform_urls, tmp_path, monkeypatch):
    """The small chain backfilled (its run observes the sources first) in the instance the webserver serves."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    build_sources(platform_urls)
    with DagsterInstance.get() as instance:
        assert run_backfill(START, END, instance=instance).success
        yield platform_urls, instance


@pytest.mark.mysql
@pytest.mark.webserver
def test_rows_added_for_a_materialized_day_make_its_partitions_stale_until_rematerialized(observed_chain):
    urls, instance = observed_chain
    with serving() as port:
        assert staleness(port) == {asset: {day: ("FRESH", []) for day in DAYS} for asset in DOWNSTREAM}

        # A till that was offline uploads a trade of 2 November (New York) late; the hourly observation sees it.
        insert_rows(urls, "t_trade", [trade(100, datetime(2025, 11, 2, 18, 0))])
        observe(instance)
        stale = staleness(port)
        for asset in DOWNSTREAM:
            assert stale[asset]["2025-11-02"] == (
                "STALE",
                [("sales_order", "2025-11-02", "DATA", "has a new data version")],
            )
            assert stale[asset][START.isoformat()] == stale[asset][END.isoformat()] == ("FRESH", [])

        # Materializing the day again records the new version: nothing is stale.
        assert run_backfill(date(2025, 11, 2), date(2025, 11, 2), instance=instance).success
        assert staleness(port) == {asset: {day: ("FRESH", []) for day in DAYS} for asset in DOWNSTREAM}


@pytest.mark.mysql
@pytest.mark.webserver
def test_a_late_feed_fails_the_data_is_current_check_on_the_kpi_asset(platform_urls, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    build_sources(platform_urls)
    # The store trades every day of the observed window but the latest complete business date.
    last = date.fromisoformat(daily_partitions.get_last_partition_key())
    days = [last - timedelta(days=n) for n in range(1, OBSERVED_DAYS)]
    rows = [trade(5000 + n, datetime.combine(day, time(17))) for n, day in enumerate(days)]
    insert_rows(platform_urls, "t_trade", rows)
    with DagsterInstance.get() as instance:
        observe(instance)
    with serving() as port:
        checks = graphql(port, CHECKS)["assetNodeOrError"]["assetChecksOrError"]["checks"]
    current = next(check for check in checks if check["name"] == "data_is_current")
    execution = current["executionForLatestMaterialization"]
    assert execution["status"] == "FAILED"
    evaluation = execution["evaluation"]
    metadata = {entry["label"]: entry.get("text") for entry in evaluation["metadataEntries"]}
    assert not evaluation["success"] and evaluation["severity"] == "ERROR"
    assert metadata["late_feed_source"] == "sales_order" and metadata["late_feed_dates"] == last.isoformat()
    # Nothing was materialized yet: the warehouse lacks the latest date with trades too.
    assert metadata["latest_business_date_with_trades"] == (last - timedelta(days=1)).isoformat()
    assert metadata["warehouse_latest_business_date"] == "none"
    assert f"late feed: sales_order on {last}" in evaluation["description"]


def test_observed_dates_end_at_each_anchor_within_the_partitions():
    first, last = date(2025, 1, 1), date(2025, 12, 31)
    dates = observed_dates([last, date(2025, 3, 10), None], first, last, days=5)
    assert dates == [date(2025, 3, n) for n in range(6, 11)] + [date(2025, 12, n) for n in range(27, 32)]
    assert observed_dates([date(2025, 1, 2)], first, last, days=5) == [date(2025, 1, 1), date(2025, 1, 2)]
    assert observed_dates([date(2026, 3, 1)], first, last, days=2) == [date(2025, 12, 30), date(2025, 12, 31)]
