"""The demo source generator: contents, determinism, dirty rows, opening dates, time zones and the story.

Tests marked `mysql` load into fresh databases on the real server; the others check the generated frames
only. All use short ranges, so the whole file runs in seconds.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pymysql
import pytest

from store_anomaly import mysql
from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import SOURCE_ENV_VARS
from store_anomaly.sources import demo_loading
from store_anomaly.sources.demo_data import build_demo_tables, demo_stores, generate_demo_sources
from store_anomaly.sources.schema import SOURCE_DDL, table_name_of

NEW_YORK = ZoneInfo("America/New_York")
OCTOBER_START, OCTOBER_END = date(2025, 10, 1), date(2025, 10, 14)
TABLE_SOURCE = {table_name_of(ddl): source for source, statements in SOURCE_DDL.items() for ddl in statements}
DEPT_TABLES = ("t_trade", "t_production_order", "t_task_form", "t_expiry_management", "t_attendance")
TEST_KITCHEN = 9


def sources_of(platform_urls: dict[str, str]) -> dict[str, str]:
    return {source: platform_urls[source] for source in SOURCE_ENV_VARS}


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with MySQLUrl.parse(url).connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def count_rows(urls: dict[str, str], table: str, where: str = "TRUE") -> int:
    return query(urls[TABLE_SOURCE[table]], f"SELECT COUNT(*) FROM `{table}` WHERE {where}")[0][0]


def table_checksums(urls: dict[str, str]) -> dict[str, int]:
    return {table: query(urls[source], f"CHECKSUM TABLE `{table}`")[0][1] for table, source in TABLE_SOURCE.items()}


def dept_ids(urls: dict[str, str], *shop_nos: str) -> str:
    """The dept_ids of these shops (of every shop when none is named), as a SQL list."""
    rows = query(urls["opshop"], "SELECT dept_id, shop_no FROM t_shop_dept")
    return ", ".join(str(dept_id) for dept_id, shop_no in sorted(rows) if not shop_nos or shop_no in shop_nos)


def as_new_york(utc_naive: datetime) -> datetime:
    return utc_naive.replace(tzinfo=UTC).astimezone(NEW_YORK)


def new_york_time(column: str) -> pl.Expr:
    """A naive UTC datetime column as New York time."""
    return pl.col(column).dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York")


@pytest.mark.mysql
def test_small_range_fills_every_contract_table(platform_urls):
    urls = sources_of(platform_urls)

    summary = generate_demo_sources(urls, start=OCTOBER_START, end=OCTOBER_END, stores=4)

    assert summary.shop_nos == ("US00001", "US00002", "US00003", "US00004")
    assert (summary.start, summary.end, summary.stores) == (OCTOBER_START, OCTOBER_END, 4)
    for table in TABLE_SOURCE:
        assert count_rows(urls, table) == summary.row_counts[table] > 0, table
        assert table in str(summary)
    # Baskets of 1-4 lines, plausible tickets, and one production order per trade that reached the bar.
    lines_per_trade = "SELECT MIN(n), MAX(n) FROM (SELECT COUNT(*) AS n FROM t_trade_item GROUP BY trade_id) b"
    assert query(urls["sales_order"], lines_per_trade)[0] == (1, 4)
    tickets = "SELECT MIN(pay_money), AVG(pay_money) FROM t_trade WHERE pay_money > 0"
    lowest, average = query(urls["sales_order"], tickets)[0]
    assert lowest > 3 and 9 <= average <= 12
    made = count_rows(urls, "t_trade", "trade_status <> 3")
    assert count_rows(urls, "t_production_order", "trade_no IS NOT NULL") == made


@pytest.mark.mysql
def test_same_seed_gives_identical_tables(platform_urls, fresh_databases):
    first = sources_of(platform_urls)
    second = {source: fresh_databases.create(f"again_{source}") for source in SOURCE_ENV_VARS}
    # The second set starts absent: the generator must create its databases.
    server = MySQLUrl.parse(second["opshop"])
    with server.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        for url in second.values():
            cursor.execute(f"DROP DATABASE `{MySQLUrl.parse(url).database}`")
    window = {"start": date(2025, 10, 1), "end": date(2025, 10, 5), "stores": 10}

    generate_demo_sources(first, seed=7, **window)
    generate_demo_sources(second, seed=7, **window)
    assert table_checksums(first) == table_checksums(second)

    generate_demo_sources(second, seed=8, **window)
    assert table_checksums(first)["t_trade"] != table_checksums(second)["t_trade"]


@pytest.mark.mysql
def test_parts_continue_ids_and_keep_the_contract_indexes(platform_urls, fresh_databases):
    """A large chain is drawn and loaded a few days at a time: ids keep growing across parts, every item has
    its trade, and the tables end with the contract's indexes."""
    whole = sources_of(platform_urls)
    parts = {source: fresh_databases.create(f"parts_{source}") for source in SOURCE_ENV_VARS}
    window = {"start": date(2025, 10, 1), "end": date(2025, 10, 12), "stores": 12}

    generate_demo_sources(whole, **window)
    summary = generate_demo_sources(parts, chunk_days=5, **window)

    for table in TABLE_SOURCE:
        assert count_rows(parts, table) == summary.row_counts[table] > 0, table
        show = f"SHOW CREATE TABLE `{table}`"
        assert query(parts[TABLE_SOURCE[table]], show) == query(whole[TABLE_SOURCE[table]], show), table
    for table in DEPT_TABLES:
        ids = query(
            parts[TABLE_SOURCE[table]], f"SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM `{table}`"
        )[0]
        assert ids == (ids[0], ids[0], 1, ids[0]), table
    orphan_items = "SELECT COUNT(*) FROM t_trade_item i LEFT JOIN t_trade t ON t.id = i.trade_id WHERE t.id IS NULL"
    assert query(parts["sales_order"], orphan_items)[0][0] == 0
    # Each part's first trade comes after the previous part's trades (all stores but the Shanghai kitchen).
    first_of_day = "SELECT MIN(id), MAX(id) FROM t_trade WHERE dept_id <> 99998 AND DATE(create_time) = %s"
    assert (
        query(parts["sales_order"], first_of_day, (date(2025, 10, 6),))[0][0]
        > query(parts["sales_order"], first_of_day, (date(2025, 10, 4),))[0][1]
    )
    # The same departments trade (orphans included).
    depts = "SELECT DISTINCT dept_id FROM t_trade ORDER BY dept_id"
    assert query(parts["sales_order"], depts) == query(whole["sales_order"], depts)


@pytest.mark.mysql
def test_every_kind_of_dirty_row_is_present(platform_urls):
    urls = sources_of(platform_urls)
    generate_demo_sources(urls, start=OCTOBER_START, end=OCTOBER_END, stores=10)
    orphan = f"dept_id NOT IN ({dept_ids(urls)})"

    trades = count_rows(urls, "t_trade")
    dirty_trades = {
        "NULL pay_money": count_rows(urls, "t_trade", "trade_status = 1 AND pay_money IS NULL"),
        "negative pay_money": count_rows(urls, "t_trade", "trade_status = 1 AND pay_money < 0"),
        "orphan dept_id": count_rows(urls, "t_trade", orphan),
    }
    assert all(dirty_trades.values()), dirty_trades
    assert sum(dirty_trades.values()) / trades < 0.01
    assert 0.01 < count_rows(urls, "t_trade", "trade_status = 2") / trades < 0.03
    assert 0.005 < count_rows(urls, "t_trade", "trade_status = 3") / trades < 0.02

    assert count_rows(urls, "t_attendance", "clock_out IS NULL") > 0
    assert count_rows(urls, "t_attendance", "clock_out > clock_in + INTERVAL 16 HOUR") in (1, 2)
    assert count_rows(urls, "t_attendance", orphan) > 0
    assert count_rows(urls, "t_production_order", "finish_time IS NULL") > 0
    assert count_rows(urls, "t_production_order", "finish_time < start_time") > 0
    assert count_rows(urls, "t_production_order", orphan) > 0
    assert count_rows(urls, "t_task_form", "score IS NULL") > 0

    for (kitchen,) in query(urls["opshop"], "SELECT shop_no FROM t_shop WHERE shop_type = %s", (TEST_KITCHEN,)):
        kitchen_rows = f"dept_id IN ({dept_ids(urls, kitchen)})"
        for table in ("t_trade", "t_production_order", "t_attendance"):
            assert count_rows(urls, table, kitchen_rows) > 0, (kitchen, table)
    # Shanghai's kitchen works 09:00-17:00 local, UTC+8 all year: between 01:00 and 09:00 UTC.
    shanghai = f"dept_id IN ({dept_ids(urls, 'US99998')})"
    assert count_rows(urls, "t_trade", f"{shanghai} AND HOUR(create_time) NOT BETWEEN 1 AND 8") == 0


@pytest.mark.mysql
def test_stores_have_rows_only_from_their_open_date(platform_urls):
    urls = sources_of(platform_urls)
    start, end = date(2025, 5, 5), date(2025, 5, 18)
    generate_demo_sources(urls, start=start, end=end, stores=8)

    shops = {
        shop_no: (status, open_date)
        for shop_no, status, open_date in query(urls["opshop"], "SELECT shop_no, status, open_date FROM t_shop")
    }
    assert shops["US00007"][0] == 2 and shops["US00007"][1] > end
    assert all(opened <= start for shop_no, (_, opened) in shops.items() if shop_no not in ("US00007", "US00008"))
    not_open = f"dept_id IN ({dept_ids(urls, 'US00007')})"
    for table in DEPT_TABLES:
        assert count_rows(urls, table, not_open) == 0, table

    # US00008 opens on Monday 2025-05-12: its first order is that morning, New York time.
    first_order_sql = f"SELECT MIN(create_time) FROM t_trade WHERE dept_id IN ({dept_ids(urls, 'US00008')})"
    ((first_order,),) = query(urls["sales_order"], first_order_sql)
    assert as_new_york(first_order).date() == shops["US00008"][1] == date(2025, 5, 12)


@pytest.mark.mysql
def test_timestamps_are_utc_and_follow_daylight_saving_time(platform_urls):
    urls = sources_of(platform_urls)
    # US daylight saving time ends on Sunday 2025-11-02: New York goes from UTC-4 to UTC-5.
    generate_demo_sources(urls, start=date(2025, 10, 20), end=date(2025, 11, 14), stores=1)
    created = [utc for (utc,) in query(urls["sales_order"], "SELECT create_time FROM t_trade")]

    assert all(6 <= as_new_york(utc).hour < 21 for utc in created)
    weekdays = [utc for utc in created if as_new_york(utc).weekday() < 5]
    summer_time = Counter(utc.hour for utc in weekdays if as_new_york(utc).date() < date(2025, 11, 2))
    winter_time = Counter(utc.hour for utc in weekdays if as_new_york(utc).date() > date(2025, 11, 2))
    # The 07:00-10:00 local morning rush peaks at 08:xx: 12 UTC in summer time, 13 UTC in winter time.
    assert summer_time.most_common(1)[0][0] == 12
    assert winter_time.most_common(1)[0][0] == 13
    clock_ins = [utc for (utc,) in query(urls["opempefficiency"], "SELECT clock_in FROM t_attendance")]
    assert all(5 <= as_new_york(utc).hour < 16 for utc in clock_ins)


@pytest.mark.mysql
def test_without_recreate_every_table_must_be_empty(platform_urls):
    urls = sources_of(platform_urls)
    window = {"start": date(2025, 10, 6), "end": date(2025, 10, 7), "stores": 2}

    summary = generate_demo_sources(urls, recreate=False, **window)
    assert count_rows(urls, "t_trade") == summary.row_counts["t_trade"] > 0

    for table, source in TABLE_SOURCE.items():
        if table != "t_attendance":
            query(urls[source], f"DELETE FROM `{table}`")
    with pytest.raises(demo_loading.DemoTablesNotEmptyError, match="t_attendance"):
        generate_demo_sources(urls, recreate=False, **window)
    # Refused before loading anything: no half-loaded demo.
    assert count_rows(urls, "t_trade") == 0

    generate_demo_sources(urls, recreate=True, **window)
    assert count_rows(urls, "t_attendance") == summary.row_counts["t_attendance"]


@pytest.mark.mysql
def test_insert_fallback_loads_the_same_rows(platform_urls, fresh_databases, monkeypatch):
    window = {"start": date(2025, 10, 6), "end": date(2025, 10, 8), "stores": 10}
    generate_demo_sources(sources_of(platform_urls), **window)

    refused_tables = []

    def refuse_local_infile(_cursor, table: str, _frame: pl.DataFrame) -> None:
        refused_tables.append(table.strip("`"))
        raise pymysql.err.OperationalError(1148, "The used command is not allowed with this MariaDB version")

    monkeypatch.setattr(mysql, "load_data_local_infile", refuse_local_infile)
    inserted = {source: fresh_databases.create(f"insert_{source}") for source in SOURCE_ENV_VARS}
    generate_demo_sources(inserted, **window)

    assert sorted(refused_tables) == sorted(TABLE_SOURCE)
    assert table_checksums(inserted) == table_checksums(sources_of(platform_urls))


def monthly_by_shop(start: date, end: date, stores: int) -> pl.DataFrame:
    """Revenue, orders and AOV of valid trades per shop and New York month, from generated frames."""
    tables = build_demo_tables(start, end, stores=stores)
    return (
        tables["sales_order"]["t_trade"]
        .filter((pl.col("trade_status") == 1) & (pl.col("pay_money") >= 0))
        .join(tables["opshop"]["t_shop_dept"], on="dept_id")
        .group_by("shop_no", month=new_york_time("create_time").dt.strftime("%Y-%m"))
        .agg(revenue=pl.col("pay_money").sum(), orders=pl.len(), aov=pl.col("pay_money").mean())
    )


def test_flagship_slides_while_us00004_gains():
    monthly = monthly_by_shop(date(2025, 9, 1), date(2026, 1, 31), stores=4)

    def value(shop_no: str, month: str, column: str) -> float:
        return monthly.filter((pl.col("shop_no") == shop_no) & (pl.col("month") == month))[column].item()

    assert 98_000 <= value("US00001", "2025-10", "revenue") <= 114_000
    assert 47_000 <= value("US00001", "2026-01", "revenue") <= 57_000
    # Mostly fewer orders, a little smaller baskets.
    assert value("US00001", "2026-01", "orders") / value("US00001", "2025-10", "orders") < 0.65
    assert 0.85 < value("US00001", "2026-01", "aov") / value("US00001", "2025-10", "aov") < 0.97
    assert value("US00004", "2026-01", "revenue") > 1.3 * value("US00004", "2025-09", "revenue")
    assert value("US00002", "2026-01", "revenue") == pytest.approx(value("US00002", "2025-09", "revenue"), rel=0.12)


def test_closed_on_thanksgiving_and_christmas_only():
    trades = build_demo_tables(date(2025, 11, 20), date(2025, 12, 31), stores=3)["sales_order"]["t_trade"]
    local_dates = set(trades.select(new_york_time("create_time").dt.date()).to_series())

    assert date(2025, 11, 27) not in local_dates and date(2025, 12, 25) not in local_dates
    assert {date(2025, 11, 26), date(2025, 11, 28), date(2025, 12, 24), date(2025, 12, 26)} <= local_dates


def test_store_count_selects_a_prefix_or_adds_synthetic_stores():
    start, end = date(2025, 3, 24), date(2026, 2, 15)
    assert [store.shop_no for store in demo_stores(3, start, end)] == ["US00001", "US00002", "US00003"]
    chain = demo_stores(10, start, end)
    assert [store.shop_name for store in chain[:8]] == [
        "8th & Broadway",
        "28th & 6th",
        "100 Maiden Ln",
        "37th & Broadway",
        "54th & 8th",
        "102 Fulton",
        "108th & Broadway",
        "33rd & 10th",
    ]
    assert [(s.shop_no, s.dept_id, s.shop_type, s.time_zone) for s in chain[8:]] == [
        ("US00000", 1000, TEST_KITCHEN, "America/New_York"),
        ("US99998", 99998, TEST_KITCHEN, "Asia/Shanghai"),
    ]
    larger = demo_stores(12, start, end)
    assert larger[:10] == chain
    assert [(s.shop_no, s.dept_id, s.shop_type) for s in larger[10:]] == [
        ("US00009", 30009, 1),
        ("US00010", 30010, 1),
    ]
    assert len({store.shop_name for store in larger}) == 12


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="opempefficiency"):
        generate_demo_sources({"opshop": "mysql://root@127.0.0.1/x"}, start=OCTOBER_START, end=OCTOBER_END)
    with pytest.raises(ValueError, match="before start"):
        build_demo_tables(OCTOBER_END, OCTOBER_START)
    with pytest.raises(ValueError, match="at least 1"):
        build_demo_tables(OCTOBER_START, OCTOBER_END, stores=0)


@pytest.mark.mysql
def test_refuses_a_database_holding_tables_it_did_not_create(platform_urls):
    """A copy of real sources: contract tables with rows, created by someone else. Nothing is touched."""
    urls = sources_of(platform_urls)
    query(urls["sales_order"], SOURCE_DDL["sales_order"][0])
    query(
        urls["sales_order"],
        "INSERT INTO t_trade VALUES (1, 'T1', 10, 5.0, 1, '2025-10-01 12:00:00'), "
        "(2, 'T2', 10, 7.5, 1, '2025-10-01 13:00:00')",
    )
    with pytest.raises(demo_loading.NotADemoDatabaseError) as refused:
        generate_demo_sources(urls, start=OCTOBER_START, end=OCTOBER_END, stores=2)

    message = str(refused.value)
    assert "sales_order" in message and "STORE_ANOMALY_DEMO_SALESORDER_URL" in message and "t_trade" in message
    assert query(urls["sales_order"], "SELECT COUNT(*), SUM(pay_money) FROM t_trade")[0] == (2, 12.5)
    # Refused before anything was written anywhere: the other (empty) databases were not claimed either.
    for source in ("opshop", "opproduction", "opqualitycontrol", "opempefficiency"):
        assert query(urls[source], "SHOW TABLES") == []


@pytest.mark.mysql
def test_reruns_over_its_own_databases_but_not_over_tables_added_to_them(platform_urls):
    urls = sources_of(platform_urls)
    window = {"start": date(2025, 10, 6), "end": date(2025, 10, 7), "stores": 2}
    generate_demo_sources(urls, **window)
    first = table_checksums(urls)
    generate_demo_sources(urls, **window)  # its own databases: replaced, same contents
    assert table_checksums(urls) == first
    assert query(urls["opshop"], f"SELECT source FROM `{demo_loading.DEMO_MARKER_TABLE}`") == [("opshop",)]

    query(urls["opproduction"], "CREATE TABLE t_unrelated (id INT PRIMARY KEY)")
    with pytest.raises(demo_loading.NotADemoDatabaseError, match="t_unrelated"):
        generate_demo_sources(urls, **window)
    assert table_checksums(urls) == first
