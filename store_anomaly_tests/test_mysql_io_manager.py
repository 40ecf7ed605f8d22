"""The MySQL IO manager against the real server: partition replacement, atomicity, lookback loads."""

import time
from datetime import date, timedelta

import polars as pl
import pytest
from dagster import (
    AssetIn,
    BackfillPolicy,
    Config,
    DagsterInstance,
    DailyPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    materialize,
)

from store_anomaly.io_managers.mysql import FrameParts, MySQLIOManager, lock_timeout_from_env
from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import partition_range_tags
from store_anomaly.table_schemas import table_schema
from store_anomaly_tests.databases import table_locked

pytestmark = pytest.mark.mysql

partitions = DailyPartitionsDefinition(start_date="2025-01-01")
READINGS = table_schema(
    ("day", "DATE", "business date", False),
    ("shop_no", "VARCHAR(16)", "store", False),
    ("value", "DOUBLE", "a reading"),
    ("note", "TEXT", "free text"),
)


class ReadingsConfig(Config):
    value: float = 1.0
    duplicate_last_row: bool = False
    overlong_note_shop: bool = False
    in_parts: bool = False  # handed over as FrameParts, one day at a time
    fail_after_parts: int = -1  # the parts' producer raises after this many parts (-1: never)


@asset(
    partitions_def=partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "day", "dagster/column_schema": READINGS, "primary_key": ["day", "shop_no"]},
)
def readings(context, config: ReadingsConfig):
    window = context.partition_time_window
    days = pl.date_range(window.start.date(), window.end.date() - timedelta(days=1), "1d", eager=True)
    frame = pl.DataFrame({"day": days}).join(pl.DataFrame({"shop_no": ["US00001", "US00002"]}), how="cross")
    frame = frame.with_columns(value=pl.lit(config.value), note=pl.lit('quote " comma, newline\nand \\N'))
    if config.overlong_note_shop:  # too long for VARCHAR(16): must fail, never be truncated
        frame = frame.with_columns(shop_no=pl.lit("US" + "9" * 30))
    if config.duplicate_last_row:
        frame = pl.concat([frame, frame.tail(1)])  # violates the primary key at the very end of the write
    if config.in_parts:
        return FrameParts(_days_of(frame, config.fail_after_parts))
    return frame


def _days_of(frame: pl.DataFrame, fail_after: int):
    for n, (_, day) in enumerate(frame.group_by("day", maintain_order=True)):
        if n == fail_after:
            raise RuntimeError("the producer of the parts failed")
        yield day


@asset(
    partitions_def=partitions,
    ins={"readings": AssetIn(partition_mapping=TimeWindowPartitionMapping(start_offset=-2))},
    metadata={"partition_expr": "day", "dagster/column_schema": READINGS, "primary_key": ["day", "shop_no"]},
)
def readings_with_lookback(context, readings: pl.DataFrame) -> pl.DataFrame:
    context.add_output_metadata({"loaded_days": readings["day"].n_unique()})
    assert readings.schema["day"] == pl.Date and readings.schema["value"] == pl.Float64
    day = context.partition_time_window.start.date()
    return readings.filter(pl.col("day") == day).with_columns(pl.col("value") * 10)


def run(url: str, assets, start: date, end: date, use_load_data: bool = True, **config):
    return materialize(
        assets,
        resources={"io_manager": MySQLIOManager(url=url, use_load_data=use_load_data)},
        tags=partition_range_tags(start, end),
        run_config={"ops": {"readings": {"config": config}}} if config else None,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def stored(url: str, table: str = "readings") -> pl.DataFrame:
    with MySQLUrl.parse(url).connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT day, shop_no, value, note FROM {table} ORDER BY day, shop_no")
        return pl.DataFrame(cursor.fetchall(), schema=["day", "shop_no", "value", "note"], orient="row")


@pytest.mark.parametrize("use_load_data", [True, False], ids=["load-data", "multi-row-insert"])
def test_rematerializing_a_range_replaces_exactly_that_range(fresh_database, use_load_data):
    assert run(fresh_database, [readings], date(2025, 1, 1), date(2025, 1, 10), use_load_data, value=1.0).success
    assert run(fresh_database, [readings], date(2025, 1, 4), date(2025, 1, 5), use_load_data, value=2.0).success
    assert run(fresh_database, [readings], date(2025, 1, 4), date(2025, 1, 5), use_load_data, value=2.0).success
    rows = stored(fresh_database)
    assert rows.height == 20  # 10 days x 2 stores, nothing duplicated
    by_day = dict(rows.group_by("day").agg(pl.col("value").max()).iter_rows())
    assert by_day[date(2025, 1, 3)] == 1.0 and by_day[date(2025, 1, 4)] == 2.0 and by_day[date(2025, 1, 6)] == 1.0
    assert rows["note"][0] == 'quote " comma, newline\nand \\N'  # text survives the bulk path verbatim


@pytest.mark.parametrize("use_load_data", [True, False], ids=["load-data", "multi-row-insert"])
def test_a_failed_write_leaves_the_previous_partitions_intact(fresh_database, use_load_data):
    assert run(fresh_database, [readings], date(2025, 1, 1), date(2025, 1, 3), use_load_data, value=1.0).success
    before = stored(fresh_database)
    failed = run(
        fresh_database,
        [readings],
        date(2025, 1, 1),
        date(2025, 1, 3),
        use_load_data,
        value=5.0,
        duplicate_last_row=True,
    )
    assert not failed.success
    assert stored(fresh_database).equals(before)


@pytest.mark.parametrize("use_load_data", [True, False], ids=["load-data", "multi-row-insert"])
def test_a_value_that_does_not_fit_fails_instead_of_being_truncated(fresh_database, use_load_data):
    assert run(fresh_database, [readings], date(2025, 1, 1), date(2025, 1, 1), use_load_data, value=1.0).success
    before = stored(fresh_database)
    failed = run(fresh_database, [readings], date(2025, 1, 1), date(2025, 1, 1), use_load_data, overlong_note_shop=True)
    assert not failed.success
    assert stored(fresh_database).equals(before)


@pytest.mark.parametrize("use_load_data", [True, False], ids=["load-data", "multi-row-insert"])
def test_an_output_in_parts_is_written_like_one_frame_and_atomically(fresh_database, use_load_data):
    assert run(fresh_database, [readings], date(2025, 1, 1), date(2025, 1, 6), use_load_data, value=1.0).success
    days = (date(2025, 1, 2), date(2025, 1, 4))
    whole = run(fresh_database, [readings], *days, use_load_data, value=2.0)
    as_one_frame = stored(fresh_database)
    assert run(fresh_database, [readings], *days, use_load_data, value=3.0).success
    parts = run(fresh_database, [readings], *days, use_load_data, value=2.0, in_parts=True)
    assert parts.success and stored(fresh_database).equals(as_one_frame)

    def rows_written(result) -> int:
        return sum(
            e.materialization.metadata["dagster/row_count"].value for e in result.get_asset_materialization_events()
        )

    assert rows_written(parts) == rows_written(whole)
    # a producer failing after two parts were written, or a part the table refuses: every day stays as it was
    for fault in ({"fail_after_parts": 2}, {"duplicate_last_row": True}):
        failed = run(fresh_database, [readings], *days, use_load_data, value=9.0, in_parts=True, **fault)
        assert not failed.success and stored(fresh_database).equals(as_one_frame), fault


def test_downstream_asset_loads_an_upstream_lookback_range(fresh_database):
    assert run(fresh_database, [readings], date(2025, 1, 1), date(2025, 1, 10)).success
    result = materialize(
        [readings, readings_with_lookback],
        selection=[readings_with_lookback],
        resources={"io_manager": MySQLIOManager(url=fresh_database)},
        partition_key="2025-01-05",
        instance=DagsterInstance.ephemeral(),
    )
    materialization = result.asset_materializations_for_node("readings_with_lookback")[0]
    assert materialization.metadata["loaded_days"].value == 3
    assert stored(fresh_database, "readings_with_lookback")["value"].to_list() == [10.0, 10.0]


def test_declared_columns_added_later_are_created(fresh_database):
    assert run(fresh_database, [readings], date(2025, 1, 1), date(2025, 1, 1)).success
    with MySQLUrl.parse(fresh_database).connect() as connection, connection.cursor() as cursor:
        cursor.execute("ALTER TABLE readings DROP COLUMN note")
    assert run(fresh_database, [readings], date(2025, 1, 2), date(2025, 1, 2)).success
    assert stored(fresh_database)["note"].null_count() == 2  # the re-added column is NULL for old rows


@asset(
    partitions_def=partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={
        "partition_expr": "day",
        "dagster/column_schema": READINGS,
        "primary_key": ["day", "shop_no"],
        "secondary_indexes": {"by_shop": ["shop_no", "day", "value"]},
    },
)
def indexed_readings(context):
    window = context.partition_time_window
    days = pl.date_range(window.start.date(), window.end.date() - timedelta(days=1), "1d", eager=True)
    return pl.DataFrame({"day": days, "shop_no": "US00001", "value": 1.0})


def _index_columns(url: str, table: str) -> dict[str, list[str]]:
    with MySQLUrl.parse(url).connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT index_name, column_name FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() AND table_name = %s ORDER BY index_name, seq_in_index",
            (table,),
        )
        found: dict[str, list[str]] = {}
        for name, column in cursor.fetchall():
            found.setdefault(name, []).append(column)
        return found


def test_declared_secondary_indexes_are_created_with_the_table_and_added_when_missing(fresh_database):
    assert run(fresh_database, [indexed_readings], date(2025, 1, 1), date(2025, 1, 3)).success
    assert _index_columns(fresh_database, "indexed_readings") == {
        "PRIMARY": ["day", "shop_no"],
        "by_shop": ["shop_no", "day", "value"],
    }
    with MySQLUrl.parse(fresh_database).connect() as connection, connection.cursor() as cursor:
        cursor.execute("ALTER TABLE indexed_readings DROP INDEX by_shop")
    assert run(fresh_database, [indexed_readings], date(2025, 1, 4), date(2025, 1, 4)).success
    assert _index_columns(fresh_database, "indexed_readings")["by_shop"] == ["shop_no", "day", "value"]
    assert stored(fresh_database, "indexed_readings").height == 4  # the rows written before are kept


def test_lock_timeout_reads_the_seconds_name_and_still_the_older_one(monkeypatch):
    monkeypatch.delenv("STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT_SECONDS", raising=False)
    monkeypatch.delenv("STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT", raising=False)
    assert lock_timeout_from_env() == 600
    monkeypatch.setenv("STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT", "30")
    assert lock_timeout_from_env() == 30
    monkeypatch.setenv("STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT_SECONDS", "5")
    assert lock_timeout_from_env() == 5


def test_arrow_read_equals_the_streamed_read(fresh_database: str) -> None:
    """query_frame_arrow: the same frame as the ordinary (streamed) read, nulls, dates, booleans, doubles (full
    precision), integers and any string (tab, newline, backslash, quote, non-ASCII, emoji, empty vs NULL)
    included, parameters rendered by the driver (a quote in one); an empty result is an empty typed frame, also
    when read from another database by name."""
    from store_anomaly.mysql import query_frame_arrow, query_frame_streamed

    schema = {
        "metric_date": pl.Date(),
        "shop_no": pl.String(),
        "metric_name": pl.String(),
        "value": pl.Float64(),
        "count": pl.Int64(),
        "since": pl.Date(),
        "flag": pl.Boolean(),
        "name": pl.String(),
    }
    names = [None, "", "tab\there", "line\nbreak", "back\\slash \\N", 'it\'s "q"', "门店 ✓", "☕🙂"]
    url = MySQLUrl.parse(fresh_database)
    with url.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE t (metric_date DATE, shop_no VARCHAR(16), metric_name VARCHAR(32), value DOUBLE, "
            "`count` BIGINT, since DATE, flag TINYINT(1), name VARCHAR(64), PRIMARY KEY (metric_date, shop_no, metric_name))"
        )
        rows = [
            (
                date(2025, 1, 1) + timedelta(days=day),
                f"S{shop:03d}",
                metric,
                None if (day + shop) % 7 == 0 else (day * 1000.0 + shop) / 3.0 + 1e-13 * shop,
                None if shop == 2 else day * shop - 5,
                None if day % 2 else date(2024, 12, 1 + shop),
                None if shop == 3 else (day + shop) % 2 == 0,
                names[(day + shop) % len(names)],
            )
            for day in range(9)
            for shop in range(5)
            for metric in ("revenue", "aov")
        ]
        cursor.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
        connection.commit()
        where, params = "metric_date BETWEEN %s AND %s", (date(2025, 1, 2), date(2025, 1, 8))
        arrow = query_frame_arrow(connection, "t", schema, where, params)
        columns = ", ".join(f"`{name}`" for name in schema)
        streamed = query_frame_streamed(connection, f"SELECT {columns} FROM t WHERE {where}", params, schema)
        quoted = query_frame_arrow(connection, "t", schema, "name = %s OR name = %s", ('it\'s "q"', "☕🙂"))
        empty = query_frame_arrow(connection, "t", schema, "metric_date > %s", (date(2030, 1, 1),))
        cursor.execute(
            "ALTER TABLE t ADD INDEX every_column (metric_date, shop_no, metric_name, value, `count`, since, flag, name)"
        )
        from_index = query_frame_arrow(connection, "t", schema, where, params, index="every_column")
    with url.connect(database=False) as connection:
        named = query_frame_arrow(connection, "t", schema, "metric_date > %s", (date(2030, 1, 1),), url.database)
    key = ["metric_date", "shop_no", "metric_name"]
    assert streamed.height == 7 * 5 * 2
    assert arrow.schema == streamed.schema == schema
    assert arrow.sort(key).equals(streamed.sort(key), null_equal=True)
    assert from_index.sort(key).equals(streamed.sort(key), null_equal=True)
    assert set(arrow["name"].to_list()) == set(names)
    assert set(quoted["name"].to_list()) == {'it\'s "q"', "☕🙂"} and quoted.height > 0
    assert empty.is_empty() and empty.schema == streamed.schema
    assert named.is_empty() and named.schema == streamed.schema


def test_an_arrow_read_past_its_limits_ends_naming_the_table(fresh_database: str, monkeypatch) -> None:
    """connectorx's own session keeps the session limits: a table held by LOCK TABLES ... WRITE ends the read
    at the lock-wait timeout, and a statement running past the read timeout is stopped by the server; both
    errors name the table, never a hang."""
    import pymysql

    from store_anomaly.mysql import database_error, query_frame_arrow
    from store_anomaly.settings import LOCK_WAIT_TIMEOUT_ENV_VAR, READ_TIMEOUT_ENV_VAR, WAREHOUSE_ENV_VAR

    url = MySQLUrl.parse(fresh_database)
    with url.connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (metric_date DATE, value DOUBLE)")
        cursor.execute("INSERT INTO t VALUES ('2025-01-01', 1.5)")
    schema = {"metric_date": pl.Date(), "value": pl.Float64()}
    monkeypatch.setenv(LOCK_WAIT_TIMEOUT_ENV_VAR, "1")
    with table_locked(fresh_database, "t"), url.connect() as connection:
        began = time.perf_counter()
        with pytest.raises(pymysql.err.OperationalError) as raised:
            query_frame_arrow(connection, "t", schema, "TRUE", None)
        assert time.perf_counter() - began < 10
    assert raised.value.args[0] == 1205 and "(reading t)" in raised.value.args[1]
    message = str(database_error("warehouse", WAREHOUSE_ENV_VAR, url.redacted(), raised.value, doing="reading t"))
    assert "lock wait ended" in message and LOCK_WAIT_TIMEOUT_ENV_VAR in message

    monkeypatch.setenv(LOCK_WAIT_TIMEOUT_ENV_VAR, "60")
    monkeypatch.setenv(READ_TIMEOUT_ENV_VAR, "1")
    with url.connect() as connection:
        began = time.perf_counter()
        with pytest.raises(pymysql.err.OperationalError) as raised:
            query_frame_arrow(connection, "t", schema, "SLEEP(3) = 0", None)
        assert time.perf_counter() - began < 3
    assert raised.value.args[0] == 1969 and "(reading t)" in raised.value.args[1]
    message = str(database_error("warehouse", WAREHOUSE_ENV_VAR, url.redacted(), raised.value, doing="reading t"))
    assert "(reading t): ran past the statement limit" in message and READ_TIMEOUT_ENV_VAR in message
    assert "overloaded or the query too long" in message


def test_an_arrow_read_refused_by_the_server_never_shows_the_password(fresh_database: str) -> None:
    """A user with a password (characters that need percent-encoding): the read works, and when the server
    refuses connectorx's session (the password changed since the driver's session opened) the error names the
    refusal and the table, never the password, plain or encoded."""
    import uuid
    from urllib.parse import quote

    import pymysql

    from store_anomaly.mysql import query_frame_arrow

    root = MySQLUrl.parse(fresh_database)
    user, password = f"sax_{uuid.uuid4().hex[:8]}", f"p@ss:w/rd%{uuid.uuid4().hex[:8]}"
    with root.connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (metric_date DATE)")
        cursor.execute("INSERT INTO t VALUES ('2025-01-01')")
        for host in ("%", "localhost"):
            cursor.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY {connection.escape(password)}")
            cursor.execute(f"GRANT SELECT ON `{root.database}`.* TO '{user}'@'{host}'")
    schema = {"metric_date": pl.Date()}
    try:
        url = MySQLUrl(root.host, root.port, user, password, root.database)
        with url.connect() as connection:
            assert query_frame_arrow(connection, "t", schema, "TRUE", None)["metric_date"].to_list() == [
                date(2025, 1, 1)
            ]
            with root.connect(autocommit=True) as admin, admin.cursor() as cursor:
                for host in ("%", "localhost"):
                    cursor.execute(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY 'changed-since'")
            with pytest.raises(pymysql.err.OperationalError) as raised:
                query_frame_arrow(connection, "t", schema, "TRUE", None)
    finally:
        with root.connect(autocommit=True) as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%', '{user}'@'localhost'")
    text = repr(raised.value) + str(raised.value.__cause__) + str(raised.value.__context__)
    assert raised.value.args[0] == 1045 and "(reading t)" in raised.value.args[1], raised.value.args
    assert password not in text and quote(password, safe="") not in text and "p@ss" not in text
