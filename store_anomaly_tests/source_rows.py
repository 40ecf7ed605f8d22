"""Builds small source databases from hand-written rows, for tests of the KPI definitions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import SOURCE_ENV_VARS
from store_anomaly.sources.schema import SOURCE_DDL, create_source_tables, table_name_of

SOURCE_OF_TABLE = {table_name_of(ddl): source for source, ddls in SOURCE_DDL.items() for ddl in ddls}


def create_all_source_tables(urls: Mapping[str, str]) -> None:
    for source in SOURCE_ENV_VARS:
        with MySQLUrl.parse(urls[source]).connect() as connection:
            create_source_tables(connection, source, drop_existing=True)


def insert_rows(urls: Mapping[str, str], table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts dict rows into a contract table of whichever source holds it."""
    if not rows:
        return
    columns = list(rows[0])
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    with MySQLUrl.parse(urls[SOURCE_OF_TABLE[table]]).connect() as connection:
        with connection.cursor() as cursor:
            cursor.executemany(statement, [tuple(row[c] for c in columns) for row in rows])
        connection.commit()
