"""`store_anomaly_alerts`: one row per anomaly episode, rebuilt from every flag on each materialization.

The table is unpartitioned: an episode spans days, so it is recomputed whole from all flags and replaced in
one transaction. Alert ids are stable across rebuilds (matched to the previous rows), and acknowledgements
and notifications come from append-only logs (`state`), so re-materializing any range never duplicates an
alert nor loses what a person did.
"""

from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AutomationCondition,
    BackfillPolicy,
    MetadataValue,
    Output,
    asset,
)

from store_anomaly.alerts.config import ALERT_SCHEMA, AlertConfig
from store_anomaly.alerts.episodes import build_alerts
from store_anomaly.alerts.listing import open_alerts_markdown
from store_anomaly.alerts.state import anchored_references, current_alert_state
from store_anomaly.resources import Warehouse
from store_anomaly.settings import reports_dir_from_env
from store_anomaly.table_schemas import table_schema_from_polars

ALERTS_TABLE_SCHEMA = table_schema_from_polars(
    ALERT_SCHEMA,
    key=("alert_id",),
    descriptions={
        "alert_id": "stable id of the episode (A-...)",
        "shop_no": "store number",
        "metric_name": "headline KPI of the episode",
        "severity": "highest severity reached (INFO, WARNING, CRITICAL)",
        "opened_on": "first WARNING-or-worse business date",
        "last_seen_on": "latest flagged business date",
        "status": "open, or resolved after the configured quiet days",
        "description": "what moved, by how much, since when, with the evidence",
        "recommended_action": "the investigation checklist for this episode",
        "description_zh": "the description in Chinese (same numbers, same evidence)",
        "recommended_action_zh": "the checklist in Chinese",
        "acknowledged": "a person acknowledged the alert",
        "acknowledged_by": "who acknowledged it",
        "acknowledged_at": "when (UTC)",
        "ack_note": "their note",
        "ack_label": "confirmed, expected, false-alarm or new-normal",
        "notified_severity": "highest severity already notified",
        "change_started_on": "estimated onset of the change (the anchored reference's, else a change point)",
        "baseline_value": "the anchored level before the change (KPI units, a day)",
        "current_value": "the latest weekday-adjusted level (KPI units, a day)",
        "change_pct": "(current - baseline) / baseline, percent",
        "estimated_loss": "sales episodes: revenue below the baseline since the onset",
    },
    string_types={
        "alert_id": "VARCHAR(16)",
        "shop_no": "VARCHAR(16)",
        "severity": "VARCHAR(8)",
        "status": "VARCHAR(8)",
        "description": "TEXT",
        "recommended_action": "TEXT",
        "description_zh": "TEXT",
        "recommended_action_zh": "TEXT",
        "ack_note": "TEXT",
        "metric_names": "VARCHAR(255)",
        "rules": "VARCHAR(255)",
        "shop_name": "VARCHAR(128)",
    },
)


@asset(
    group_name="alerts",
    kinds={"mysql", "polars"},
    ins={
        "store_anomaly_flags": AssetIn(),
        "store_daily_metrics": AssetIn(),
    },
    # sized against the anchored references SPC publishes (read in SQL: only the rows holding one)
    deps=["store_spc_control_limits"],
    metadata={"dagster/column_schema": ALERTS_TABLE_SCHEMA, "primary_key": ["alert_id"]},
    # Rebuilt when flags or metrics change outside the refresh job (a partition materialized in the UI). Days
    # before the history starts are never materialized; they must not hold the rebuild back.
    automation_condition=AutomationCondition.eager().without(~AutomationCondition.any_deps_missing()),
    # Rebuilt once per run whatever range the run covers, so it joins single-run range backfills.
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            "one_open_alert_per_episode",
            asset="store_anomaly_alerts",
            description="no store has two open alerts on the same metric family",
        )
    ],
)
def store_anomaly_alerts(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    store_anomaly_flags: pl.DataFrame,
    store_daily_metrics: pl.DataFrame,
):
    """What a person is asked to act on: one row per anomaly episode, kept open while the signal lasts."""
    with warehouse.connect() as connection:
        existing = current_alert_state(connection)
        anchors = anchored_references(connection)
    alerts = build_alerts(store_anomaly_flags, store_daily_metrics, existing, AlertConfig(), anchors=anchors)
    open_alerts = alerts.filter(pl.col("status") == "open")
    yield Output(
        alerts,
        metadata={
            "alerts": alerts.height,
            "open": open_alerts.height,
            "open_critical": open_alerts.filter(pl.col("severity") == "CRITICAL").height,
            "acknowledged": int(alerts["acknowledged"].sum()),
            "open_alerts": MetadataValue.md(open_alerts_markdown(alerts)),
            # the reports are rebuilt from these alerts by report_executive_summary, in the same run
            "report": MetadataValue.url((Path(reports_dir_from_env()).resolve() / "index.html").as_uri()),
        },
    )
    duplicates = open_alerts.group_by("shop_no", "episode_key").len().filter(pl.col("len") > 1)
    yield AssetCheckResult(passed=duplicates.is_empty(), metadata={"duplicated_open_episodes": duplicates.height})


ALERT_ASSETS = [store_anomaly_alerts]
