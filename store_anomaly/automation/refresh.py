"""When the warehouse refreshes: a daily schedule with a late-data window, and a sensor for late rows.

Both request single runs over a range of business dates (the range tags of a single-run backfill), so a late
week is one vectorized pass, not seven runs.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)
from dagster_shared.serdes import deserialize_value, serialize_value

from store_anomaly.partitions import PARTITIONS_TIME_ZONE, daily_partitions, partition_range_tags
from store_anomaly.resources import SourceDatabase

# Rows may arrive late (offline tills, corrected shifts): each daily run also recomputes the days before.
LATE_DATA_DAYS = 3
# The table and event-time column of each fact source the sensor watches, by resource key.
WATCHED_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "sales_order_source": (("t_trade", "create_time"),),
    "opproduction_source": (("t_production_order", "start_time"),),
    "opqualitycontrol_source": (("t_task_form", "task_time"), ("t_expiry_management", "record_time")),
    "opempefficiency_source": (("t_attendance", "clock_in"),),
}
# A UTC calendar date holds instants of the local dates one day either side of it, whatever the zone.
UTC_DATE_SPREAD = timedelta(days=1)


def daily_refresh_range(scheduled_for: datetime, first_partition: date) -> tuple[date, date]:
    """Yesterday (in the partitions' zone) and the LATE_DATA_DAYS before it."""
    yesterday = scheduled_for.astimezone(ZoneInfo(PARTITIONS_TIME_ZONE)).date() - timedelta(days=1)
    return max(first_partition, yesterday - timedelta(days=LATE_DATA_DAYS)), yesterday


def _first_partition() -> date:
    return datetime.strptime(daily_partitions.get_first_partition_key(), "%Y-%m-%d").date()


# Every warehouse asset for a range of business dates, as one run (the run log is written by sensors instead).
daily_refresh_job = define_asset_job(
    "daily_refresh_job",
    selection=AssetSelection.all(),
    description="Materializes every warehouse asset for a range of business dates in one run.",
)


@schedule(
    job=daily_refresh_job,
    cron_schedule="0 7 * * *",
    execution_timezone=PARTITIONS_TIME_ZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description=f"07:00 New York: yesterday's business date and the {LATE_DATA_DAYS} days before, as one run.",
)
def daily_refresh_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    start, end = daily_refresh_range(context.scheduled_execution_time, _first_partition())
    return RunRequest(run_key=f"daily-{end.isoformat()}", tags=partition_range_tags(start, end))


def contiguous_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days folded into inclusive [start, end] runs of consecutive dates."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def business_dates_touched(utc_dates: Iterable[date]) -> set[date]:
    return {day + offset for day in utc_dates for offset in (-UTC_DATE_SPREAD, timedelta(0), UTC_DATE_SPREAD)}


@sensor(
    job=daily_refresh_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Watches the fact sources for rows inserted since the last look (by primary key) whose business date "
        "is already materialized, and requests one run from the first such date to the latest materialized "
        "one (later days' baselines depend on it)."
    ),
)
def late_source_rows_sensor(
    context: SensorEvaluationContext,
    sales_order_source: SourceDatabase,
    opproduction_source: SourceDatabase,
    opqualitycontrol_source: SourceDatabase,
    opempefficiency_source: SourceDatabase,
):
    sources = {
        "sales_order_source": sales_order_source,
        "opproduction_source": opproduction_source,
        "opqualitycontrol_source": opqualitycontrol_source,
        "opempefficiency_source": opempefficiency_source,
    }
    seen: dict[str, int] = deserialize_value(context.cursor, dict) if context.cursor else {}
    new_seen = dict(seen)
    arrived_utc_dates: set[date] = set()
    for key, tables in WATCHED_TABLES.items():
        with sources[key].connect() as connection, connection.cursor() as cursor:
            for table, timestamp in tables:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                max_id = int(cursor.fetchone()[0])
                if table in seen and max_id > seen[table]:
                    cursor.execute(
                        f"SELECT DISTINCT DATE({timestamp}) FROM {table} WHERE id > %s AND id <= %s",
                        (seen[table], max_id),
                    )
                    arrived_utc_dates.update(row[0] for row in cursor.fetchall())
                new_seen[table] = max_id
    cursor_value = serialize_value(new_seen)
    if not arrived_utc_dates:
        return SensorResult(skip_reason=SkipReason("no new source rows"), cursor=cursor_value)
    materialized = {
        datetime.strptime(key, "%Y-%m-%d").date()
        for key in context.instance.get_materialized_partitions(AssetKey("store_daily_metrics"))
    }
    late = business_dates_touched(arrived_utc_dates) & materialized
    if not late:
        return SensorResult(
            skip_reason=SkipReason("new rows only for days not yet materialized"), cursor=cursor_value
        )
    # Later days depend on the changed ones (SPC baselines, weekly peers, carried QC scores): one run
    # re-computes from the first touched day to the latest materialized day.
    start, end = min(late), max(materialized)
    context.log.info(
        f"late rows touch materialized business dates {contiguous_ranges(late)}; re-running {start}..{end}"
    )
    request = RunRequest(run_key=f"late-rows-{start}-{end}-{cursor_value}", tags=partition_range_tags(start, end))
    return SensorResult(run_requests=[request], cursor=cursor_value)
