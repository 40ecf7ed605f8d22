"""`store_anomaly_run_log`: one row per asset per run, succeeded or failed, written from the run's events.

Written by run-status sensors for runs the daemon sees (UI, schedule, sensors) and by the CLI after its
in-process backfill; rows are keyed on (run_id, asset), so a run logged by both is logged once.
"""

from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)

from store_anomaly.mysql import ensure_table
from store_anomaly.partitions import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    mark_failed_partitions,
)
from store_anomaly.resources import Warehouse
from store_anomaly.table_schemas import table_schema

RUN_LOG_TABLE = "store_anomaly_run_log"
RUN_LOG_COLUMNS = table_schema(
    ("run_id", "VARCHAR(64)", "Dagster run id", False),
    ("asset", "VARCHAR(128)", "asset key", False),
    ("partition_start", "DATE", "first business date of the run's range (NULL: unpartitioned run)"),
    ("partition_end", "DATE", "last business date of the run's range"),
    ("status", "VARCHAR(16)", "success, failed, or skipped (an upstream step failed)", False),
    ("row_count", "BIGINT", "rows the asset wrote"),
    ("duration_seconds", "DOUBLE", "wall seconds of the step that computed the asset"),
    ("error_message", "TEXT", "the root cause when it failed"),
    ("logged_at", "DATETIME(6)", "when the row was written (UTC)", False),
    ("job_name", "VARCHAR(128)", "the job the run executed"),
)
RUN_LOG_SPEC = AssetSpec(
    RUN_LOG_TABLE,
    group_name="operations",
    kinds={"mysql"},
    description="One row per asset per run (range, status, rows, duration, error), written by run-status sensors.",
    metadata={"dagster/column_schema": RUN_LOG_COLUMNS, "primary_key": ["run_id", "asset"]},
)


def root_message(error) -> str | None:
    """The innermost message of a Dagster error chain (cause or context): what the user must fix."""
    while error is not None and (error.cause or error.context):
        error = error.cause or error.context
    return error.message.strip() if error is not None else None


# The events of the run read last, keyed by (instance, run, its latest event's storage id): the run log and the
# incidents of a finished run read the same events (a year's backfill holds thousands); an event added since
# (a failed run's partitions marked failed) makes a new key.
_run_events: dict[tuple, list[DagsterEvent]] = {}


def run_events(instance: DagsterInstance, run_id: str) -> list[DagsterEvent]:
    """The Dagster events of a run's event log, read once per version of the log."""
    latest = instance.get_records_for_run(run_id, limit=1, ascending=False).records
    key = (id(instance), run_id, latest[0].storage_id if latest else None)
    if key not in _run_events:
        _run_events.clear()
        _run_events[key] = [record.dagster_event for record in instance.all_logs(run_id) if record.dagster_event]
    return _run_events[key]


def run_log_rows(instance: DagsterInstance, run_id: str) -> pl.DataFrame:
    """The run log rows of one finished run, from its event log."""
    run = instance.get_run_by_id(run_id)
    events = run_events(instance, run_id)
    # Each planned materialization names the step (op) that computes the asset.
    step_of_asset = {
        e.asset_key.to_user_string(): e.step_key
        for e in events
        if e.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED and e.asset_key
    }
    # The source databases a run observed are no warehouse table: a successful observation is no row (a failed
    # one is, with its error).
    observed = {e.asset_key.to_user_string() for e in events if e.event_type == DagsterEventType.ASSET_OBSERVATION}
    planned = set(step_of_asset) - observed
    rows_written: dict[str, int] = {}
    materialized: set[str] = set()
    for event in events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            asset = event.asset_key.to_user_string()
            materialized.add(asset)
            count = event.step_materialization_data.materialization.metadata.get("dagster/row_count")
            if count is not None:  # one event per partition, each carrying the whole range's count
                rows_written[asset] = int(count.value)
    failures = {
        e.step_key: root_message(e.step_failure_data.error)
        for e in events
        if e.event_type == DagsterEventType.STEP_FAILURE
    }
    # A run can fail outside any step (a source unreachable at resource start-up): its first error explains it.
    run_failure = next(
        (message for e in events if (message := root_message(getattr(e.event_specific_data, "error", None)))), None
    ) or next(  # a run marked failed from outside (its process was killed) says why in the event's message
        (e.message for e in events if e.event_type == DagsterEventType.RUN_FAILURE and e.message), None
    )
    durations = {
        stat.step_key: (stat.end_time - stat.start_time) if stat.end_time and stat.start_time else None
        for stat in instance.get_run_step_stats(run_id)
    }
    now = datetime.now(UTC).replace(tzinfo=None)
    start, end = run.tags.get(ASSET_PARTITION_RANGE_START_TAG), run.tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start is None and run.tags.get("dagster/partition"):
        start = end = run.tags["dagster/partition"]
    rows = []
    for asset in sorted(planned | materialized):
        step = step_of_asset.get(asset)
        if asset in materialized:
            status, error = "success", None
        elif step in failures:
            status, error = "failed", failures[step]
        elif run_failure and not failures:  # the run failed before any step (e.g. a source unreachable)
            status, error = "failed", run_failure
        else:  # an upstream step failed, or the run did not need it
            status, error = "skipped", None
        rows.append(
            {
                "run_id": run_id,
                "asset": asset,
                "partition_start": start,
                "partition_end": end,
                "status": status,
                "row_count": rows_written.get(asset),
                "duration_seconds": durations.get(step),
                "error_message": error,
                "logged_at": now,
                "job_name": run.job_name,
            }
        )
    schema = {
        "run_id": pl.String,
        "asset": pl.String,
        "partition_start": pl.String,
        "partition_end": pl.String,
        "status": pl.String,
        "row_count": pl.Int64,
        "duration_seconds": pl.Float64,
        "error_message": pl.String,
        "logged_at": pl.Datetime("us"),
        "job_name": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).with_columns(pl.col("partition_start", "partition_end").str.to_date())


def record_run_log(instance: DagsterInstance, run_id: str, warehouse: Warehouse) -> int:
    """Writes (or rewrites) the run's rows and reports the run log asset as materialized."""
    rows = run_log_rows(instance, run_id)
    if rows.is_empty():
        return 0
    warehouse.ensure_database()
    with warehouse.connect() as connection:
        ensure_table(
            connection, warehouse.parsed_url.database, RUN_LOG_TABLE, RUN_LOG_COLUMNS.columns, ["run_id", "asset"]
        )
        columns = rows.columns
        with connection.cursor() as cursor:
            cursor.executemany(
                f"REPLACE INTO {RUN_LOG_TABLE} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                rows.rows(),
            )
    instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key=AssetKey(RUN_LOG_TABLE),
            metadata={"run_id": run_id, "rows": rows.height, "failed_assets": int((rows["status"] == "failed").sum())},
        )
    )
    return rows.height


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Writes store_anomaly_run_log rows for every successful run.",
)
def run_log_on_success(context: RunStatusSensorContext, warehouse: Warehouse) -> None:
    record_run_log(context.instance, context.dagster_run.run_id, warehouse)


@run_failure_sensor(
    default_status=DefaultSensorStatus.RUNNING,
    description="Writes store_anomaly_run_log rows, with the error, for every failed run, and shows the "
    "partitions it did not materialize failed in the UI.",
)
def run_log_on_failure(context, warehouse: Warehouse) -> None:
    mark_failed_partitions(context.instance, context.dagster_run.run_id)
    record_run_log(context.instance, context.dagster_run.run_id, warehouse)


RUN_LOG_SENSORS = [run_log_on_success, run_log_on_failure]
