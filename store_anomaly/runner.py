"""Materializing a range of business dates as one Dagster run, recorded in the instance like a UI backfill."""

from __future__ import annotations

import logging
import os
import socket
from datetime import date

from dagster import DagsterInstance, DagsterRunStatus, ExecuteInProcessResult, RunsFilter

from store_anomaly.automation.run_log import record_run_log, root_message
from store_anomaly.definitions import build_definitions
from store_anomaly.mysql import process_alive
from store_anomaly.partitions import SKIPPED_DATES_KEY, date_ranges_text, partition_range_tags
from store_anomaly.resources import Warehouse
from store_anomaly.sources.feeds import LATE_FEED_REASON

log = logging.getLogger(__name__)

LAUNCHED_BY_TAG = "store_anomaly/launched_by"
CLI_BACKFILL = "cli-backfill"
# Which process runs an in-process run: no daemon watches it, so the next CLI start checks it is still alive.
PROCESS_ID_TAG = "store_anomaly/pid"
HOST_TAG = "store_anomaly/host"
UNFINISHED_STATUSES = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


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
        tags={
            **partition_range_tags(start, end),
            LAUNCHED_BY_TAG: CLI_BACKFILL,
            PROCESS_ID_TAG: str(os.getpid()),
            HOST_TAG: socket.gethostname(),
        },
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


def fail_dead_cli_runs(instance: DagsterInstance) -> list[str]:
    """Marks failed the CLI runs of this host whose process is gone (killed), and writes their run log rows.

    An in-process run is watched by no daemon: killed, it would stay STARTED forever and never reach the run
    log. `store-anomaly backfill` calls this first. Returns one line per run it marked."""
    marked = []
    runs = instance.get_runs(RunsFilter(statuses=UNFINISHED_STATUSES, tags={LAUNCHED_BY_TAG: CLI_BACKFILL}))
    for run in runs:
        pid = run.tags.get(PROCESS_ID_TAG, "")
        if run.tags.get(HOST_TAG) != socket.gethostname() or not pid.isdigit() or process_alive(int(pid)):
            continue
        message = (
            f"the process running it (pid {pid} on {run.tags[HOST_TAG]}) ended without finishing the run (killed); "
            "its unfinished writes were rolled back with their transactions: re-run the range"
        )
        instance.report_run_failed(run, message)
        record_run_log(instance, run.run_id, Warehouse.from_env())
        marked.append(f"run {run.run_id} marked failed: {message}")
    return marked


def skipped_dates_of(result: ExecuteInProcessResult) -> dict[str, tuple[str, str]]:
    """asset -> (the dates of the run it did not write, why), from the run's materialization metadata."""
    skipped: dict[str, tuple[str, str]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        value = materialization.metadata.get(SKIPPED_DATES_KEY)
        days = [date.fromisoformat(day) for day in (getattr(value, "value", value) or [])]
        if days:
            late = "late_feed_dates" in materialization.metadata
            reason = f"late feed ({LATE_FEED_REASON})" if late else "store_daily_metrics lacks them or an earlier day"
            skipped[materialization.asset_key.to_user_string()] = (date_ranges_text(days), reason)
    return skipped


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
