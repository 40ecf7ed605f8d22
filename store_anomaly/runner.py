"""Materializing a range of business dates as one Dagster run, recorded in the instance like a UI backfill."""

from __future__ import annotations

import logging
from datetime import date

from dagster import DagsterInstance, ExecuteInProcessResult

from store_anomaly.automation.run_log import record_run_log, root_message
from store_anomaly.definitions import build_definitions
from store_anomaly.partitions import partition_range_tags
from store_anomaly.resources import Warehouse

log = logging.getLogger(__name__)


def run_backfill(
    start: date, end: date, *, instance: DagsterInstance | None = None, raise_on_error: bool = True
) -> ExecuteInProcessResult:
    """Runs `daily_refresh_job` for business dates [start, end] as one run in `instance` (default: the one in
    DAGSTER_HOME), in process, so a year is one vectorized pass per asset."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    instance = instance or DagsterInstance.get()
    job = build_definitions().resolve_job_def("daily_refresh_job")
    result = job.execute_in_process(
        instance=instance,
        tags={**partition_range_tags(start, end), "store_anomaly/launched_by": "cli-backfill"},
        # Step and asset events still reach the instance (and the UI); the terminal gets INFO and above only.
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=False,
    )
    # No daemon watches an in-process run: log it here (the run-status sensors would write the same rows).
    # A run log that cannot be written (the warehouse is the usual cause of both) never hides the run's own
    # outcome: it is reported beside it.
    try:
        record_run_log(instance, result.run_id, Warehouse.from_env())
    except Exception as error:  # noqa: BLE001 - whatever failed, the run's own outcome must still be reported
        run_log_errors[result.run_id] = f"the run log of run {result.run_id} was not written: {error}"
        log.warning(run_log_errors[result.run_id])
    if raise_on_error and not result.success:
        raise RunFailedError(result)
    return result


# Why the run log of a run could not be written, by run id (for the CLI, which reports it beside the run's cause).
run_log_errors: dict[str, str] = {}


class RunFailedError(RuntimeError):
    def __init__(self, result: ExecuteInProcessResult) -> None:
        self.result = result
        super().__init__(f"run {result.run_id} failed: " + "; ".join(root_causes(result)))


def root_causes(result: ExecuteInProcessResult) -> list[str]:
    """The innermost error message of every failure event of a run, deduplicated: what the user must fix."""
    messages: list[str] = []
    for event in result.all_events:
        message = root_message(getattr(event.event_specific_data, "error", None))
        if message is not None and message not in messages:
            messages.append(message)
    return messages
