"""Store-local business dates for UTC timestamps, computed inside the source database.

Sources store UTC; a business date is the store-local date. MySQL's CONVERT_TZ needs the server's time zone
tables, which production sources often lack, so the UTC offsets in force (with their DST changes) are
computed here with the IANA database and handed to SQL as a CASE expression over UTC instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

# The widest offsets on Earth: local dates [start, end] lie within these UTC bounds in every zone.
MAX_EAST = timedelta(hours=14)
MAX_WEST = timedelta(hours=12)


@dataclass(frozen=True)
class OffsetInterval:
    """A UTC interval [utc_from, utc_to) during which `time_zone` is `offset_seconds` from UTC."""

    utc_from: datetime
    utc_to: datetime
    offset_seconds: int


def is_valid_time_zone(name: str | None) -> bool:
    """Whether both the IANA database of Python and polars (which computes the offsets) know the zone.

    A few names pass one and not the other ('localtime', 'Factory', 'posixrules'): such a store is out of
    scope with reason invalid_time_zone rather than failing every extract."""
    if not name:
        return False
    try:
        ZoneInfo(name)
        pl.Series([datetime(2000, 1, 1)]).dt.replace_time_zone(name)
    except (ZoneInfoNotFoundError, ValueError, pl.exceptions.ComputeError):
        return False
    return True


def utc_window(start: date, end: date) -> tuple[datetime, datetime]:
    """UTC bounds [from, to) that contain every instant of local dates [start, end] in any zone."""
    return (
        datetime.combine(start, datetime.min.time()) - MAX_EAST,
        datetime.combine(end + timedelta(days=1), datetime.min.time()) + MAX_WEST,
    )


def offset_intervals(time_zone: str, utc_from: datetime, utc_to: datetime) -> list[OffsetInterval]:
    """The zone's UTC offsets over [utc_from, utc_to), one interval per offset change.

    Sampled every 15 minutes, which catches every DST rule in the IANA database (all change on a quarter hour).
    """
    instants = pl.datetime_range(utc_from, utc_to, "15m", time_zone="UTC", eager=True, closed="left")
    frame = pl.DataFrame({"utc": instants}).with_columns(
        offset=(
            pl.col("utc").dt.convert_time_zone(time_zone).dt.replace_time_zone(None)
            - pl.col("utc").dt.replace_time_zone(None)
        ).dt.total_seconds()
    )
    changes = frame.filter(pl.col("offset").ne_missing(pl.col("offset").shift(1))).with_columns(
        utc_to=pl.col("utc").shift(-1).fill_null(pl.lit(utc_to).dt.replace_time_zone("UTC"))
    )
    return [
        OffsetInterval(row["utc"].replace(tzinfo=None), row["utc_to"].replace(tzinfo=None), int(row["offset"]))
        for row in changes.iter_rows(named=True)
    ]


def _offset_case(timestamp_sql: str, intervals: list[OffsetInterval]) -> str:
    if len(intervals) == 1:
        return str(intervals[0].offset_seconds)
    whens = " ".join(
        f"WHEN {timestamp_sql} < '{interval.utc_to:%Y-%m-%d %H:%M:%S}' THEN {interval.offset_seconds}"
        for interval in intervals[:-1]
    )
    return f"CASE {whens} ELSE {intervals[-1].offset_seconds} END"


def local_date_sql(
    timestamp_sql: str,
    dept_sql: str,
    dept_time_zones: dict[int, str],
    default_time_zone: str,
    utc_from: datetime,
    utc_to: datetime,
) -> str:
    """A SQL expression giving the store-local DATE of a UTC `timestamp_sql` for the row's `dept_sql`.

    Departments missing from `dept_time_zones` (orphans) are dated in `default_time_zone`, so that they can
    still be counted per day.
    """
    depts_by_zone: dict[str, list[int]] = {}
    for dept_id, zone in sorted(dept_time_zones.items()):
        depts_by_zone.setdefault(zone, []).append(int(dept_id))
    default_case = _offset_case(timestamp_sql, offset_intervals(default_time_zone, utc_from, utc_to))
    branches = [
        f"WHEN {dept_sql} IN ({', '.join(map(str, depts))}) THEN "
        f"{_offset_case(timestamp_sql, offset_intervals(zone, utc_from, utc_to))}"
        for zone, depts in depts_by_zone.items()
        if zone != default_time_zone
    ]
    offset = f"CASE {' '.join(branches)} ELSE {default_case} END" if branches else default_case
    return f"DATE(DATE_ADD({timestamp_sql}, INTERVAL ({offset}) SECOND))"
