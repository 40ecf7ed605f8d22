"""Benchmark: one large warehouse read through Arrow (connectorx, `mysql.query_frame_arrow`) against the driver
(pymysql, `mysql.query_frame_streamed`), and the cost of a small read each way.

    .venv/bin/python benchmarks/warehouse_reads.py [--stores 1000] [--days 234] [--passes 2] [--keep]

Builds a scratch table `store_anomaly_benchmark_reads.limits` shaped like the reports' read of
`store_spc_control_limits` (a date, two strings, seven doubles; stores x days x 10 KPIs rows: 2.34M by default)
on the warehouse's server (STORE_ANOMALY_WAREHOUSE_URL, default the local server; MariaDB: the rows come from
its sequence engine), reads every row both ways (the better of `--passes`), checks the two frames are equal
after sorting, then times a one-day read of one store's rows (ten rows) 20 times each way. Drops the database
unless `--keep`.
"""

from __future__ import annotations

import argparse
import os
import time
from statistics import median

import polars as pl

from store_anomaly.mysql import MySQLUrl, query_frame_arrow, query_frame_streamed
from store_anomaly.settings import WAREHOUSE_ENV_VAR

DATABASE = "store_anomaly_benchmark_reads"
SCHEMA = {
    "metric_date": pl.Date(),
    "shop_no": pl.String(),
    "metric_name": pl.String(),
    **{name: pl.Float64() for name in ("mean", "sigma", "ucl", "lcl", "uwl", "lwl", "value")},
}


def build(url: MySQLUrl, stores: int, days: int) -> int:
    with url.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        cursor.execute(f"CREATE DATABASE {DATABASE}")
        cursor.execute(f"USE {DATABASE}")
        cursor.execute(
            f"CREATE TABLE {DATABASE}.limits (metric_date DATE, shop_no VARCHAR(16), metric_name VARCHAR(32), "
            "mean DOUBLE, sigma DOUBLE, ucl DOUBLE, lcl DOUBLE, uwl DOUBLE, lwl DOUBLE, value DOUBLE, "
            "PRIMARY KEY (metric_date, shop_no, metric_name))"
        )
        cursor.execute(
            f"INSERT INTO {DATABASE}.limits SELECT '2025-01-01' + INTERVAL d.seq DAY, CONCAT('S', LPAD(s.seq, 4, '0')), "
            "CONCAT('kpi_', k.seq), r, r / 7, r + 3, r - 3, r + 2, r - 2, IF(k.seq = 3, NULL, r * 1.5) "
            f"FROM (SELECT seq, RAND(seq) * 1000 AS r FROM seq_0_to_{stores - 1}) s "
            f"CROSS JOIN seq_0_to_{days - 1} d CROSS JOIN seq_1_to_10 k"
        )
        cursor.execute(f"SELECT COUNT(*) FROM {DATABASE}.limits")
        return cursor.fetchone()[0]


def timed(read, passes: int, pick=min) -> tuple[float, pl.DataFrame]:
    seconds, frame = [], None
    for _ in range(passes):
        began = time.perf_counter()
        frame = read()
        seconds.append(time.perf_counter() - began)
    return pick(seconds), frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--days", type=int, default=234)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    url = MySQLUrl.parse(os.environ.get(WAREHOUSE_ENV_VAR, "mysql://root@127.0.0.1:3306/store_anomaly"))
    began = time.perf_counter()
    rows = build(url, args.stores, args.days)
    print(f"built {rows:,} rows in {time.perf_counter() - began:.1f} s; load average {os.getloadavg()[0]:.1f}")
    columns = ", ".join(f"`{name}`" for name in SCHEMA)
    where, params = "metric_date BETWEEN %s AND %s", ("2025-01-01", "2030-01-01")
    small = ("metric_date = %s AND shop_no = %s", ("2025-01-02", "S0001"))
    try:
        with url.with_database(DATABASE).connect() as connection:
            arrow_s, arrow = timed(lambda: query_frame_arrow(connection, "limits", SCHEMA, where, params), args.passes)
            print(f"all rows through Arrow (connectorx):  {arrow_s:6.2f} s")
            driver_s, driver = timed(
                lambda: query_frame_streamed(connection, f"SELECT {columns} FROM limits WHERE {where}", params, SCHEMA),
                args.passes,
            )
            print(f"all rows through the driver:          {driver_s:6.2f} s")
            key = ["metric_date", "shop_no", "metric_name"]
            assert arrow.sort(key).equals(driver.sort(key), null_equal=True), "the two reads differ"
            small_arrow, _ = timed(lambda: query_frame_arrow(connection, "limits", SCHEMA, *small), 20, median)
            small_driver, _ = timed(
                lambda: query_frame_streamed(
                    connection, f"SELECT {columns} FROM limits WHERE {small[0]}", small[1], SCHEMA
                ),
                20,
                median,
            )
            print(f"ten rows, median of 20: Arrow {small_arrow * 1000:.1f} ms, driver {small_driver * 1000:.1f} ms")
            print(f"load average after: {os.getloadavg()[0]:.1f}; frames equal: {arrow.height:,} rows")
    finally:
        if not args.keep:
            with url.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


if __name__ == "__main__":
    main()
