"""Dagster resources: the five read-only source databases, the warehouse, and the platform settings.

URLs come from the environment through `EnvVar` (see `store_anomaly.settings`), so credentials never appear in
code, config or logs; messages show URLs with the password masked. Source sessions are read-only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import polars as pl
import pymysql
from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field

from store_anomaly.holiday_calendar import DEFAULT_HOLIDAY_COUNTRY, DEFAULT_HOLIDAY_SUBDIVISION
from store_anomaly.mysql import (
    DatabaseUnavailableError,
    MySQLUrl,
    MySQLUrlError,
    SessionTimeouts,
    create_database,
    database_error,
    query_frame,
    tables_of,
    transaction,
    url_advice,
)
from store_anomaly.settings import (
    CLOSED_DAYS_ENV_VAR,
    EXCLUDED_SHOPS_ENV_VAR,
    MAX_PAY_MONEY_ENV_VAR,
    MAX_PRODUCTION_SECONDS_ENV_VAR,
    QC_SCORE_MAX_ENV_VAR,
    QC_SCORE_MIN_ENV_VAR,
    SOURCE_ENV_VARS,
    WAREHOUSE_ENV_VAR,
    SettingsError,
    number_from_env,
)
from store_anomaly.sources.extracts import PlausibilityBounds
from store_anomaly.sources.schema import COLUMN_KINDS, REQUIRED_COLUMNS, column_kind


class SourceUnavailableError(DatabaseUnavailableError):
    """A source or the warehouse cannot be reached, lacks a contract table or column, or kept a session waiting
    beyond its timeout; the message names the database, its variable and what to do."""


class MySQLDatabase(ConfigurableResource):
    """One MySQL database reached through a mysql:// URL."""

    name: str = Field(description="which database this is, for messages: a source name or 'warehouse'")
    url: str = Field(description="mysql://user:password@host:port/database")
    env_var: str = Field(default="", description="the environment variable the URL comes from, for messages")
    read_only: bool = Field(default=True, description="make every transaction of the session read-only")

    def _advice(self) -> str:
        return url_advice(self.env_var)

    @property
    def parsed_url(self) -> MySQLUrl:
        try:
            return MySQLUrl.parse(self.url, name=self.name)
        except MySQLUrlError as error:
            raise SourceUnavailableError(f"{error}; {self._advice()}") from None

    def _error(self, error: pymysql.err.MySQLError, doing: str, began: float) -> SourceUnavailableError:
        wrapped = database_error(
            self.name,
            self.env_var,
            self.parsed_url.redacted(),
            error,
            doing=doing,
            seconds=time.perf_counter() - began,
            timeouts=SessionTimeouts.from_env(),
        )
        return SourceUnavailableError(str(wrapped))

    @contextmanager
    def connect(self, *, database: bool = True) -> Iterator[Any]:
        """An open session (read-only for a source); a driver error inside the block is re-raised naming the
        database and its variable."""
        url = self.parsed_url
        began = time.perf_counter()
        try:
            connection = url.connect(read_only=self.read_only, database=database)
        except pymysql.err.MySQLError as error:
            raise self._error(error, "cannot connect", began) from None
        try:
            with transaction(connection):
                yield connection
        except pymysql.err.MySQLError as error:
            # `from None`: the run log's root cause is this message (source, variable, advice), not the bare
            # driver error it quotes.
            raise self._error(error, "query failed", began) from None

    @contextmanager
    def reading(self, *tables: str) -> Iterator[None]:
        """A driver error inside the block is re-raised naming the database, its variable and the tables read."""
        began = time.perf_counter()
        try:
            yield
        except pymysql.err.MySQLError as error:
            raise self._error(error, f"reading {', '.join(tables) or 'the database'}", began) from None

    def fetch_frame(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None, schema: Mapping[str, Any]
    ) -> pl.DataFrame:
        """Runs one query and returns its rows as a frame of the given dtypes (columns in SELECT order)."""
        with self.connect() as connection, connection.cursor() as cursor:
            began = time.perf_counter()
            try:
                return query_frame(cursor, sql, params, schema)
            except pymysql.err.MySQLError as error:
                tables = ", ".join(tables_of(sql)) or "the database"
                raise self._error(error, f"reading {tables}", began) from None

    def check_reachable(self) -> None:
        """Connects and asks the server one question, so a wrong host, port or password fails at run start."""
        with self.connect(database=False) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")


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
                "SELECT table_name, column_name, LOWER(data_type), LOWER(column_type) FROM information_schema.columns "
                "WHERE table_schema = %s",
                (database,),
            )
            present: dict[str, dict[str, tuple[str, str]]] = {}
            for table, column, data_type, column_type in cursor.fetchall():
                present.setdefault(table, {})[column] = (data_type, column_type)
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
            for column in columns:
                data_type, column_type = present[table][column]
                kind, data_types = COLUMN_KINDS[column_kind(column)]
                if data_type not in data_types:
                    raise SourceUnavailableError(
                        f"{self.name}: column {table}.{column} in database {database!r} is {column_type}, not {kind} "
                        f"as the source contract has it; nothing was read from {self.name} ({self.env_var})"
                    )


class Warehouse(MySQLDatabase):
    """The warehouse database, for what the IO manager does not do: checks, alert state, the run log. Like the
    sources, it is checked at run start, so a wrong URL fails the run before any source work."""

    read_only: bool = False

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.check_reachable()

    @classmethod
    def from_env(cls) -> Warehouse:
        """The warehouse named by STORE_ANOMALY_WAREHOUSE_URL, for code outside a Dagster run (CLI, sensors)."""
        url = os.environ.get(WAREHOUSE_ENV_VAR)
        if not url:
            raise SourceUnavailableError(f"{WAREHOUSE_ENV_VAR} is not set: export the warehouse's mysql:// URL")
        return cls(name="warehouse", url=url, env_var=WAREHOUSE_ENV_VAR)

    def ensure_database(self) -> None:
        with self.connect(database=False) as connection:
            create_database(connection, self.parsed_url.database)


def source_resources() -> dict[str, SourceDatabase]:
    """The five sources as resources named `<source>_source`, configured from the contract's variables."""
    return {
        f"{source}_source": SourceDatabase(name=source, url=EnvVar(variable), env_var=variable)
        for source, variable in SOURCE_ENV_VARS.items()
    }


def warehouse_resource() -> Warehouse:
    return Warehouse(name="warehouse", url=EnvVar(WAREHOUSE_ENV_VAR), env_var=WAREHOUSE_ENV_VAR)


class PlatformSettings(ConfigurableResource):
    """Scope and calendar settings shared by the assets."""

    excluded_shops: str = Field(default="", description="comma-separated shop_no values never scored")
    default_time_zone: str = Field(
        default="America/New_York", description="zone for dating rows of departments no store owns (orphans)"
    )
    holiday_country: str = Field(default=DEFAULT_HOLIDAY_COUNTRY, description="country of the public-holiday calendar")
    holiday_subdivision: str = Field(
        default=DEFAULT_HOLIDAY_SUBDIVISION, description="subdivision of the public-holiday calendar"
    )
    max_pay_money: float = Field(default=10_000, description="a trade above this many USD is implausible")
    max_production_seconds: float = Field(
        default=7_200, description="a production order longer than this is implausible (default 2 hours)"
    )
    qc_score_min: float = Field(default=0, description="lowest plausible QC score")
    qc_score_max: float = Field(default=100, description="highest plausible QC score")
    closed_days: str = Field(
        default="", description="comma-separated dates (YYYY-MM-DD) the whole chain was closed: never a late feed"
    )

    @property
    def closed_dates(self) -> set[date]:
        dates = set()
        for text in self.closed_days.replace(";", ",").split(","):
            if text.strip():
                try:
                    dates.add(date.fromisoformat(text.strip()))
                except ValueError:
                    raise SettingsError(
                        f"{CLOSED_DAYS_ENV_VAR}: {text.strip()!r} is not a date of the form YYYY-MM-DD"
                    ) from None
        return dates

    @property
    def bounds(self) -> PlausibilityBounds:
        return PlausibilityBounds(
            max_pay_money=self.max_pay_money,
            max_production_seconds=self.max_production_seconds,
            qc_score_min=self.qc_score_min,
            qc_score_max=self.qc_score_max,
        )

    @property
    def excluded_shop_numbers(self) -> set[str]:
        return {shop.strip() for shop in self.excluded_shops.replace(";", ",").split(",") if shop.strip()}

    @classmethod
    def from_env(cls) -> PlatformSettings:
        settings = cls(
            excluded_shops=os.environ.get(EXCLUDED_SHOPS_ENV_VAR, ""),
            closed_days=os.environ.get(CLOSED_DAYS_ENV_VAR, ""),
            max_pay_money=number_from_env(MAX_PAY_MONEY_ENV_VAR, 10_000),
            max_production_seconds=number_from_env(MAX_PRODUCTION_SECONDS_ENV_VAR, 7_200),
            qc_score_min=number_from_env(QC_SCORE_MIN_ENV_VAR, 0),
            qc_score_max=number_from_env(QC_SCORE_MAX_ENV_VAR, 100),
        )
        if settings.max_pay_money <= 0 or settings.max_production_seconds <= 0:
            raise SettingsError(f"{MAX_PAY_MONEY_ENV_VAR} and {MAX_PRODUCTION_SECONDS_ENV_VAR} must be positive")
        if settings.qc_score_min > settings.qc_score_max:
            raise SettingsError(f"{QC_SCORE_MIN_ENV_VAR} is above {QC_SCORE_MAX_ENV_VAR}")
        _ = settings.closed_dates  # a malformed date fails now, naming the variable
        return settings
