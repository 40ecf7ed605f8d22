"""Loading generated demo tables into the MySQL source databases.

Each table goes in with one bulk load (`store_anomaly.mysql.bulk_load`: LOAD DATA LOCAL INFILE, or chunked
multi-row INSERTs where the server refuses it): one round trip per table instead of one per row, which is
what keeps the demo history under a minute.
"""

from __future__ import annotations

import polars as pl

from store_anomaly.mysql import MySQLUrl, bulk_load, create_database, quote_identifier
from store_anomaly.sources.schema import SOURCE_DDL, create_source_tables, table_name_of

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
        create_database(connection, url.database)
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
    """Loads all rows of `frame` into the empty `table` (columns matched by name) and commits.

    Without unique and foreign key checks for the session, InnoDB loads an empty table in bulk (MariaDB 10.7
    on): it sorts each index once instead of inserting row by row into every secondary index, which is what
    a year of 1,000 stores' trades needs (its random-order keys otherwise thrash a small buffer pool). The
    generated ids are unique by construction; the tables are made empty by `prepare_tables`."""
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    try:
        bulk_load(connection, quote_identifier(table), frame)
        connection.commit()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION unique_checks = 1, foreign_key_checks = 1")


def drop_secondary_indexes(connection, table: str) -> list[str]:
    """Drops the secondary indexes of `table` (to load it in parts, in primary key order) and returns the
    ALTER TABLE clauses that make them again (`add_indexes`): one sorted build per index after the load
    instead of a random-order insert per row."""
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW INDEX FROM {quote_identifier(table)}")
        names = [column[0] for column in cursor.description]
        keys: dict[str, tuple[bool, list[str]]] = {}
        for row in map(dict, (zip(names, values, strict=True) for values in cursor.fetchall())):
            if row["Key_name"] == "PRIMARY":
                continue
            part = quote_identifier(row["Column_name"]) + (f"({row['Sub_part']})" if row["Sub_part"] else "")
            keys.setdefault(row["Key_name"], (not row["Non_unique"], []))[1].append(part)
        if keys:
            cursor.execute(
                f"ALTER TABLE {quote_identifier(table)} "
                + ", ".join(f"DROP INDEX {quote_identifier(name)}" for name in keys)
            )
    return [
        f"ADD {'UNIQUE ' if unique else ''}KEY {quote_identifier(name)} ({', '.join(parts)})"
        for name, (unique, parts) in keys.items()
    ]


def add_indexes(connection, table: str, clauses: list[str]) -> None:
    """Makes the indexes `drop_secondary_indexes` dropped, in one ALTER TABLE."""
    if clauses:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {quote_identifier(table)} {', '.join(clauses)}")
