"""What each source holds for each recent business day, read with aggregate queries on the source.

An observation of a dated source is, per table, department and store-local business date: the row count, the
latest event time and an order-free checksum of the contract columns. Any insert, update (a refund) or delete
of a row of that day changes it; raw rows never leave the source. `data_versions` folds it into one readable
text per business date (what Dagster records as the source partition's data version), and the late-feed and
gap rules of `sources.feeds` read the same frame, so the freshness view and the KPI assets agree.

The store master has no business date: its observation is one version of the whole master (row counts and
checksums of t_shop and t_shop_dept), since scope applies the current master to every date.

Plain functions over a database with `fetch_frame` (a `SourceDatabase`): the Dagster observation assets, the
freshness check and the CLI all call these.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import polars as pl

from store_anomaly.sources.extracts import TRADE_ITEMS, DateScope, fetch_parts_concurrently
from store_anomaly.sources.schema import REQUIRED_COLUMNS

# How many business dates back from each anchor (the latest complete business date, the latest materialized one,
# a run's last one) the sources are observed: late rows arrive within days, as for the late-rows sensor.
OBSERVED_DAYS = 35

# Per dated source: (table, event-time column that dates a row). An item is dated by its trade.
DATED_SOURCE_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "sales_order": (("t_trade", "create_time"), ("t_trade_item", "create_time")),
    "opproduction": (("t_production_order", "start_time"),),
    "opqualitycontrol": (("t_task_form", "task_time"), ("t_expiry_management", "record_time")),
    "opempefficiency": (("t_attendance", "clock_in"),),
}

OBSERVATION_SCHEMA = {
    "table": pl.String,
    "dept_id": pl.Int64,
    "business_date": pl.Date,
    "rows": pl.Int64,
    "latest": pl.Datetime,
    "checksum": pl.Int64,
}


def _row_text(alias: str, table: str) -> str:
    """One row's contract columns (its key first) as text, NULLs included."""
    key = "dept_id" if table == "t_shop_dept" else "id"
    columns = [key, *(c for c in REQUIRED_COLUMNS_OF_TABLE[table] if c != key)]
    return "CONCAT_WS('|', " + ", ".join(f"COALESCE({alias}.{c}, '-')" for c in columns) + ")"


REQUIRED_COLUMNS_OF_TABLE = {
    table: columns for tables in REQUIRED_COLUMNS.values() for table, columns in tables.items()
}


def observation_sql(table: str, timestamp: str, scope: DateScope) -> str:
    """Per department and business date of `scope`: rows, latest event time (UTC), BIT_XOR of the rows' CRC32.

    Parameters: `scope.params()`. Scans the UTC window by primary key within the window's id range (see
    `sources.extracts`); rows without a department are dated in the default zone and kept (a NULL dept_id
    group)."""
    if table == "t_trade_item":
        rows, joined = "i", TRADE_ITEMS
        ids = f"{scope.item_id_range('i')} AND {scope.id_range('t_trade', timestamp)}"
    else:
        rows, joined, ids = "t", f"{table} t", scope.id_range(table, timestamp)
    return (
        f"SELECT '{table}', {scope.dept()} AS dept, {scope.local_date('t.' + timestamp)} AS business_date, "
        f"COUNT(*), MAX(t.{timestamp}), BIT_XOR(CRC32({_row_text(rows, table)})) FROM {joined} "
        f"WHERE {ids} AND t.{timestamp} >= %s AND t.{timestamp} < %s "
        "GROUP BY dept, business_date HAVING business_date BETWEEN %s AND %s"
    )


def observe_source(database, source: str, scope: DateScope) -> pl.DataFrame:
    """The observation of a dated source over the business dates of `scope` (see OBSERVATION_SCHEMA)."""
    frames = fetch_parts_concurrently(  # the tables at once (sales: trades and items)
        [
            (
                database,
                lambda part, table=table, timestamp=timestamp: observation_sql(table, timestamp, part),
                OBSERVATION_SCHEMA,
            )
            for table, timestamp in DATED_SOURCE_TABLES[source]
        ],
        scope,
    )
    return pl.concat(frames)


def observe_source_ranges(database, source: str, scopes: Iterable[DateScope]) -> pl.DataFrame:
    """`observe_source` over several date scopes (contiguous ranges), one query per table and range."""
    frames = [observe_source(database, source, scope) for scope in scopes]
    return pl.concat(frames) if frames else pl.DataFrame(schema=OBSERVATION_SCHEMA)


def daily_rows(observation: pl.DataFrame, table: str, name: str = "source_rows") -> pl.DataFrame:
    """(business_date, dept_id, `name`) of one table: the shape `sources.feeds` reads."""
    return observation.filter(pl.col("table") == table).select("business_date", "dept_id", pl.col("rows").alias(name))


def data_versions(source: str, observation: pl.DataFrame, dates: Iterable[date]) -> dict[date, str]:
    """One data version per business date: per table, rows, latest event time and checksum ("0 rows" for a
    table with none that day), e.g. "t_trade 812 rows, latest 2025-11-03 04:59:10 UTC, checksum 3fa2c1d0"."""
    per_day = observation.group_by("table", "business_date").agg(
        pl.col("rows").sum(), pl.col("latest").max(), pl.col("checksum").bitwise_xor()
    )
    found = {(row["table"], row["business_date"]): row for row in per_day.iter_rows(named=True)}
    versions = {}
    for day in sorted(set(dates)):
        parts = []
        for table, _ in DATED_SOURCE_TABLES[source]:
            row = found.get((table, day))
            if row is None or not row["rows"]:
                parts.append(f"{table} 0 rows")
            else:
                parts.append(
                    f"{table} {row['rows']} rows, latest {row['latest']:%Y-%m-%d %H:%M:%S} UTC, "
                    f"checksum {row['checksum'] & 0xFFFFFFFF:08x}"
                )
        versions[day] = "; ".join(parts)
    return versions


def store_master_sql() -> str:
    """Row count and checksum of each store-master table, one row per table."""
    return " UNION ALL ".join(
        f"SELECT '{table}', COUNT(*), COALESCE(BIT_XOR(CRC32({_row_text('t', table)})), 0) FROM {table} t"
        for table in REQUIRED_COLUMNS["opshop"]
    )


def store_master_version(database) -> str:
    """The store master's data version, e.g. "t_shop 4 rows, checksum 0a1b2c3d; t_shop_dept 4 rows, ..."."""
    frame = database.fetch_frame(store_master_sql(), None, {"table": pl.String, "rows": pl.Int64, "checksum": pl.Int64})
    return "; ".join(
        f"{table} {rows} rows, checksum {checksum & 0xFFFFFFFF:08x}" for table, rows, checksum in frame.iter_rows()
    )


def observed_dates(anchors: Iterable[date | None], first: date, last: date, days: int = OBSERVED_DAYS) -> list[date]:
    """The `days` business dates ending at each anchor, within the partitions [first, last], sorted."""
    observed: set[date] = set()
    for anchor in anchors:
        if anchor is None:
            continue
        end = min(anchor, last)
        observed.update(end - timedelta(days=n) for n in range(days) if end - timedelta(days=n) >= first)
    return sorted(observed)
