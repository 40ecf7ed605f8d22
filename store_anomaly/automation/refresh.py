"""When the warehouse refreshes: a daily schedule with a late-data window, and a sensor for late rows.

Both request single runs over a range of business dates (the range tags of a single-run backfill), so a late
week is one vectorized pass, not seven runs.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
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
    in_process_executor,
    schedule,
    sensor,
)

from store_anomaly.date_ranges import contiguous_ranges
from store_anomaly.kpis.current import data_is_current
from store_anomaly.partitions import PARTITIONS_TIME_ZONE, daily_partitions, partition_range_tags
from store_anomaly.resources import SourceDatabase
from store_anomaly.sources.observed import OBSERVED_SOURCE_KEYS
from store_anomaly.sources.schema import REQUIRED_COLUMNS

# Rows may arrive late (offline tills, corrected shifts): each daily run also recomputes the days before.
LATE_DATA_DAYS = 3
# The tables of each fact source the sensor watches, by resource key, with the event-time column that dates
# a row (an item is dated by its trade).
WATCHED_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "sales_order_source": (("t_trade", "create_time"), ("t_trade_item", "create_time")),
    "opproduction_source": (("t_production_order", "start_time"),),
    "opqualitycontrol_source": (("t_task_form", "task_time"), ("t_expiry_management", "record_time")),
    "opempefficiency_source": (("t_attendance", "clock_in"),),
}
# How far back (UTC days before the latest materialized business date) the sensor compares the sources with
# what it saw: a row inserted, updated (a refund) or deleted in that window is noticed, whatever its id and
# whenever it commits. Older changes are for a backfill (and the recent-days reconciliation check).
LATE_ROWS_WINDOW_DAYS = 35
CURSOR_FORMAT = 2
# A UTC calendar date holds instants of the local dates one day either side of it, whatever the zone.
UTC_DATE_SPREAD = timedelta(days=1)


def daily_refresh_range(scheduled_for: datetime, first_partition: date) -> tuple[date, date]:
    """Yesterday (in the partitions' zone) and the LATE_DATA_DAYS before it."""
    yesterday = scheduled_for.astimezone(ZoneInfo(PARTITIONS_TIME_ZONE)).date() - timedelta(days=1)
    return max(first_partition, yesterday - timedelta(days=LATE_DATA_DAYS)), yesterday


def _first_partition() -> date:
    return datetime.strptime(daily_partitions.get_first_partition_key(), "%Y-%m-%d").date()


# Every warehouse asset for a range of business dates, as one run (the run log is written by sensors instead),
# after observing the source databases: what the run reads is recorded against the sources' versions.
# data_is_current runs with the hourly observation (automation/observations.py), on the latest business dates.
# Its steps run one after the other in the run's own process: each is a vectorized pass over the range, and
# Dagster's default executor would start a Python interpreter (importing Dagster, polars and the platform)
# for each of its ~20 steps, which cost more than the daily window's work.
daily_refresh_job = define_asset_job(
    "daily_refresh_job",
    selection=(AssetSelection.assets(*OBSERVED_SOURCE_KEYS) | AssetSelection.all())
    - AssetSelection.checks(data_is_current),
    description="Observes the sources, then materializes every warehouse asset for a range of business dates "
    "in one run.",
    executor_def=in_process_executor,
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


def business_dates_touched(utc_dates: Iterable[date]) -> set[date]:
    return {day + offset for day in utc_dates for offset in (-UTC_DATE_SPREAD, timedelta(0), UTC_DATE_SPREAD)}


def fingerprint_sql(table: str, timestamp: str) -> str:
    """Per UTC day of the event time, from `%s` on: row count and an order-free checksum of the columns the
    platform reads. Any insert, update or delete of a row that day changes the pair."""
    columns = ["id", *(c for c in REQUIRED_COLUMNS_OF_TABLE[table] if c != "id")]
    row = "CONCAT_WS('|', " + ", ".join(f"COALESCE(r.{c}, '-')" for c in columns) + ")"
    if table == "t_trade_item":
        source, dated = "t_trade_item r JOIN t_trade t ON t.id = r.trade_id", f"t.{timestamp}"
    else:
        source, dated = f"{table} r", f"r.{timestamp}"
    return (
        f"SELECT DATE({dated}), COUNT(*), BIT_XOR(CRC32({row})) FROM {source} "
        f"WHERE {dated} >= %s GROUP BY DATE({dated})"
    )


REQUIRED_COLUMNS_OF_TABLE = {
    table: columns for tables in REQUIRED_COLUMNS.values() for table, columns in tables.items()
}


def read_fingerprints(sources: Mapping[str, SourceDatabase], since: date) -> dict[str, dict[str, str]]:
    """table -> ISO UTC day -> "count:checksum", for every watched table, days from `since` on."""
    fingerprints: dict[str, dict[str, str]] = {}
    for key, tables in WATCHED_TABLES.items():
        with sources[key].connect() as connection, connection.cursor() as cursor:
            for table, timestamp in tables:
                with sources[key].reading(table):
                    cursor.execute(fingerprint_sql(table, timestamp), (since,))
                    rows = cursor.fetchall()
                fingerprints[table] = {day.isoformat(): f"{count}:{checksum}" for day, count, checksum in rows}
    return fingerprints


def changed_days(
    before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]], since: date
) -> set[date]:
    """UTC days from `since` on whose fingerprint differs between two looks, in any table (new, changed or
    emptied days alike)."""
    changed: set[date] = set()
    for table in set(before) | set(after):
        old, new = before.get(table, {}), after.get(table, {})
        changed.update(date.fromisoformat(day) for day in set(old) | set(new) if old.get(day) != new.get(day))
    return {day for day in changed if day >= since}


def days_after_legacy_ids(sources: Mapping[str, SourceDatabase], seen_ids: Mapping[str, int]) -> set[date]:
    """UTC days of rows with ids above those an older sensor version recorded (its cursor: table -> MAX(id)),
    read once when the sensor first finds such a cursor, so the switch misses no row it had not yet seen."""
    days: set[date] = set()
    for key, tables in WATCHED_TABLES.items():
        with sources[key].connect() as connection, connection.cursor() as cursor:
            for table, timestamp in tables:
                if table not in seen_ids or table == "t_trade_item":
                    continue
                with sources[key].reading(table):
                    cursor.execute(
                        f"SELECT DISTINCT DATE({timestamp}) FROM {table} WHERE id > %s", (int(seen_ids[table]),)
                    )
                    days.update(row[0] for row in cursor.fetchall())
    return days


def parse_cursor(cursor: str | None) -> tuple[dict | None, dict[str, int] | None]:
    """(the JSON cursor of this version, or the table -> MAX(id) mapping of the version before it)."""
    if not cursor:
        return None, None
    value = json.loads(cursor)
    if isinstance(value, dict) and value.get("format") == CURSOR_FORMAT:
        return value, None
    if isinstance(value, dict) and all(isinstance(v, int) for v in value.values()):
        return None, value
    raise ValueError(f"late_source_rows_sensor: unreadable cursor {cursor[:80]!r}; reset it in the UI")


@sensor(
    job=daily_refresh_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Compares each fact source (t_trade, t_trade_item, production, quality, attendance) with what it saw "
        f"last time: row count and checksum per UTC day over the {LATE_ROWS_WINDOW_DAYS} days before the "
        "latest materialized date, so late inserts, updates (refunds) and deletes are all noticed whatever "
        "their ids. When a changed day is materialized, requests one run from it to the latest materialized "
        "date (later days' baselines depend on it)."
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
    previous, legacy_ids = parse_cursor(context.cursor)
    materialized = {
        date.fromisoformat(key) for key in context.instance.get_materialized_partitions(AssetKey("store_daily_metrics"))
    }
    if not materialized:
        return SensorResult(skip_reason=SkipReason("nothing materialized yet"), cursor=context.cursor)
    since = max(materialized) - timedelta(days=LATE_ROWS_WINDOW_DAYS)
    fingerprints = read_fingerprints(sources, since)
    cursor_value = json.dumps(
        {"format": CURSOR_FORMAT, "since": since.isoformat(), "fingerprints": fingerprints}, sort_keys=True
    )
    if legacy_ids is not None:
        arrived = days_after_legacy_ids(sources, legacy_ids)
    elif previous is not None:
        compared_from = max(since, date.fromisoformat(previous["since"]))
        arrived = changed_days(previous["fingerprints"], fingerprints, compared_from)
    else:
        return SensorResult(skip_reason=SkipReason("first look: sources recorded"), cursor=cursor_value)
    if not arrived:
        return SensorResult(skip_reason=SkipReason("no source rows changed"), cursor=cursor_value)
    late = business_dates_touched(arrived) & materialized
    if not late:
        return SensorResult(
            skip_reason=SkipReason("source rows changed only for days not yet materialized"), cursor=cursor_value
        )
    # Later days depend on the changed ones (SPC baselines, weekly peers, carried QC scores): one run
    # re-computes from the first touched day to the latest materialized day.
    start, end = min(late), max(materialized)
    context.log.info(
        f"source rows changed on materialized business dates {contiguous_ranges(late)}; re-running {start}..{end}"
    )
    run_key = f"late-rows-{start}-{end}-{hashlib.sha1(cursor_value.encode()).hexdigest()[:12]}"
    return SensorResult(
        run_requests=[RunRequest(run_key=run_key, tags=partition_range_tags(start, end))], cursor=cursor_value
    )
