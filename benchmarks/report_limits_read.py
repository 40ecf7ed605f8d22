"""What the reads of the control limits cost from the SPC asset's chart index and from the table's rows.

    .venv/bin/python benchmarks/report_limits_read.py [--database scale_warehouse] [--repeats 3] [--anchor-days 54]

Reads the warehouse `benchmarks/scale.py --keep` leaves (database `--database` on the server of
STORE_ANOMALY_TEST_MYSQL_URL, default mysql://root@127.0.0.1:3306/test): the report window of
`store_spc_control_limits` as `reports.data.load_report_data` reads it (LIMITS_READ_PARTS date ranges at once;
the other tables it reads beside them are left out), once through the covering index `spc.LIMITS_CHART_INDEX` and once from the table's rows (the index name replaced
by one the table lacks, as on a warehouse written before the index was declared). Prints the table's and the
index's sizes, the wall seconds of each read (best of `--repeats`, alternated) and checks both read the same rows.
The same for the alerts' read of the anchored limit rows (`alerts.state.anchored_references`) of the last
`--anchor-days` business dates (54: how far back the kept 1,000-store warehouse's daily run re-derives its alerts).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

import polars as pl

from store_anomaly.alerts import state as alert_state
from store_anomaly.mysql import MySQLUrl, read_concurrently
from store_anomaly.reports import data as report_data
from store_anomaly.spc import LIMITS_CHART_INDEX

SERVER = os.environ.get("STORE_ANOMALY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
KEY = ["metric_date", "shop_no", "metric_name"]


def timed_limits(url: MySQLUrl, index_name: str):
    """The window's limits as `load_report_data` reads them (its other tables left out), and the seconds."""
    with url.connect(read_only=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT MAX(metric_date) FROM store_daily_metrics")
        last = cursor.fetchone()[0]
        first = last - timedelta(days=report_data.REPORT_WINDOW_DAYS - 1)
        reads = report_data._range_reads(
            connection,
            "store_spc_control_limits",
            report_data.LIMITS_COLUMNS,
            "metric_date",
            first,
            last,
            index=(index_name, LIMITS_CHART_INDEX[1]),
        )
        began = time.perf_counter()
        limits = pl.concat(read_concurrently(reads))
    return time.perf_counter() - began, limits


def timed_anchors(url: MySQLUrl, index_name: str, days: int):
    """The anchored limit rows of the last `days` business dates as the alerts read them, and the seconds."""
    alert_state.LIMITS_CHART_INDEX = (index_name, LIMITS_CHART_INDEX[1])
    with url.connect(read_only=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT MAX(metric_date) FROM store_daily_metrics")
        since = cursor.fetchone()[0] - timedelta(days=days - 1)
        began = time.perf_counter()
        anchors = alert_state.anchored_references(connection, since=since)
    return time.perf_counter() - began, anchors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="scale_warehouse")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--anchor-days", type=int, default=54)
    args = parser.parse_args()
    url = MySQLUrl.parse(SERVER).with_database(args.database)
    with url.connect(read_only=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT data_length, index_length, table_rows FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = 'store_spc_control_limits'"
        )
        data_bytes, index_bytes, rows = cursor.fetchone()
    print(
        f"store_spc_control_limits: ~{rows:,} rows, {data_bytes / 2**20:,.0f} MiB of rows, "
        f"{index_bytes / 2**20:,.0f} MiB of secondary indexes"
    )
    best = {"chart index": float("inf"), "table rows": float("inf")}
    frames = {}
    for _ in range(args.repeats):
        for label, name in (("chart index", LIMITS_CHART_INDEX[0]), ("table rows", "no_such_index")):
            seconds, frames[label] = timed_limits(url, name)
            best[label] = min(best[label], seconds)
    for label, seconds in best.items():
        print(f"  the report window's limits ({label}): {seconds:6.2f} s, {frames[label].height:,} rows")
    same = frames["chart index"].sort(KEY).equals(frames["table rows"].sort(KEY))
    print(f"  same rows: {same}")
    best = dict.fromkeys(best, float("inf"))
    for _ in range(args.repeats):
        for label, name in (("chart index", LIMITS_CHART_INDEX[0]), ("table rows", "no_such_index")):
            seconds, frames[label] = timed_anchors(url, name, args.anchor_days)
            best[label] = min(best[label], seconds)
    for label, seconds in best.items():
        print(
            f"  the anchored rows of the last {args.anchor_days} days ({label}): {seconds:6.2f} s, "
            f"{frames[label].height:,} rows"
        )
    same_anchors = frames["chart index"].sort(KEY).equals(frames["table rows"].sort(KEY))
    print(f"  same rows: {same_anchors}")
    return 0 if same and same_anchors else 1


if __name__ == "__main__":
    raise SystemExit(main())
