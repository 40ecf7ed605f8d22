"""The real Dagster webserver serves the code location: its GraphQL API lists the assets, their daily
partitions, their checks, and which partitions a CLI backfill materialized."""

from datetime import date

import pytest
from dagster import DagsterInstance

from store_anomaly.runner import run_backfill
from store_anomaly_tests.dagster_processes import graphql, serving
from store_anomaly_tests.small_chain import build_sources

pytestmark = [pytest.mark.mysql, pytest.mark.webserver]

WAREHOUSE_ASSETS = {
    "source_opshop_daily",
    "source_sales_order_daily",
    "source_opproduction_daily",
    "source_opqualitycontrol_daily",
    "source_opempefficiency_daily",
    "store_daily_metrics",
    "excluded_source_rows",
    "store_spc_control_limits",
    "store_anomaly_flags",
    "store_anomaly_alerts",
    "store_health_scores",
    "store_peer_comparison",
    "store_anomaly_run_log",
}

QUERY = """
{
  assetNodes {
    assetKey { path }
    isPartitioned
    partitionKeysByDimension { name partitionKeys }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
    assetPartitionStatuses {
      ... on TimePartitionStatuses { ranges { status startKey endKey } }
    }
  }
}
"""


@pytest.fixture
def webserver(platform_urls, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    build_sources(platform_urls)
    with DagsterInstance.get() as instance:
        assert run_backfill(date(2025, 11, 1), date(2025, 11, 3), instance=instance).success
    with serving() as port:
        yield port


def test_graphql_lists_assets_partitions_checks_and_the_backfill(webserver):
    nodes = {tuple(node["assetKey"]["path"]): node for node in graphql(webserver, QUERY)["assetNodes"]}
    assert WAREHOUSE_ASSETS <= {path[-1] for path in nodes}
    metrics = nodes[("store_daily_metrics",)]
    assert metrics["isPartitioned"]
    keys = metrics["partitionKeysByDimension"][0]["partitionKeys"]
    assert keys[0] == "2024-01-01" and "2026-02-15" in keys
    assert {check["name"] for check in metrics["assetChecksOrError"]["checks"]} >= {
        "unique_store_days",
        "revenue_reconciles_with_source",
        "every_in_scope_store_present",
    }
    materialized = [r for r in metrics["assetPartitionStatuses"]["ranges"] if r["status"] == "MATERIALIZED"]
    assert materialized == [{"status": "MATERIALIZED", "startKey": "2025-11-01", "endKey": "2025-11-03"}]
