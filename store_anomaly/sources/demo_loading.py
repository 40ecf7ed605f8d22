"""Bulk loading of generated demo tables into the MySQL source databases.

Each table goes in with one `LOAD DATA LOCAL INFILE` of a temporary tab-separated file written by polars:
one round trip per table instead of one per row, which is what keeps the demo history under a minute.
Servers (or clients) that refuse LOCAL INFILE get chunked multi-row INSERTs instead.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import polars as pl
import pymysql

from store_anomaly.mysql_url import MySQLUrl, allow_local_file
from store_anomaly.sources.schema import SOURCE_DDL, create_source_tables, table_name_of

log = logging.getLogger(__name__)

# Error codes meaning "LOCAL INFILE is disabled": MariaDB/MySQL 5.x (1148), MySQL 8 server (3948) and
# client (2068) side. Anything else is a real failure and must surface.
LOCAL_INFILE_REFUSED_CODES = frozenset({1148, 2068, 3948})
INSERT_CHUNK_ROWS = 5_000
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"


# A table the generator creates in every database it writes, before anything else: it is how a later run
# knows the database is a demo database and not, say, a copy of real sources.
DEMO_MARKER_TABLE = "store_anomaly_demo_database"


class DemoTablesNotEmptyError(RuntimeError):
    """Demo rows would be appended to tables that already hold rows, mixing two data sets."""


class NotADemoDatabaseError(RuntimeError):
    """The demo generator was pointed at a database holding tables it did not create."""


def foreign_tables(url: MySQLUrl, source: str) -> list[str]:
    """Tables of the URL's database that the demo generator did not make, sorted (none when it is absent).

    A database with the marker table is the generator's own: only tables outside the contract are foreign
    there. Without the marker every table is foreign; an empty database has none and may be claimed.
    """
    with url.connect(database=False) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (url.database,))
        tables = {name for (name,) in cursor.fetchall()}
    if DEMO_MARKER_TABLE not in tables:
        return sorted(tables)
    own = {table_name_of(ddl) for ddl in SOURCE_DDL[source]} | {DEMO_MARKER_TABLE}
    return sorted(table for table in tables if table not in own)


def claim_demo_database(url: MySQLUrl, source: str) -> None:
    """Creates the URL's database when absent and marks it as the demo's `source` database."""
    with url.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET utf8mb4")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS `{url.database}`.`{DEMO_MARKER_TABLE}` "
            "(source VARCHAR(32) NOT NULL PRIMARY KEY, created_at DATETIME NOT NULL) ENGINE=InnoDB"
        )
        cursor.execute(
            f"INSERT IGNORE INTO `{url.database}`.`{DEMO_MARKER_TABLE}` VALUES (%s, UTC_TIMESTAMP())", (source,)
        )


def prepare_tables(connection, source: str, *, recreate: bool) -> None:
    """Leaves the contract tables of `source` present and empty.

    With `recreate` they are dropped and created from the contract DDL. Without it, missing tables are
    created and existing ones (which may carry extra columns) are kept, but must be empty: the generated
    ids start at 1 and would collide with, or silently mix into, rows already there.
    """
    if recreate:
        create_source_tables(connection, source, drop_existing=True)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        existing = {name.lower() for (name,) in cursor.fetchall()}
        for ddl in SOURCE_DDL[source]:
            table = table_name_of(ddl)
            if table.lower() not in existing:
                cursor.execute(ddl)
                continue
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM `{table}`)")
            if cursor.fetchone()[0]:
                raise DemoTablesNotEmptyError(
                    f"{source}: table {table} already holds rows; pass recreate=True to replace them"
                )
    connection.commit()


def load_frame(connection, table: str, frame: pl.DataFrame) -> None:
    """Loads all rows of `frame` into `table` (columns matched by name) and commits."""
    if frame.is_empty():
        return
    try:
        load_with_local_infile(connection, table, frame)
    except pymysql.err.MySQLError as error:
        if not error.args or error.args[0] not in LOCAL_INFILE_REFUSED_CODES:
            raise
        connection.rollback()
        log.warning("LOAD DATA LOCAL INFILE refused (%s); loading %s with multi-row INSERTs", error, table)
        load_with_inserts(connection, table, frame)
    connection.commit()


def load_with_local_infile(connection, table: str, frame: pl.DataFrame) -> None:
    columns = ", ".join(f"`{column}`" for column in frame.columns)
    with tempfile.TemporaryDirectory(prefix="demo_load_") as directory:
        path = Path(directory) / f"{table}.tsv"
        # \N is LOAD DATA's NULL; strings needing quotes get polars' "..." with doubled inner quotes, which
        # is exactly what OPTIONALLY ENCLOSED BY '"' reads back.
        frame.write_csv(
            path,
            separator="\t",
            include_header=False,
            null_value=r"\N",
            datetime_format=DATETIME_FORMAT,
            date_format=DATE_FORMAT,
        )
        with connection.cursor() as cursor, allow_local_file(connection, str(path)):
            cursor.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY '\\t' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' "
                f"({columns})",
                (str(path),),
            )


def load_with_inserts(connection, table: str, frame: pl.DataFrame) -> None:
    columns = ", ".join(f"`{column}`" for column in frame.columns)
    placeholders = ", ".join(["%s"] * frame.width)
    statement = f"INSERT INTO `{table}` ({columns}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        # pymysql turns executemany of a plain INSERT ... VALUES into multi-row INSERT statements.
        for chunk in frame.iter_slices(INSERT_CHUNK_ROWS):
            cursor.executemany(statement, chunk.rows())
