"""Materializing a range of business dates as one Dagster run, recorded in the instance like a UI backfill."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import TextIO

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    EventLogEntry,
    JobExecutionResult,
    RunsFilter,
)
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import execute_run

from store_anomaly.automation.incidents import process_run
from store_anomaly.automation.run_log import record_run_log, root_message
from store_anomaly.date_ranges import date_ranges_text
from store_anomaly.definitions import build_definitions
from store_anomaly.mysql import process_alive
from store_anomaly.partitions import (
    SKIPPED_DATES_KEY,
    apply_bookkeeping_defaults,
    mark_failed_partitions,
    partition_range_tags,
)
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
    start: date,
    end: date,
    *,
    instance: DagsterInstance | None = None,
    raise_on_error: bool = True,
    progress: Callable[[int], Callable[[EventLogEntry], None]] | None = None,
) -> JobExecutionResult:
    """Runs `daily_refresh_job` for business dates [start, end] as one run in `instance` (default: the one in
    DAGSTER_HOME), in process, so a year is one vectorized pass per asset.

    `progress`, given the run's number of steps, returns a listener called with each event of the run as the
    instance stores it (`StepProgress` prints them)."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    instance = instance or DagsterInstance.get()
    # One planned event per asset for the range, not per asset and day, and a step's per-day events written
    # in batches (unless the environment says otherwise).
    apply_bookkeeping_defaults()
    # Executed with the job's own in-process executor, as `dagster job execute` executes it, not with
    # `execute_in_process`: that one keeps every step's output for its result, so a year's backfill would hold
    # each asset's whole frame (SPC's limits: millions of rows) until the run ends. Here a step's output is gone
    # once the IO manager has written it. The definitions are built afresh, so the environment of this call
    # (closed days, languages, URLs) is the one the run sees.
    job = build_definitions().resolve_job_def("daily_refresh_job")
    run_id = str(uuid.uuid4())
    if progress is not None:
        instance.add_event_listener(run_id, progress(len(job.graph.node_dict)))
    run = instance.create_run_for_job(
        job_def=job,
        run_id=run_id,
        # Step and asset events still reach the instance (and the UI); the terminal gets INFO and above only.
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        tags={
            **job.run_tags,
            **partition_range_tags(start, end),
            LAUNCHED_BY_TAG: CLI_BACKFILL,
            PROCESS_ID_TAG: str(os.getpid()),
            HOST_TAG: socket.gethostname(),
        },
    )
    result = execute_run(InMemoryJob(job), run, instance)
    if not result.success:
        mark_failed_partitions(instance, result.run_id)
    # No daemon watches an in-process run: log it here (the run-status sensors would write the same rows).
    # A run log that cannot be written (the warehouse is the usual cause of both) never hides the run's own
    # outcome: it is reported beside it.
    try:
        record_run_log(instance, result.run_id, Warehouse.from_env())
    except Exception as error:  # noqa: BLE001 - whatever failed, the run's own outcome must still be reported
        run_log_errors[result.run_id] = f"the run log of run {result.run_id} was not written: {error}"
        log.warning(run_log_errors[result.run_id])
    # Its incidents (or its recovery) are announced now, not when a daemon notices: the same key either way.
    try:
        process_run(instance, result.run_id, Warehouse.from_env(), noticed_by="cli")
    except Exception as error:  # noqa: BLE001 - as for the run log: the run's own outcome comes first
        incident_errors[result.run_id] = f"the incidents of run {result.run_id} were not recorded or sent: {error}"
        log.warning(incident_errors[result.run_id])
    if raise_on_error and not result.success:
        raise RunFailedError(result)
    return result


STEP_ENDS = {
    DagsterEventType.STEP_SUCCESS: "done",
    DagsterEventType.STEP_FAILURE: "FAILED",
    DagsterEventType.STEP_SKIPPED: "skipped",
}


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def terminal_columns(stream: TextIO) -> int:
    """The width of the terminal `stream` writes to; 0 when it is no terminal (or one without a width)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else 0
    except (AttributeError, OSError, ValueError):
        return 0


class StepProgress:
    """A run's progress on a terminal stream, step by step, with the elapsed time.

    On a terminal: a progress bar of the steps ended, naming the steps running. Elsewhere (a log file, CI, a
    pipe): one plain line when a step starts and one when it ends, with its own seconds."""

    def __init__(self, total_steps: int, stream: TextIO | None = None, *, bar: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = total_steps
        self.began = time.perf_counter()
        self.running: dict[str, float] = {}
        self.ended = 0
        use_bar = terminal_columns(self.stream) > 0 if bar is None else bar
        self.bar = None
        if use_bar:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total_steps,
                file=self.stream,
                unit="step",
                dynamic_ncols=True,
                bar_format="{n_fmt}/{total_fmt} steps |{bar:20}| {elapsed}{postfix}",
            )
        self.say(f"planning and recording the run ({total_steps} steps)")

    def say(self, line: str) -> None:
        text = f"[{clock(time.perf_counter() - self.began)}] {line}"
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, event: EventLogEntry) -> None:
        dagster_event = event.dagster_event
        if dagster_event is None or dagster_event.step_key is None:
            return
        step = dagster_event.step_key
        if dagster_event.event_type == DagsterEventType.STEP_START:
            self.running[step] = time.perf_counter()
            if self.bar is None:
                self.say(f"{step} started")
        elif dagster_event.event_type in STEP_ENDS:
            began = self.running.pop(step, None)
            self.ended += 1
            took = f" in {time.perf_counter() - began:.1f} s" if began is not None else ""
            line = f"{self.ended}/{self.total} {step} {STEP_ENDS[dagster_event.event_type]}{took}"
            if self.bar is not None:
                self.bar.update(1)
                if dagster_event.event_type != DagsterEventType.STEP_SUCCESS:
                    self.say(line)
            else:
                self.say(line)
        else:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(("running " + ", ".join(self.running)) if self.running else "", refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# Why the run log of a run could not be written, by run id (for the CLI, which reports it beside the run's cause).
run_log_errors: dict[str, str] = {}
# Why the incidents of a run could not be recorded or announced, by run id.
incident_errors: dict[str, str] = {}


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


def skipped_dates_of(result: JobExecutionResult) -> dict[str, tuple[str, str]]:
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
    def __init__(self, result: JobExecutionResult) -> None:
        self.result = result
        super().__init__(f"run {result.run_id} failed: " + "; ".join(root_causes(result)))


def root_causes(result: JobExecutionResult) -> list[str]:
    """The innermost error message of every failure event of a run, deduplicated: what the user must fix."""
    messages: list[str] = []
    for event in result.all_events:
        message = root_message(getattr(event.event_specific_data, "error", None))
        if message is not None and message not in messages:
            messages.append(message)
    return messages
