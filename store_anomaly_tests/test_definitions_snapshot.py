"""The asset graph (keys, groups, partitions, deps, checks, freshness, automation), jobs, schedules, sensors and
resources match the reviewed snapshot: moving code around cannot silently change what Dagster sees."""

import difflib
import json

from store_anomaly_tests.definitions_snapshot import REGENERATE, SNAPSHOT_PATH, current, stored


def test_definitions_match_the_snapshot():
    now, before = current(), stored()
    if now != before:
        diff = difflib.unified_diff(
            json.dumps(before, indent=2, sort_keys=True).splitlines(),
            json.dumps(now, indent=2, sort_keys=True).splitlines(),
            "snapshot",
            "definitions now",
            lineterm="",
        )
        raise AssertionError(
            f"the definitions differ from {SNAPSHOT_PATH.name}. If the change is intended, regenerate it with\n"
            f"    {REGENERATE}\nand commit the file.\n" + "\n".join(diff)
        )
