"""`store-anomaly status`: the platform's health at a glance, the first thing to look at in the morning.

The last successful daily run (from the Dagster instance), the latest business date with data per source (from
the daily extracts the warehouse holds: what the platform has read, not what the source may hold since), the
open platform incidents (`store_anomaly_incidents`) and the next scheduled run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._utils.schedules import cron_string_iterator

from store_anomaly.automation.incidents import DAILY_JOB, open_incidents
from store_anomaly.automation.refresh import daily_refresh_schedule
from store_anomaly.mysql import table_exists
from store_anomaly.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

# Per source: the daily extract table and what counts as data on a date.
SOURCE_DATA = {
    "opshop": ("source_opshop_daily", "in_scope"),
    "sales_order": ("source_sales_order_daily", "source_rows > 0"),
    "opproduction": ("source_opproduction_daily", "source_rows > 0"),
    "opqualitycontrol": ("source_opqualitycontrol_daily", "source_rows + expiry_records > 0"),
    "opempefficiency": ("source_opempefficiency_daily", "shift_count > 0"),
}
LAUNCHERS = {"dagster/schedule_name": "schedule", "dagster/sensor_name": "sensor", "store_anomaly/launched_by": "CLI"}


def _utc(timestamp: float | None) -> str:
    return f"{datetime.fromtimestamp(timestamp, UTC):%Y-%m-%d %H:%M} UTC" if timestamp else "-"


def last_successful_daily_run(instance: DagsterInstance) -> str:
    records = instance.get_run_records(
        RunsFilter(job_name=DAILY_JOB, statuses=[DagsterRunStatus.SUCCESS]), limit=1, order_by="update_timestamp"
    )
    if not records:
        return f"none: {DAILY_JOB} has never succeeded in this instance"
    record = records[0]
    tags = record.dagster_run.tags
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    dates = f"business dates {start} .. {end}" if start else "no partition range"
    by = next((name for tag, name in LAUNCHERS.items() if tag in tags), "UI")
    return f"{record.dagster_run.run_id} finished {_utc(record.end_time)}, {dates} (launched by {by})"


def latest_dates_per_source(connection) -> dict[str, str]:
    latest = {}
    with connection.cursor() as cursor:
        for source, (table, has_data) in SOURCE_DATA.items():
            if not table_exists(cursor, table):
                latest[source] = "never read"
                continue
            cursor.execute(f"SELECT MAX(business_date) FROM {table} WHERE {has_data}")
            day = cursor.fetchone()[0]
            latest[source] = day.isoformat() if day else "no data"
    return latest


def next_scheduled_run(instance: DagsterInstance, now: datetime) -> str:
    schedule = daily_refresh_schedule
    zone = ZoneInfo(schedule.execution_timezone)
    tick = next(cron_string_iterator(now.timestamp(), schedule.cron_schedule, schedule.execution_timezone))
    local = tick.astimezone(zone)
    stopped = [
        state
        for state in instance.all_instigator_state()
        if state.name == schedule.name and state.status.value == "STOPPED"
    ]
    note = " (stopped in this instance: start it in the UI)" if stopped else ""
    return (
        f"{schedule.name} at {local:%Y-%m-%d %H:%M} {schedule.execution_timezone} ({tick.astimezone(UTC):%H:%M} UTC)"
        f"{note}; the daemon must be running"
    )


def platform_status(instance: DagsterInstance, connection, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    lines = [f"store_anomaly at {now:%Y-%m-%d %H:%M} UTC", ""]
    lines.append(f"Last successful daily run: {last_successful_daily_run(instance)}")
    lines.append("")
    lines.append("Latest business date with data, per source (as read into the warehouse):")
    for source, day in latest_dates_per_source(connection).items():
        lines.append(f"  {source:<18}{day}")
    lines.append("")
    incidents = open_incidents(connection)
    lines.append(f"Open platform incidents: {len(incidents) or 'none'}")
    for incident in incidents:
        title = incident["message"].split("\n", 1)[0]
        announced = "announced" if incident["notified_at"] else "not announced yet"
        lines.append(
            f"  {incident['kind']:<13}{incident['subject']:<30}opened {incident['opened_at']:%Y-%m-%d %H:%M} UTC, {announced}"
        )
        lines.append(f"    {title}")
    lines.append("")
    lines.append(f"Next scheduled run: {next_scheduled_run(instance, now)}")
    return "\n".join(lines)
