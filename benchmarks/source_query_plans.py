"""What three source queries of the platform cost against the forms they replaced, on a chain's sources.

    .venv/bin/python benchmarks/source_query_plans.py [--prefix scale_] [--first 2025-01-01 --last 2025-12-31]

Reads the sources `benchmarks/scale.py --keep` leaves (databases `<prefix>sales_order`, ... on the server of
STORE_ANOMALY_TEST_MYSQL_URL, default mysql://root@127.0.0.1:3306/test). Prints the wall seconds of each query
(best of `--repeats`) and checks that both forms return the same rows:

- each store's first trade (`sources.extracts.first_trades_sql`, read by the SPC step): one loose index scan of
  every department, against a list of the stores' departments (`dept_id IN (...)`) of 999 and of 1,000 values;
  at 1,000 MariaDB's `in_predicate_conversion_threshold` turns the list into a join;
- the rows no partition can hold (`sources.extracts.unattributable_sql`, per dated table, for the range
  [--first, --last]): four subqueries, against the four conditions counted in one scan of the range;
- the items whose trade does not exist (`sources.extracts.orphan_items_sql`, for the same range): the range's
  items less those joined to its trades, against a probe of t_trade for every item.

`--prefix demo_` reads the demo's sources (`make demo-data`) with `--first 2025-03-24 --last 2026-02-15`.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

from store_anomaly.mysql import MySQLUrl
from store_anomaly.sources.extracts import (
    DATED_TABLES,
    first_trades_params,
    first_trades_sql,
    orphan_items_params,
    orphan_items_sql,
    unattributable_params,
    unattributable_sql,
)
from store_anomaly.sources.local_time import utc_window

SERVER = os.environ.get("STORE_ANOMALY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


def listed_first_trades_sql(departments: int) -> str:
    """The earlier form: the stores' departments listed."""
    placeholders = ", ".join(["%s"] * departments)
    return (
        f"SELECT dept_id, MIN(create_time) FROM t_trade WHERE dept_id IN ({placeholders}) AND create_time >= %s "
        "GROUP BY dept_id"
    )


def one_scan_unattributable_sql(table: str, timestamp: str) -> str:
    """The earlier form: the four conditions counted in one scan (parameters: `unattributable_params` twice)."""
    return (
        f"SELECT COALESCE(SUM(t.dept_id IS NULL AND t.{timestamp} >= %s AND t.{timestamp} < %s), 0), "
        f"COALESCE(SUM(t.{timestamp} >= %s), 0), COALESCE(SUM(t.{timestamp} < %s), 0), "
        f"COALESCE(SUM(t.{timestamp} IS NULL), 0) FROM {table} t "
        f"WHERE (t.{timestamp} >= %s AND t.{timestamp} < %s) OR t.{timestamp} >= %s OR t.{timestamp} < %s "
        f"OR t.{timestamp} IS NULL"
    )


def probing_orphan_items_sql() -> str:
    """The earlier form: t_trade probed for every item of the range (parameters: the UTC window twice)."""
    trade_ids = "SELECT {0}(id) FROM t_trade WHERE create_time >= %s AND create_time < %s"
    return (
        "SELECT COUNT(*) FROM t_trade_item i WHERE "
        f"(i.trade_id BETWEEN ({trade_ids.format('MIN')}) AND ({trade_ids.format('MAX')}) "
        "OR i.trade_id > (SELECT COALESCE(MAX(id), 0) FROM t_trade)) "
        "AND NOT EXISTS (SELECT 1 FROM t_trade t WHERE t.id = i.trade_id)"
    )


def timed(cursor, sql: str, params, repeats: int) -> tuple[float, list]:
    best, rows = float("inf"), []
    for _ in range(repeats):
        began = time.perf_counter()
        cursor.execute(sql, params)
        rows = sorted(tuple(int(v) if not hasattr(v, "isoformat") else v for v in row) for row in cursor.fetchall())
        best = min(best, time.perf_counter() - began)
    return best, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="scale_")
    parser.add_argument("--first", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--last", type=date.fromisoformat, default=date(2025, 12, 31))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    server = MySQLUrl.parse(SERVER)

    with server.with_database(f"{args.prefix}sales_order").connect() as connection, connection.cursor() as cursor:
        seconds, scanned = timed(cursor, first_trades_sql(), first_trades_params(args.first), args.repeats)
        print(f"first trades, one loose index scan of every department: {seconds:7.3f} s ({len(scanned)} rows)")
        departments = [row[0] for row in scanned]
        for count in (999, 1000):
            listed = departments[:count]
            params = [*listed, *first_trades_params(args.first)]
            seconds, rows = timed(cursor, listed_first_trades_sql(len(listed)), params, args.repeats)
            same = rows == [row for row in scanned if row[0] in set(listed)]
            print(f"first trades, {len(listed)} departments listed: {seconds:7.3f} s (same rows: {same})")
        params = orphan_items_params(args.first, args.last)
        now, counts = timed(cursor, orphan_items_sql(), params, args.repeats)
        window = list(utc_window(args.first, args.last)) * 2
        before, earlier = timed(cursor, probing_orphan_items_sql(), window, args.repeats)
        print(
            f"items whose trade does not exist: the range's items less the joined ones {now:7.3f} s, "
            f"t_trade probed per item {before:7.3f} s (same count: {counts == earlier})"
        )

    today = date.today()
    for source, table, timestamp in DATED_TABLES:
        url = server.with_database(f"{args.prefix}{source}")
        with url.connect() as connection, connection.cursor() as cursor:
            params = unattributable_params(args.first, args.last, args.first, today)
            now, counts = timed(cursor, unattributable_sql(table, timestamp), params, args.repeats)
            before, earlier = timed(cursor, one_scan_unattributable_sql(table, timestamp), params * 2, args.repeats)
            print(
                f"rows no partition can hold, {table}: four subqueries {now:7.3f} s, one scan {before:7.3f} s "
                f"(same counts: {counts == earlier})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
