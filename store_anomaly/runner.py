"""Materializing a range of business dates as one Dagster run, recorded in the instance like a UI backfill."""

from __future__ import annotations

from datetime import date

from dagster import DagsterInstance, ExecuteInProcessResult

ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(start: date, end: date) -> dict[str, str]:
    """The run tags with which Dagster runs one single-run backfill over [start, end]."""
    return {ASSET_PARTITION_RANGE_START_TAG: start.isoformat(), ASSET_PARTITION_RANGE_END_TAG: end.isoformat()}


def run_backfill(
    start: date, end: date, *, instance: DagsterInstance | None = None, raise_on_error: bool = True
) -> ExecuteInProcessResult:
    """Runs `daily_refresh_job` for business dates [start, end] as one run in `instance` (default: the one in
    DAGSTER_HOME), in process, so a year is one vectorized pass per asset."""
    from store_anomaly.definitions import build_definitions

    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    job = build_definitions().resolve_job_def("daily_refresh_job")
    return job.execute_in_process(
        instance=instance or DagsterInstance.get(),
        tags={**partition_range_tags(start, end), "store_anomaly/launched_by": "cli-backfill"},
        # Step and asset events still reach the instance (and the UI); the terminal gets INFO and above only.
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=raise_on_error,
    )
