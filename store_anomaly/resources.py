"""Dagster resources: the five read-only source databases and the warehouse.

URLs come from the environment through `EnvVar` (see `store_anomaly.config`), so credentials never appear in
code, config or logs; messages show URLs with the password masked. Source sessions are read-only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import pymysql
from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field

from store_anomaly.config import SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR
from store_anomaly.mysql_url import MySQLUrl, MySQLUrlError, query_frame, transaction
from store_anomaly.sources.schema import REQUIRED_COLUMNS


class SourceUnavailableError(RuntimeError):
    """A source cannot be reached or lacks a contract table or column; the message says which and what to do."""


class MySQLDatabase(ConfigurableResource):
    """One MySQL database reached through a mysql:// URL."""

    name: str = Field(description="which database this is, for messages: a source name or 'warehouse'")
    url: str = Field(description="mysql://user:password@host:port/database")
    env_var: str = Field(default="", description="the environment variable the URL comes from, for messages")
    read_only: bool = Field(default=True, description="make every transaction of the session read-only")

    def _advice(self) -> str:
        where = f"the URL in {self.env_var}" if self.env_var else "its URL"
        return f"check {where} (mysql://user:password@host:port/database)"

    @property
    def parsed_url(self) -> MySQLUrl:
        try:
            return MySQLUrl.parse(self.url, name=self.name)
        except MySQLUrlError as error:
            raise SourceUnavailableError(f"{error}; {self._advice()}") from None

    @contextmanager
    def connect(self) -> Iterator[Any]:
        url = self.parsed_url
        try:
            connection = url.connect(read_only=self.read_only)
        except pymysql.err.MySQLError as error:
            raise SourceUnavailableError(
                f"{self.name}: cannot connect to {url.redacted()}: {error.args[-1]}; {self._advice()}"
            ) from None
        with transaction(connection):
            yield connection

    def fetch_frame(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None, schema: Mapping[str, Any]
    ) -> pl.DataFrame:
        """Runs one query and returns its rows as a frame of the given dtypes (columns in SELECT order)."""
        with self.connect() as connection, connection.cursor() as cursor:
            return query_frame(cursor, sql, params, schema)


class SourceDatabase(MySQLDatabase):
    """A read-only operational source. At run start it checks that the contract tables and columns exist, so a
    misconfigured URL fails the run at once with a message naming the source."""

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.verify_contract()

    def verify_contract(self) -> None:
        required = REQUIRED_COLUMNS.get(self.name)
        if required is None:
            raise SourceUnavailableError(f"unknown source {self.name!r}; expected one of {sorted(REQUIRED_COLUMNS)}")
        database = self.parsed_url.database
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
                (database,),
            )
            present: dict[str, set[str]] = {}
            for table, column in cursor.fetchall():
                present.setdefault(table, set()).add(column)
        for table, columns in required.items():
            if table not in present:
                raise SourceUnavailableError(
                    f"{self.name}: table {table} is missing in database {database!r} at "
                    f"{self.parsed_url.redacted()}; {self._advice()} points at the {self.name} database"
                )
            missing = [column for column in columns if column not in present[table]]
            if missing:
                raise SourceUnavailableError(
                    f"{self.name}: table {table} in database {database!r} lacks columns {missing} of the source "
                    f"contract; {self._advice()} points at the {self.name} database"
                )


class Warehouse(MySQLDatabase):
    """The warehouse database, for what the IO manager does not do: checks, alert state, the run log."""

    read_only: bool = False

    @classmethod
    def from_env(cls) -> "Warehouse":
        """The warehouse named by STORE_ANOMALY_WAREHOUSE_URL, for code outside a Dagster run (CLI, sensors)."""
        url = os.environ.get(WAREHOUSE_ENV_VAR)
        if not url:
            raise SourceUnavailableError(f"{WAREHOUSE_ENV_VAR} is not set: export the warehouse's mysql:// URL")
        return cls(name="warehouse", url=url, env_var=WAREHOUSE_ENV_VAR)

    def ensure_database(self) -> None:
        url = self.parsed_url
        with url.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET utf8mb4")


def source_resources() -> dict[str, SourceDatabase]:
    """The five sources as resources named `<source>_source`, configured from the contract's variables."""
    return {
        f"{source}_source": SourceDatabase(name=source, url=EnvVar(variable), env_var=variable)
        for source, variable in SOURCE_ENV_VARS.items()
    }


def warehouse_resource() -> Warehouse:
    return Warehouse(name="warehouse", url=EnvVar(WAREHOUSE_ENV_VAR), env_var=WAREHOUSE_ENV_VAR)
