"""The daily schedule's late-data window and the sensor that re-runs days when late source rows arrive."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    build_schedule_context,
    build_sensor_context,
    evaluate_automation_conditions,
)

from store_anomaly.automation.refresh import daily_refresh_range
from store_anomaly.date_ranges import contiguous_ranges
from store_anomaly.definitions import build_definitions
from store_anomaly.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from store_anomaly.resources import source_resources
from store_anomaly.runner import run_backfill
from store_anomaly_tests.small_chain import END, START, build_sources
from store_anomaly_tests.source_rows import insert_rows

NEW_YORK = ZoneInfo("America/New_York")


def test_schedule_runs_yesterday_and_the_three_days_before_as_one_run():
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("daily_refresh_schedule")
    assert schedule.cron_schedule == "0 7 * * *" and schedule.execution_timezone == "America/New_York"
    context = build_schedule_context(scheduled_execution_time=datetime(2026, 3, 9, 7, 0, tzinfo=NEW_YORK))
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2026-03-05"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2026-03-08"


def test_refresh_range_never_starts_before_the_first_partition():
    assert daily_refresh_range(datetime(2025, 3, 25, 7, tzinfo=NEW_YORK), date(2025, 3, 24)) == (
        date(2025, 3, 24),
        date(2025, 3, 24),
    )


def test_contiguous_ranges():
    days = [date(2025, 1, 3), date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 7)]
    assert contiguous_ranges(days) == [(date(2025, 1, 1), date(2025, 1, 3)), (date(2025, 1, 7), date(2025, 1, 7))]


@pytest.mark.mysql
def test_sensor_requests_a_run_for_late_rows_of_a_materialized_day(platform_urls):
    build_sources(platform_urls)
    instance = DagsterInstance.ephemeral()
    assert run_backfill(START, END, instance=instance).success
    sensor = build_definitions().resolve_sensor_def("late_source_rows_sensor")
    resources = source_resources()

    first = sensor.evaluate_tick(build_sensor_context(instance=instance, resources=resources))
    assert not first.run_requests  # the first look only records where the sources are

    quiet = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
    assert not quiet.run_requests

    # A till that was offline uploads a trade of 2 November (New York) late.
    insert_rows(
        platform_urls,
        "t_trade",
        [
            {
                "id": 100,
                "trade_no": "T100",
                "dept_id": 1127,
                "pay_money": 8,
                "trade_status": 1,
                "create_time": datetime(2025, 11, 2, 18, 0),
            }
        ],
    )
    late = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
    assert len(late.run_requests) == 1
    tags = late.run_requests[0].tags
    # The UTC date may hold either neighbouring local date; only materialized days are requested.
    assert tags[ASSET_PARTITION_RANGE_START_TAG] == "2025-11-01"
    assert tags[ASSET_PARTITION_RANGE_END_TAG] == "2025-11-03"

    again = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=late.cursor, resources=resources))
    assert not again.run_requests  # the same rows never trigger twice


def test_every_warehouse_table_must_be_fresh_by_nine_in_new_york():
    graph = build_definitions().resolve_asset_graph()
    computed = [key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    assert len(computed) == 15  # the 12 warehouse tables and the 3 report pages
    for key in computed:
        policy = graph.get(key).freshness_policy
        assert policy is not None, key
        assert (policy.deadline_cron, policy.timezone) == ("0 9 * * *", "America/New_York")


@pytest.mark.mysql
def test_alerts_are_rebuilt_when_flags_change_outside_the_refresh_job(platform_urls):
    build_sources(platform_urls)
    instance = DagsterInstance.ephemeral()
    assert run_backfill(START, END, instance=instance).success
    defs = build_definitions()
    settled = evaluate_automation_conditions(defs=defs, instance=instance)
    assert settled.total_requested == 0  # just rebuilt by the refresh run

    # Someone re-materializes one partition of the SPC assets from the UI.
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(
        instance=instance,
        asset_selection=[AssetKey("store_spc_control_limits"), AssetKey("store_anomaly_flags")],
        partition_key=END.isoformat(),
    ).success
    after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=settled.cursor)
    assert after.get_requested_partitions(AssetKey("store_anomaly_alerts")) == {None}
