"""How long a failed daemon-launched run takes to reach the notification channel.

Starts the production deployment as `deploy/` defines it on this machine: a real `dagster-webserver` and
`dagster-daemon` on the dagster-mysql instance of `deploy/dagster.yaml` (a fresh database on the local server),
sources of the small test chain, and a local HTTP endpoint as the apprise target. Then, `--runs` times, the
sales source loses its `t_trade` table, the schedule's run request is queued through the webserver, the daemon
launches it, it fails, and the incident sensor announces it: the seconds from the run's end (the instance's
record) to the message's arrival are printed, with their median and maximum. Everything is dropped afterwards.

    .venv/bin/python benchmarks/incident_latency.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dagster import DagsterInstance, DagsterRunStatus

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import (
    NOTIFY_URLS_ENV_VAR,
    PARTITIONS_START_ENV_VAR,
    SOURCE_ENV_VARS,
    WAREHOUSE_ENV_VAR,
)
from store_anomaly_tests.dagster_processes import (
    daemon_running,
    launch_scheduled_run,
    schedule_request,
    serving,
    stop_quiet_sensors,
    wait_for_run,
)
from store_anomaly_tests.databases import FreshDatabases
from store_anomaly_tests.deploy_instance import deploy_instance_env
from store_anomaly_tests.endpoint import Endpoint
from store_anomaly_tests.small_chain import build_sources

# The schedule's 07:00 New York tick of 4 November 2025: the small chain's 1-3 November.
TICK = datetime(2025, 11, 4, 7, 0, tzinfo=ZoneInfo("America/New_York"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="failed runs to time (default 5)")
    args = parser.parse_args()

    databases = FreshDatabases()
    endpoint = Endpoint()
    endpoint.thread.start()
    try:
        urls = databases.create_platform()
        build_sources(urls)
        home = Path(tempfile.mkdtemp(prefix="incident-latency-"))
        env = {
            **os.environ,
            **{variable: urls[source] for source, variable in SOURCE_ENV_VARS.items()},
            WAREHOUSE_ENV_VAR: urls["warehouse"],
            **deploy_instance_env(databases.create("dagster"), home / "dagster"),
            NOTIFY_URLS_ENV_VAR: endpoint.url("/incidents"),
            PARTITIONS_START_ENV_VAR: "2025-11-01",
        }
        os.environ.update(env)
        sales = MySQLUrl.parse(urls["sales_order"])
        with sales.connect(autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute("RENAME TABLE t_trade TO t_trade_gone")
        delays = []
        with DagsterInstance.get() as instance, serving(env) as port:
            stop_quiet_sensors(port)
            request = schedule_request(port, TICK)
            with daemon_running(env, home / "daemon.log"):
                for attempt in range(1, args.runs + 1):
                    run = wait_for_run(instance, launch_scheduled_run(port, request))
                    assert run.status == DagsterRunStatus.FAILURE, run.status
                    deadline = time.monotonic() + 300
                    while len(endpoint.posts("/incidents")) < attempt and time.monotonic() < deadline:
                        time.sleep(0.2)
                    post = endpoint.posts("/incidents")[attempt - 1]
                    assert run.run_id in post["message"], post
                    delay = post["received_at"] - instance.get_run_record_by_id(run.run_id).end_time
                    delays.append(delay)
                    print(f"run {attempt}: {run.run_id} failed; its message arrived {delay:.1f} s later", flush=True)
        load = os.getloadavg()
        print(
            f"failed daemon-launched run -> message: median {statistics.median(delays):.1f} s, "
            f"max {max(delays):.1f} s over {len(delays)} runs (incident sensors every 10 s; "
            f"load average {load[0]:.1f} on {os.cpu_count()} cores)"
        )
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()
        databases.drop_all()


if __name__ == "__main__":
    main()
