"""The real Dagster processes for the tests: the webserver (`serving`, with `graphql` to ask it) and the daemon
(`daemon_running`), each started from this virtualenv on the project's workspace.yaml and stopped afterwards;
and what the deployment test does through the webserver's API (stop sensors, evaluate the schedule's tick,
queue its run request)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from dagster import DagsterInstance, DagsterRun

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.load(response)
    assert "errors" not in payload, payload
    return payload["data"]


@contextmanager
def serving(env: dict[str, str] | None = None) -> Iterator[int]:
    """The real Dagster webserver on a free local port, with `env` (default: this process's environment);
    yields the port."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env if env is not None else os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"webserver did not start: {server.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.5)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def daemon_running(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on the project's workspace with `env` (its output in `log`), stopped afterwards."""
    with open(log, "wb") as output:
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield daemon
        finally:
            daemon.terminate()
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(timeout=30)


REPOSITORY = {"repositoryLocationName": "store_anomaly", "repositoryName": "__repository__"}
# Sensors that could launch runs or send messages of their own during a test: stopped through the UI's API
# (the deadline sensor would announce today's missed daily run: the test's data is from 2025).
QUIET_SENSORS = (
    "late_source_rows_sensor",
    "alerts_automation_sensor",
    "alert_notifications_sensor",
    "incidents_deadline_sensor",
)
SENSORS = """query($repo: RepositorySelector!) { sensorsOrError(repositorySelector: $repo) {
  ... on Sensors { results { name sensorState { id selectorId status } } } } }"""
STOP_SENSOR = """mutation($origin: String!, $selector: String!) {
  stopSensor(jobOriginId: $origin, jobSelectorId: $selector) {
    ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } } }"""
DRY_RUN = """mutation($selector: ScheduleSelector!, $timestamp: Float!) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
    ... on DryRunInstigationTick { evaluationResult {
      runRequests { runKey runConfigYaml tags { key value } } skipReason error { message } } }
    ... on PythonError { message } } }"""
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""


def stop_quiet_sensors(port: int) -> None:
    """Stops, through the webserver's API, the sensors that would launch runs or send messages of their own."""
    for sensor in graphql(port, SENSORS, {"repo": REPOSITORY})["sensorsOrError"]["results"]:
        if sensor["name"] in QUIET_SENSORS:
            state = sensor["sensorState"]
            stopped = graphql(port, STOP_SENSOR, {"origin": state["id"], "selector": state["selectorId"]})
            assert stopped["stopSensor"]["instigationState"]["status"] == "STOPPED", stopped


def schedule_request(port: int, tick: datetime) -> dict:
    """The run request of daily_refresh_schedule's tick at `tick`, evaluated by the code location through the
    webserver (the UI's "Test schedule")."""
    evaluation = graphql(
        port,
        DRY_RUN,
        {"selector": {**REPOSITORY, "scheduleName": "daily_refresh_schedule"}, "timestamp": tick.timestamp()},
    )["scheduleDryRun"]["evaluationResult"]
    (request,) = evaluation["runRequests"]
    return request


def launch_scheduled_run(port: int, request: dict) -> str:
    """Launches the schedule's run request through the webserver, as the daemon's scheduler would submit it:
    into the run queue."""
    assert request["runConfigYaml"].strip() in ("", "{}")  # the schedule sets tags only
    params = {
        "selector": {**REPOSITORY, "jobName": "daily_refresh_job"},
        "runConfigData": {},
        "executionMetadata": {"tags": request["tags"]},
    }
    launched = graphql(port, LAUNCH, {"params": params})["launchRun"]
    assert "run" in launched, launched
    assert launched["run"]["status"] == "QUEUED"  # the queued run coordinator holds it for the daemon
    return launched["run"]["runId"]


def wait_for_run(instance: DagsterInstance, run_id: str, timeout: float = 400) -> DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} still {instance.get_run_by_id(run_id).status} after {timeout} s")
