"""The business-date partitions every warehouse asset shares, and the range a run covers (with the run tags
that carry a range)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    BackfillPolicy,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DailyPartitionsDefinition,
    MetadataValue,
    Output,
    TableSchema,
    TimeWindow,
    asset,
)
from dagster._core.events import AssetMaterializationPlannedData

from store_anomaly.settings import DEFAULT_PARTITIONS_START, PARTITIONS_START_ENV_VAR

# Partitions close on the operations team's calendar: a day is complete at local midnight in New York.
PARTITIONS_TIME_ZONE = "America/New_York"

daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get(PARTITIONS_START_ENV_VAR, DEFAULT_PARTITIONS_START),
    timezone=PARTITIONS_TIME_ZONE,
)

# One run computes a whole partition range: a year-long backfill is one vectorized pass, not 365 runs.
single_run = BackfillPolicy.single_run()

ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(start: date, end: date) -> dict[str, str]:
    """The run tags with which Dagster runs one single-run backfill over [start, end]."""
    return {ASSET_PARTITION_RANGE_START_TAG: start.isoformat(), ASSET_PARTITION_RANGE_END_TAG: end.isoformat()}


def partition_range_problem(start: date, end: date) -> str | None:
    """Why [start, end] is not a range of existing partitions, or None when it is."""
    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    last_key = daily_partitions.get_last_partition_key()
    if start < first:
        return (
            f"{start} is before the first business-date partition ({first}): set "
            f"{PARTITIONS_START_ENV_VAR}={start} (and restart the UI so it shows those partitions)"
        )
    if last_key is None or end > date.fromisoformat(last_key):
        return f"{end} is not a complete business day yet: the latest partition is {last_key}"
    return None


def business_dates(window: TimeWindow) -> tuple[date, date]:
    """The inclusive [first, last] business dates of a partition time window."""
    return window.start.date(), window.end.date() - timedelta(days=1)


def daily_table_asset(
    *, group_name: str, partition_expr: str, table: TableSchema, primary_key: Sequence[str], **kwargs
):
    """`@asset` for a daily-partitioned warehouse table: single-run backfills, stored by the MySQL IO manager
    (bound in the definitions) with the declared columns and primary key, partitions replaced on
    `partition_expr`."""
    return asset(
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        group_name=group_name,
        kinds={"mysql", "polars"},
        metadata={"partition_expr": partition_expr, "dagster/column_schema": table, "primary_key": list(primary_key)},
        **kwargs,
    )


class UpstreamNotMaterializedError(RuntimeError):
    """An input partition of the run was never materialized: computing would replace rows with nothing."""


def require_materialized(context: AssetExecutionContext, *upstream_assets: str) -> None:
    """Fails before any write when an upstream asset lacks one of the run's business dates.

    The IO manager loads a missing partition as no rows; replacing a stored partition with what those no rows
    produce would silently delete it. Lookback days before the run's range are not required.
    """
    wanted = set(context.partition_keys)
    for upstream in upstream_assets:
        missing = sorted(wanted - set(context.instance.get_materialized_partitions(AssetKey(upstream))))
        if missing:
            raise UpstreamNotMaterializedError(
                f"{upstream} is not materialized for {len(missing)} of the run's {len(wanted)} business dates "
                f"({missing[0]} .. {missing[-1]}): materialize it for those dates first, or run every asset, "
                f"e.g. store-anomaly backfill --start {missing[0]} --end {missing[-1]}"
            )


# A range check that passes over more days than this (a backfill) is recorded once, on the range's last day,
# instead of once per day: a check result is one event in the instance, and a year's backfill of the nine
# checks of store_daily_metrics would write 3,285 of them. Shorter ranges (the daily window, the late-rows
# sensor's re-runs) and every failed verdict are recorded for each day.
PER_DAY_CHECK_RESULTS_MAX_DAYS = 35


def per_partition_evaluations(context: AssetCheckExecutionContext, result: AssetCheckResult) -> Iterator:
    """A partitioned check's result, recorded for the partitions of the run's range.

    Dagster records a check computed over a partition range as one evaluation without a partition, so each
    day of a range would read "skipped" (and the lineage "0 / N passed"). A range check's verdict holds for
    each day of the range: it is recorded for every day of a range of up to PER_DAY_CHECK_RESULTS_MAX_DAYS
    days, and for a failed verdict; a passed verdict over a longer range only on its last day. Each carries the
    range in its metadata.
    """
    keys = list(context.partition_keys)
    if len(keys) <= 1:
        yield result
        return
    spec = context.check_specs[0]
    metadata = {**result.metadata, "checked_range": MetadataValue.text(f"{keys[0]} .. {keys[-1]}")}
    recorded = keys[-1:] if result.passed and len(keys) > PER_DAY_CHECK_RESULTS_MAX_DAYS else keys
    for key in recorded:
        yield AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=result.passed,
            metadata=metadata,
            severity=result.severity,
            description=result.description,
            blocking=spec.blocking,
            partition=key,
        )
    yield Output(None)


# Output metadata: ISO business dates of the run's range an asset did not compute (a late feed, missing inputs).
# The IO manager neither deletes nor writes them: their earlier rows stay.
SKIPPED_DATES_KEY = "skipped_dates"


class MissingInputsError(RuntimeError):
    """Days an asset reads (its lookback) hold no rows: computing would give silently wrong results."""


def first_partition_date() -> date:
    return date.fromisoformat(daily_partitions.get_first_partition_key())


# Dagster writes one "planned" event per asset for a run's whole partition range when this is set, instead of
# one per asset and partition: the bookkeeping of a year-long backfill drops by days x assets events. What it
# gives up (partitions of a failed run are not shown failed) `mark_failed_partitions` restores.
RANGED_PLANNED_EVENTS_ENV_VAR = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
# How many events of a step Dagster buffers before handing them to the event log's `store_event_batch` (a
# step's partition events end a batch anyway): the instance storage of dagster_instance/ and deploy/ writes a
# batch in one transaction (store_anomaly/instance_storage.py); other storages store them one by one as before.
EVENT_BATCH_SIZE_ENV_VAR = "DAGSTER_EVENT_BATCH_SIZE"
# Defaults for every process that plans or runs steps (the code location, the CLI); the environment wins.
BOOKKEEPING_ENV_DEFAULTS = {RANGED_PLANNED_EVENTS_ENV_VAR: "1", EVENT_BATCH_SIZE_ENV_VAR: "1000"}


def apply_bookkeeping_defaults() -> None:
    """Sets Dagster's bookkeeping options (ranged planned events, batched event writes) unless already set."""
    for variable, value in BOOKKEEPING_ENV_DEFAULTS.items():
        os.environ.setdefault(variable, value)


def mark_failed_partitions(instance: DagsterInstance, run_id: str) -> int:
    """After a failed run: shows each partition of its range failed, in the UI, for every asset it planned and
    did not materialize. Returns the number of partitions marked.

    With ranged planned events Dagster records one planned event per asset for the range, and derives failed
    partitions only from per-partition planned events without a materialization in a failed run; this records
    those per-partition events for the failed run's unmaterialized assets (a cost paid by failed runs only)."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.status != DagsterRunStatus.FAILURE:
        return 0
    records = instance.get_records_for_run(
        run_id,
        of_type={DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_MATERIALIZATION},
    ).records
    events = [record.event_log_entry.dagster_event for record in records if record.event_log_entry.dagster_event]
    materialized = {
        (event.asset_key, event.partition)
        for event in events
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION
    }
    marked = 0
    for event in events:
        subset = event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED and (
            event.asset_materialization_planned_data.partitions_subset
        )
        if not subset:  # unpartitioned, or already planned partition by partition
            continue
        asset_key = event.asset_key
        for key in subset.get_partition_keys():
            if (asset_key, key) in materialized:
                continue
            planned = DagsterEvent.build_asset_materialization_planned_event(
                run.job_name, event.step_key, AssetMaterializationPlannedData(asset_key, partition=key)
            )
            instance.report_dagster_event(planned, run_id=run_id, log_level=logging.DEBUG)
            marked += 1
    return marked


def dates_materialized_after(
    instance: DagsterInstance, asset_keys: Sequence[AssetKey], storage_id: int
) -> dict[AssetKey, set[date]]:
    """Per asset of `asset_keys`, the business dates (partition keys) the instance recorded materializations of
    after the event `storage_id`: what may have changed in the warehouse since a step that read it then."""
    dates: dict[AssetKey, set[date]] = {key: set() for key in asset_keys}
    for key in asset_keys:
        cursor = None
        while True:
            page = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, after_storage_id=storage_id), limit=1000, cursor=cursor
            )
            dates[key] |= {date.fromisoformat(record.partition_key) for record in page.records if record.partition_key}
            if not page.has_more:
                break
            cursor = page.cursor
    return dates


def dates_written_in_run(instance: DagsterInstance, run_id: str, asset_key: AssetKey) -> set[date]:
    """The business dates whose partitions of `asset_key` the run materialized and wrote: its materializations'
    partitions less the dates they declare skipped (`SKIPPED_DATES_KEY`: a late feed, whose rows stay those of an
    earlier run)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    written: set[date] = set()
    skipped: set[date] = set()
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None or event.asset_key != asset_key or not event.partition:
            continue
        written.add(date.fromisoformat(event.partition))
        value = event.step_materialization_data.materialization.metadata.get(SKIPPED_DATES_KEY)
        skipped |= {date.fromisoformat(str(day)) for day in (getattr(value, "value", value) or [])}
    return written - skipped
