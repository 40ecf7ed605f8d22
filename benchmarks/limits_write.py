"""How long the year's SPC control limits take to write, by the order they are handed to the warehouse.

Reads `store_daily_metrics` of the warehouse kept by `benchmarks/scale.py --keep` (the `scale_warehouse`
database on the test server), scores the whole range with the default rule set (`compute_spc_by_metric`), then
loads the limits into an empty copy of `store_spc_control_limits` in a scratch database, in one transaction, as:

- `all-at-once`: one frame (what the SPC asset handed the IO manager before),
- `by-kpi`: one part per KPI, as scored,
- `by-stores`: parts of about `--rows` rows that each hold every KPI of a range of stores (what the asset does:
  `spc.assets.regrouped_by_stores`).

    .venv/bin/python benchmarks/scale.py --keep --home DIR --floor-passes 0     # once: the 1,000-store warehouse
    .venv/bin/python benchmarks/limits_write.py --orders by-stores,by-kpi,all-at-once --rows 500000,1200000

Prints the seconds of each load. The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

import polars as pl

from store_anomaly.io_managers.mysql import conform_to_declared_columns
from store_anomaly.kpis.assets import STORE_DAILY_METRICS_TABLE
from store_anomaly.mysql import MySQLUrl, bulk_load, query_frame_arrow, transaction
from store_anomaly.spc import compute_spc_by_metric
from store_anomaly.spc.assets import CONFIG, LIMITS_TABLE, SPC_INPUT_COLUMNS, regrouped_by_stores
from store_anomaly.table_schemas import polars_schema

SERVER = os.environ.get("STORE_ANOMALY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
SCRATCH = "limits_write_scratch"


def scored_limits(warehouse: MySQLUrl) -> list[pl.DataFrame]:
    schema = {n: d for n, d in polars_schema(STORE_DAILY_METRICS_TABLE.columns).items() if n in SPC_INPUT_COLUMNS}
    with warehouse.connect() as connection:
        metrics = query_frame_arrow(connection, "store_daily_metrics", schema, "1=1", ())
    first, last = metrics["metric_date"].min(), metrics["metric_date"].max()
    assert isinstance(first, date) and isinstance(last, date)
    return [part.limits for part in compute_spc_by_metric(metrics, first, last, CONFIG)]


def timed_load(server: MySQLUrl, source_database: str, parts) -> float:
    with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{SCRATCH}`")
        cursor.execute(f"CREATE DATABASE `{SCRATCH}`")
        cursor.execute(f"CREATE TABLE `{SCRATCH}`.`limits` LIKE `{source_database}`.`store_spc_control_limits`")
    began = time.perf_counter()
    with transaction(server.with_database(SCRATCH).connect(local_infile=True)) as connection:
        for part in parts:
            bulk_load(connection, f"`{SCRATCH}`.`limits`", conform_to_declared_columns(part, LIMITS_TABLE.columns, "l"))
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse-database", default="scale_warehouse")
    parser.add_argument("--orders", default="by-stores,by-kpi,all-at-once")
    parser.add_argument("--rows", default="1200000", help="rows per part of by-stores (comma-separated to compare)")
    args = parser.parse_args()
    server = MySQLUrl.parse(SERVER)
    began = time.perf_counter()
    by_kpi = scored_limits(server.with_database(args.warehouse_database))
    rows = sum(part.height for part in by_kpi)
    print(f"scored {rows:,} limit rows of {len(by_kpi)} KPIs in {time.perf_counter() - began:.1f} s")
    try:
        for order in args.orders.split(","):
            if order == "by-stores":
                for per_part in (int(n) for n in args.rows.split(",")):
                    seconds = timed_load(server, args.warehouse_database, regrouped_by_stores(iter(by_kpi), per_part))
                    print(f"by-stores, parts of {per_part:,} rows: {seconds:6.1f} s (spill and read back included)")
            elif order == "by-kpi":
                print(f"by-kpi: {timed_load(server, args.warehouse_database, by_kpi):6.1f} s")
            elif order == "all-at-once":
                whole = pl.concat(by_kpi).sort("shop_no", "metric_name", "metric_date")
                print(f"all-at-once: {timed_load(server, args.warehouse_database, [whole]):6.1f} s")
                del whole
            else:
                parser.error(f"unknown order {order!r}")
    finally:
        with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{SCRATCH}`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
