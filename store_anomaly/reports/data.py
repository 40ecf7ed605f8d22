"""What the HTML reports show, read from the warehouse in one bounded window (no Dagster import).

`load_report_data(connection, window_days=REPORT_WINDOW_DAYS, cache=None) -> ReportData` reads the last `window_days`
business dates up to the latest date of `store_daily_metrics` (default 13 months), each table filtered and
projected in SQL, so building the reports costs the same whatever the length of history: only the columns the
pages show (the control limits' from the SPC asset's covering index when the table has it), and of the weekly
peer comparison only the KPIs they chart (`PEER_KPIS`). A table that does not
exist yet reads as an empty frame; `store_spc_control_limits.anchor_value` is read when the table has it (the
anchored reference) and is null otherwise. With a `window_cache.ReportWindowCache` (the report asset's), only
the days that changed since the previous build are read from the warehouse, the others taken from that build's
files: a daily run reads four days instead of 13 months, and the rows are the same.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from store_anomaly.alerts.state import current_alert_state
from store_anomaly.date_ranges import contiguous_ranges
from store_anomaly.kpis.catalog import DQ_COLUMNS, DQ_EXCLUDED_TOTAL, KPI_COLUMNS
from store_anomaly.mysql import (
    in_own_session,
    index_names,
    query_frame_arrow,
    query_frame_streamed,
    read_concurrently,
    table_exists,
)
from store_anomaly.reports.window_cache import ReportWindowCache
from store_anomaly.spc import LIMITS_CHART_INDEX, LIMITS_KEY

# 13 months: a year of history plus the month before, so this month compares with the same month last year.
REPORT_WINDOW_DAYS = 396
# The KPIs whose weekly peer percentile a store page charts (the summary ranks stores by the first).
PEER_KPIS: tuple[str, ...] = ("revenue", "order_count", "aov")
# The control limits are most of the window (a year of 1,000 stores: 3.3M rows, 6.1 s as one statement from the
# table's rows, which the server runs on one core, the client converting as it arrives): they are read as this
# many consecutive date ranges at once, each in a read-only session of its own (2 cores, from the rows: 4 ranges
# 3.1 s, 6 2.8 s, 8 2.5 s; from the SPC asset's chart index, `spc.LIMITS_CHART_INDEX`: 1.8-1.9 s at 8,
# `benchmarks/report_limits_read.py`).
LIMITS_READ_PARTS = 8

METRICS_COLUMNS: dict[str, pl.DataType] = {
    "metric_date": pl.Date(),
    "shop_no": pl.String(),
    "shop_name": pl.String(),
    **{kpi: pl.Float64() for kpi in KPI_COLUMNS},
    DQ_EXCLUDED_TOTAL.column: pl.Int64(),
    **{column: pl.Int64() for column in DQ_COLUMNS},
}
LIMITS_COLUMNS: dict[str, pl.DataType] = {
    "metric_date": pl.Date(),
    "shop_no": pl.String(),
    "metric_name": pl.String(),
    "center_line": pl.Float64(),
    "ucl": pl.Float64(),
    "lcl": pl.Float64(),
    "anchor_value": pl.Float64(),
}
FLAGS_COLUMNS: dict[str, pl.DataType] = {
    "metric_date": pl.Date(),
    "shop_no": pl.String(),
    "metric_name": pl.String(),
    "rule": pl.String(),
    "severity": pl.String(),
    "observed_value": pl.Float64(),
    "detail": pl.String(),
}
HEALTH_COLUMNS: dict[str, pl.DataType] = {
    "metric_date": pl.Date(),
    "shop_no": pl.String(),
    "health_score": pl.Float64(),
    "grade": pl.String(),
    "worst_metric": pl.String(),
}
PEERS_COLUMNS: dict[str, pl.DataType] = {
    "week_start": pl.Date(),
    "shop_no": pl.String(),
    "metric_name": pl.String(),
    "value": pl.Float64(),
    "rank": pl.Int64(),
    "percentile": pl.Float64(),
    "vs_median_pct": pl.Float64(),
}


@dataclass(frozen=True)
class ReportData:
    """The window's rows of every table the reports draw (first..last inclusive; None when no data yet)."""

    first: date | None
    last: date | None
    metrics: pl.DataFrame
    limits: pl.DataFrame
    flags: pl.DataFrame
    health: pl.DataFrame
    peers: pl.DataFrame
    alerts: pl.DataFrame

    @property
    def stores(self) -> pl.DataFrame:
        """shop_no, shop_name of the stores with metrics on the latest business date (the in-scope stores)."""
        if self.last is None:
            return pl.DataFrame(schema={"shop_no": pl.String, "shop_name": pl.String})
        return (
            self.metrics.filter(pl.col("metric_date") == self.last)
            .select("shop_no", "shop_name")
            .unique("shop_no")
            .sort("shop_no")
        )


def _columns(cursor, table: str) -> set[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s",
        (table,),
    )
    return {row[0] for row in cursor.fetchall()}


def _read(
    cursor,
    table: str,
    schema: dict[str, pl.DataType],
    date_column: str,
    first: date,
    last: date,
    metric_names: tuple[str, ...] | None = None,
    index: tuple[str, tuple[str, ...]] | None = None,
):
    """The window's rows of `table` (of the KPIs `metric_names` only, when given), columns it lacks as nulls (an
    empty frame when the table is missing). `index`: (name, columns) of an index of the table holding every
    column read, read alone when the table has it (the server's planner prefers the primary key's range).

    Read through Arrow (`mysql.query_frame_arrow`): a year of 1,000 stores' control limits is 3.3M rows, about
    2 GB as Python tuples at once and several times slower through the driver. Its own session reads what is
    committed when it reads, not this connection's snapshot: the window's days are bounded by the last date
    read here, and each table's days are written atomically. A table lacking a column is read streamed."""
    if not table_exists(cursor, table):
        return pl.DataFrame(schema=schema)
    present = _columns(cursor, table)
    where, params = f"`{date_column}` BETWEEN %s AND %s", (first, last)
    if metric_names is not None:
        where += f" AND `metric_name` IN ({', '.join(['%s'] * len(metric_names))})"
        params += metric_names
    if present.issuperset(schema):
        covering = index is not None and set(schema) <= set(index[1]) and index[0] in index_names(cursor, table)
        return query_frame_arrow(cursor.connection, table, schema, where, params, index=index[0] if covering else None)
    select = ", ".join(f"`{name}`" if name in present else f"NULL AS `{name}`" for name in schema)
    return query_frame_streamed(cursor.connection, f"SELECT {select} FROM `{table}` WHERE {where}", params, schema)


def _read_own(connection, table: str, *args, **kwargs) -> pl.DataFrame:
    """`_read` through a read-only session of its own opened from `connection`'s URL (a session is never shared
    between threads)."""
    with connection.url.connect(read_only=True) as own, own.cursor() as cursor:
        return _read(cursor, table, *args, **kwargs)


def _range_reads(
    connection,
    table: str,
    schema: dict[str, pl.DataType],
    date_column: str,
    first: date,
    last: date,
    parts: int = 0,
    index: tuple[str, tuple[str, ...]] | None = None,
) -> list:
    """Reads (for `read_concurrently`) of [first, last] of `table` as `parts` (default LIMITS_READ_PARTS)
    consecutive date ranges, in date order, each through `_read_own` (from `index` when the table has it). Each
    range's days are written atomically, as for `_read`."""
    parts = parts or LIMITS_READ_PARTS
    days = (last - first).days + 1
    edges = [first + timedelta(days=days * part // parts) for part in range(parts + 1)]
    ranges = [(edges[n], edges[n + 1] - timedelta(days=1)) for n in range(parts) if edges[n] < edges[n + 1]]
    return [
        functools.partial(_read_own, connection, table, schema, date_column, lo, hi, index=index) for lo, hi in ranges
    ]


def _unique_by_key(cursor, table: str, key: tuple[str, ...]) -> bool:
    """Whether the table's primary key is made of columns of `key` (so no two rows share a `key`)."""
    cursor.execute(
        "SELECT column_name FROM information_schema.statistics "
        "WHERE table_schema = DATABASE() AND table_name = %s AND index_name = 'PRIMARY'",
        (table,),
    )
    primary = {row[0] for row in cursor.fetchall()}
    return bool(primary) and primary.issubset(key)


@dataclass(frozen=True)
class WindowTable:
    """A table the window reads: its rows of [first, last] by `date_column`, of the KPIs `kpis` (None: every row),
    from `index` when the table has it (holding every column read), a whole window in `parts` date ranges at
    once. `partition_column`: the date the table's partitions (and primary key) go by, when not `date_column`;
    `partition_offset_days` days after it (a week's peer comparison belongs to the Sunday that ends it): days
    are read again by it, on the primary key."""

    table: str
    columns: dict[str, pl.DataType]
    date_column: str
    kpis: tuple[str, ...] | None = None
    index: tuple[str, tuple[str, ...]] | None = None
    parts: int = 1
    partition_column: str | None = None
    partition_offset_days: int = 0


# ReportData's fields read from the warehouse's tables, in the order they are read.
WINDOW_TABLES: dict[str, WindowTable] = {
    "metrics": WindowTable("store_daily_metrics", METRICS_COLUMNS, "metric_date"),
    "flags": WindowTable("store_anomaly_flags", FLAGS_COLUMNS, "metric_date"),
    "health": WindowTable("store_health_scores", HEALTH_COLUMNS, "metric_date"),
    "peers": WindowTable(
        "store_peer_comparison", PEERS_COLUMNS, "week_start", PEER_KPIS, None, 1, "week_end", partition_offset_days=6
    ),
    "limits": WindowTable(
        "store_spc_control_limits", LIMITS_COLUMNS, "metric_date", index=LIMITS_CHART_INDEX, parts=LIMITS_READ_PARTS
    ),
}


def _read_days(connection, spec: WindowTable, first: date, last: date) -> pl.DataFrame:
    """`spec`'s rows dated [first, last], through its partition column when it has one."""
    if spec.partition_column is None:
        return _read_own(connection, spec.table, spec.columns, spec.date_column, first, last, spec.kpis, spec.index)
    offset = timedelta(days=spec.partition_offset_days)
    rows = _read_own(
        connection, spec.table, spec.columns, spec.partition_column, first + offset, last + offset, spec.kpis
    )
    return rows.filter(pl.col(spec.date_column).is_between(first, last))


def _window_reads(connection, first: date, last: date, days: dict[str, set[date]] | None) -> list[tuple[str, object]]:
    """(field, read) of every table: the whole [first, last] (in `parts` date ranges at once) when `days` is None,
    else the contiguous ranges of each table's `days`."""
    reads = []
    for name, spec in WINDOW_TABLES.items():
        if days is None and spec.parts > 1:
            ranges = _range_reads(
                connection, spec.table, spec.columns, spec.date_column, first, last, spec.parts, spec.index
            )
            reads += [(name, read) for read in ranges]
            continue
        spans = [(first, last)] if days is None else contiguous_ranges(days[name])
        reads += [(name, functools.partial(_read_days, connection, spec, lo, hi)) for lo, hi in spans]
    return reads


def _in_date_order(kept: pl.DataFrame, read: list[pl.DataFrame], date_column: str) -> pl.DataFrame:
    """The cached rows of the days kept and the rows read of the others, in date order, each day's rows in the
    order they were read (a day is wholly one or the other, so a stable sort on the date alone gives the order a
    read of the whole window gives)."""
    frame = pl.concat([kept, *read], how="vertical")
    read_days = [part[date_column].min() for part in read if part.height]
    if read_days and kept.height and kept[date_column].max() > min(read_days):
        frame = frame.sort(date_column, maintain_order=True)
    return frame


def load_report_data(
    connection, window_days: int = REPORT_WINDOW_DAYS, cache: ReportWindowCache | None = None
) -> ReportData:
    """The bounded window of every reported table; see the module docstring. With `cache`, the days it holds
    unchanged are taken from it and only the others read (`window_cache`), and the window is saved into it."""
    with connection.cursor() as cursor:
        last = None
        if table_exists(cursor, "store_daily_metrics"):
            cursor.execute("SELECT MAX(metric_date) FROM store_daily_metrics")
            last = cursor.fetchone()[0]
        if last is None:
            empty = {name: pl.DataFrame(schema=spec.columns) for name, spec in WINDOW_TABLES.items()}
            return ReportData(None, None, alerts=current_alert_state(connection), **empty)
        first = last - timedelta(days=window_days - 1)
        tables = {name: (spec.columns, spec.date_column) for name, spec in WINDOW_TABLES.items()}
        reread = cache.plan(tables, first, last) if cache is not None else None
        while True:
            # every read at once (the window's days the cache holds unchanged among them), each in a session of its own
            reads = _window_reads(connection, first, last, reread)
            kept_reads = (
                [functools.partial(cache.read_kept, name, first, last) for name in tables] if reread is not None else []
            )
            alerts, *frames_read = read_concurrently(
                [
                    functools.partial(in_own_session, connection, current_alert_state),
                    *[read for _, read in reads],
                    *kept_reads,
                ]
            )
            kept = dict(zip(tables, frames_read[len(reads) :], strict=True)) if reread is not None else None
            if kept is None or all(frame is not None for frame in kept.values()):
                break
            reread = cache.plan_whole_window()  # a cached file could not be read: the whole window instead
        frames: dict[str, list[pl.DataFrame]] = {name: [] for name in WINDOW_TABLES}
        for (name, _), frame in zip(reads, frames_read[: len(reads)], strict=True):
            frames[name].append(frame)
        if kept is None:
            window = {name: pl.concat(parts, how="vertical") for name, parts in frames.items()}
        else:
            window = {name: _in_date_order(kept[name], frames[name], tables[name][1]) for name in WINDOW_TABLES}
        del frames, kept, frames_read
        # a year of 1,000 stores' limits is 4.4M rows: deduplicating them cost seconds and a copy of them, for
        # nothing where the table's primary key (the one the SPC asset declares) already rules duplicates out
        limits_unique = _unique_by_key(cursor, "store_spc_control_limits", LIMITS_KEY)
    if cache is not None:
        try:
            cache.save(window, first, last)
        except OSError as error:  # the reports do not depend on it: the next build reads what it cannot take
            logging.getLogger(__name__).warning(f"the reports' window cache in {cache.folder} was not saved: {error}")
    alerts = alerts.filter((pl.col("status") == "open") | (pl.col("last_seen_on") >= first))
    metrics, limits = window["metrics"], window["limits"]
    return ReportData(
        first=metrics["metric_date"].min() or first,
        last=last,
        metrics=metrics,
        limits=limits if limits_unique else limits.unique(list(LIMITS_KEY), keep="first"),
        flags=window["flags"],
        health=window["health"],
        peers=window["peers"],
        alerts=alerts,
    )
