"""`store_anomaly_alerts`: one row per anomaly episode, brought up to date from the days that changed.

The table is unpartitioned: an episode spans days. Each materialization finds the first business date whose
flags, limits or metrics were materialized since the alerts' last materialization (the instance's event
log), re-derives only the episodes that date can reach (the open ones and those closed within the quiet
days before it) from the flags and metrics of that window (`incremental`), and writes the whole table in one
transaction; the first materialization, or one on a table that no longer matches the instance, rebuilds
from every flag. Either way the result is what a rebuild from every flag gives. Alert ids are stable across
rebuilds (matched to the previous rows), and acknowledgements and notifications come from append-only logs
(`state`), so re-materializing any range never duplicates an alert nor loses what a person did.
"""

import hashlib
import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    BackfillPolicy,
    DagsterInstance,
    MetadataValue,
    Output,
    asset,
)

from store_anomaly.alerts.config import ALERT_SCHEMA, HUMAN_STATE_COLUMNS, AlertConfig
from store_anomaly.alerts.episodes import build_alerts
from store_anomaly.alerts.incremental import rederive_from, update_alerts
from store_anomaly.alerts.listing import open_alerts_markdown
from store_anomaly.alerts.state import anchored_references, current_alert_state
from store_anomaly.io_managers.mysql import hold_asset_lock
from store_anomaly.kpis.assets import STORE_DAILY_METRICS_TABLE
from store_anomaly.mysql import in_own_session, query_frame_arrow, table_exists
from store_anomaly.partitions import dates_materialized_after
from store_anomaly.resources import Warehouse
from store_anomaly.settings import reports_dir_from_env
from store_anomaly.table_schemas import polars_schema, table_schema_from_polars

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
    # read in SQL, the window an update needs only; sized against the anchored references SPC publishes
    deps=["store_anomaly_flags", "store_daily_metrics", "store_spc_control_limits"],
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
def store_anomaly_alerts(context: AssetExecutionContext, warehouse: Warehouse):
    """What a person is asked to act on: one row per anomaly episode, kept open while the signal lasts."""
    config = AlertConfig()
    hold_asset_lock(context)  # the lock before the read: read, compute and write are one
    with warehouse.connect() as connection:
        existing = current_alert_state(connection)
        since = changed_since(context.instance, alerts_fingerprint(existing))
        if since is None:
            alerts, window = rebuild(connection, existing, config), "every flag"
        else:
            alerts, window_start = update(connection, existing, since, config)
            window = f"flags from {window_start} (changed from {since})"
    context.log.info(f"store_anomaly_alerts derived from {window}")
    open_alerts = alerts.filter(pl.col("status") == "open")
    yield Output(
        alerts,
        metadata={
            "alerts": alerts.height,
            "alerts_fingerprint": alerts_fingerprint(alerts),
            "open": open_alerts.height,
            "open_critical": open_alerts.filter(pl.col("severity") == "CRITICAL").height,
            "acknowledged": int(alerts["acknowledged"].sum()),
            "derived_from": window,
            "open_alerts": MetadataValue.md(open_alerts_markdown(alerts)),
            # the reports are rebuilt from these alerts by report_executive_summary, in the same run
            "report": MetadataValue.url((Path(reports_dir_from_env()).resolve() / "index.html").as_uri()),
        },
    )
    duplicates = open_alerts.group_by("shop_no", "episode_key").len().filter(pl.col("len") > 1)
    yield AssetCheckResult(passed=duplicates.is_empty(), metadata={"duplicated_open_episodes": duplicates.height})


ALERTS_KEY = AssetKey("store_anomaly_alerts")
# What the alerts are derived from: a materialization of any of these since the alerts' last one changed them.
INPUT_KEYS = [AssetKey(k) for k in ("store_anomaly_flags", "store_spc_control_limits", "store_daily_metrics")]
FLAG_COLUMNS = {
    "metric_date": pl.Date,
    "shop_no": pl.String,
    "metric_name": pl.String,
    "rule": pl.String,
    "observed_value": pl.Float64,
    "expected_value": pl.Float64,
    "z_score": pl.Float64,
    "severity": pl.String,
    "direction": pl.String,
}
METRIC_COLUMNS = polars_schema(STORE_DAILY_METRICS_TABLE.columns)


def alerts_fingerprint(alerts: pl.DataFrame) -> str:
    """A digest of what the platform derived in `alerts` (every column but the human state, which people and
    the notifier change between runs), independent of row order. Recorded with each materialization, it tells
    the next one whether the stored table is still the one it wrote: a row edited, deleted or added by hand
    (even with the row count unchanged) makes the next materialization rebuild from every flag."""
    derived = [column for column in ALERT_SCHEMA if column not in HUMAN_STATE_COLUMNS]
    table = alerts.select(derived).sort("alert_id").write_csv()
    return hashlib.sha256(table.encode()).hexdigest()


def changed_since(instance: DagsterInstance, stored_fingerprint: str) -> date | None:
    """The first business date materialized, for any input, since the alerts' last materialization; None when
    the alerts must be rebuilt from every flag (never materialized in this instance, or the stored table is
    not the one it recorded: `alerts_fingerprint`). With no input changed, the last date materialized (the
    open episodes age)."""
    last = instance.fetch_materializations(ALERTS_KEY, limit=1, ascending=False).records
    if not last:
        return None
    materialization = last[0].asset_materialization
    recorded = materialization.metadata.get("alerts_fingerprint") if materialization else None
    if recorded is None or recorded.value != stored_fingerprint:
        return None
    changed = set().union(*dates_materialized_after(instance, INPUT_KEYS, last[0].storage_id).values())
    first = min(changed, default=None)
    return first or latest_metric_date(instance)


def latest_metric_date(instance: DagsterInstance) -> date:
    keys = instance.get_materialized_partitions(AssetKey("store_daily_metrics"))
    return max(date.fromisoformat(key) for key in keys) if keys else date.today()


def read_since(connection, table: str, schema: dict, since: date | None) -> pl.DataFrame:
    """The declared columns of `table`, business dates from `since` on (every date when None), read through
    Arrow (`query_frame_arrow`: months of 1,000 stores' metrics), in its own session: the upstream flags and
    metrics are committed before this step begins."""
    with connection.cursor() as cursor:
        if not table_exists(cursor, table):
            return pl.DataFrame(schema=schema)
    where, params = ("metric_date >= %s", (since,)) if since else ("TRUE", None)
    return query_frame_arrow(connection, table, schema, where, params)


def rebuild(connection, existing: pl.DataFrame, config: AlertConfig) -> pl.DataFrame:
    """The whole table from every flag."""
    import_change_point_library_ahead()
    flags = read_since(connection, "store_anomaly_flags", FLAG_COLUMNS, None)
    metrics = read_since(connection, "store_daily_metrics", METRIC_COLUMNS, None)
    return build_alerts(flags, metrics, existing, config, anchors=anchored_references(connection))


def import_change_point_library_ahead() -> None:
    """Starts importing ruptures (what dates an episode's onset, `alerts.changepoint`) in a thread: with scipy
    under it, about a second, which the code location does not pay at load; here it is paid while the step
    waits on the warehouse (the anchored references, the flags and metrics)."""
    threading.Thread(target=importlib.import_module, args=("ruptures",), name="import-ruptures", daemon=True).start()


def update(connection, existing: pl.DataFrame, since: date, config: AlertConfig) -> tuple[pl.DataFrame, date]:
    """The whole table, re-deriving only what a change from `since` on can reach (see `incremental`)."""
    import_change_point_library_ahead()

    def read(first: date) -> tuple[pl.DataFrame, pl.DataFrame]:
        flags = read_since(connection, "store_anomaly_flags", FLAG_COLUMNS, first)
        return flags, read_since(connection, "store_daily_metrics", METRIC_COLUMNS, first)

    # the anchored references are read in a session of their own while the first window is
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-anchors") as pool:
        since_anchor = rederive_from(existing, since, config)
        anchors = pool.submit(in_own_session, connection, anchored_references, since=since_anchor)
        return update_alerts(existing, since, config, read, anchors.result)


ALERT_ASSETS = [store_anomaly_alerts]
