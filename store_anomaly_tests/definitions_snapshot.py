"""The asset graph of the code location as plain data, and the stored snapshot it is compared with.

Regenerate the snapshot after an intended change (a new asset, check, job, schedule or sensor) with

    .venv/bin/python -m store_anomaly_tests.definitions_snapshot

and review the diff of `store_anomaly_tests/snapshots/definitions.json` in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from dagster import Definitions

SNAPSHOT_PATH = Path(__file__).parent / "snapshots" / "definitions.json"
REGENERATE = ".venv/bin/python -m store_anomaly_tests.definitions_snapshot"


def _partitions(partitions_def) -> str | None:
    if partitions_def is None:
        return None
    # The first date comes from the environment (STORE_ANOMALY_PARTITIONS_START): not part of the shape.
    cron = getattr(partitions_def, "cron_schedule", None)
    zone = getattr(partitions_def, "timezone", None)
    return f"{type(partitions_def).__name__}({cron}, {zone})"


def describe(defs: Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        freshness = node.freshness_policy
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "materializable": node.is_materializable,
            "kinds": sorted(node.kinds),
            "partitions": _partitions(node.partitions_def),
            "backfill_policy": str(node.backfill_policy.policy_type.value) if node.backfill_policy else None,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "checks": sorted(check.name for check in node.check_keys),
            "freshness_deadline": getattr(freshness, "deadline_cron", None) if freshness else None,
            "automation_condition": node.automation_condition.get_label() if node.automation_condition else None,
        }
    jobs = {
        job.name: sorted(key.to_user_string() for key in job.asset_layer.selected_asset_keys)
        for job in sorted(defs.resolve_all_job_defs(), key=lambda job: job.name)
        if not job.name.startswith("__")
    }
    schedules = {
        schedule.name: {
            "cron": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
            "job": schedule.job_name,
            "default_status": schedule.default_status.value,
        }
        for schedule in sorted(defs.schedules or [], key=lambda schedule: schedule.name)
    }
    sensors = {}
    for sensor in sorted(defs.sensors or [], key=lambda sensor: sensor.name):
        sensors[sensor.name] = {
            "type": type(sensor).__name__,
            "jobs": sorted(job.name for job in sensor.jobs) if sensor.has_jobs else [],
            "minimum_interval_seconds": sensor.minimum_interval_seconds,
            "default_status": sensor.default_status.value,
        }
    return {
        "assets": assets,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "resources": sorted(defs.resources or {}),
    }


def current() -> dict:
    from store_anomaly.definitions import build_definitions

    return json.loads(json.dumps(describe(build_definitions())))


def stored() -> dict:
    return json.loads(SNAPSHOT_PATH.read_text())


def main() -> None:
    SNAPSHOT_PATH.parent.mkdir(exist_ok=True)
    SNAPSHOT_PATH.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT_PATH}")


if __name__ == "__main__":
    main()
