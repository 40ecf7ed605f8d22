"""A MySQL IO manager for polars frames, built on Dagster's DB IO manager machinery.

The layout follows dagster-duckdb: `MySQLClient` (a `DbClient`) knows how to connect and delete a table
slice, `MySQLPolarsTypeHandler` (a `DbTypeHandler`) writes and reads polars frames, and `MySQLIOManager`
wires them into a `DbIOManager`. On top of that machinery this module adds what MySQL needs:

- Tables are declared, not inferred: each asset carries a `dagster/column_schema` (`TableSchema` whose column
  types are MySQL types) and a `primary_key` metadata entry. The table is created, or missing columns are
  added, *before* the write transaction starts, because MySQL DDL commits implicitly.
- Handing an output for a partition range deletes exactly those partitions and inserts the new rows in one
  InnoDB transaction: a failure anywhere leaves the previous rows in place.
- Writes are bulk (`store_anomaly.mysql.bulk_load`): `LOAD DATA LOCAL INFILE` from a CSV written by polars,
  or multi-row INSERTs in chunks where the server refuses local infile. The connection sends only the CSV
  being loaded, whatever file the server names (`allow_local_file`).
- The warehouse is reached at run start (`create_io_manager`), and every driver error names the warehouse and
  `STORE_ANOMALY_WAREHOUSE_URL`.

Tables are declared with the builders of `store_anomaly.table_schemas`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import polars as pl
import pymysql
from dagster import (
    ConfigurableIOManagerFactory,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
    TimeWindow,
)
from dagster._core.storage.db_io_manager import (
    DbClient,
    DbIOManager,
    DbTypeHandler,
    TablePartitionDimension,
    TableSlice,
)
from pydantic import Field

from store_anomaly.mysql import (
    DatabaseUnavailableError,
    MySQLUrl,
    MySQLUrlError,
    bulk_load,
    create_database,
    database_error,
    ensure_table,
    query_frame,
    quote_identifier,
    table_exists,
    transaction,
    url_advice,
)
from store_anomaly.settings import WAREHOUSE_ENV_VAR
from store_anomaly.table_schemas import polars_schema

COLUMN_SCHEMA_KEY = "dagster/column_schema"
PRIMARY_KEY_KEY = "primary_key"


class WarehouseSchemaError(RuntimeError):
    """An output does not match the table declared for its asset."""


def declared_columns(metadata: Mapping[str, Any] | None) -> Sequence[TableColumn]:
    schema = (metadata or {}).get(COLUMN_SCHEMA_KEY)
    if isinstance(schema, MetadataValue) and hasattr(schema, "value"):
        schema = schema.value
    if not isinstance(schema, TableSchema):
        raise WarehouseSchemaError(
            f"the asset declares no '{COLUMN_SCHEMA_KEY}' TableSchema metadata, so the warehouse table cannot "
            "be created with proper types"
        )
    return schema.columns


def _time_window_bounds(partition: TablePartitionDimension) -> tuple[date, date]:
    """[start, end) business dates of a daily (or weekly) time window, in the partitions' own time zone."""
    window = partition.partitions
    assert isinstance(window, TimeWindow)
    return window.start.date(), window.end.date()


def partition_where_clause(partitions: Sequence[TablePartitionDimension] | None) -> tuple[str, list[Any]]:
    """A parameterized WHERE clause selecting the table slice's partitions (empty when unpartitioned)."""
    clauses: list[str] = []
    params: list[Any] = []
    for partition in partitions or ():
        column = quote_identifier(partition.partition_expr)
        if isinstance(partition.partitions, TimeWindow):
            start, end = _time_window_bounds(partition)
            clauses.append(f"{column} >= %s AND {column} < %s")
            params += [start, end]
        else:
            keys = list(partition.partitions)
            if not keys:
                clauses.append("FALSE")
                continue
            clauses.append(f"{column} IN ({', '.join(['%s'] * len(keys))})")
            params += keys
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def warehouse_url(text: str) -> MySQLUrl:
    try:
        return MySQLUrl.parse(text, name="warehouse")
    except MySQLUrlError as error:
        raise DatabaseUnavailableError(f"{error}; {url_advice(WAREHOUSE_ENV_VAR)}") from None


class MySQLClient(DbClient):
    """Connections and table-slice operations for a MySQL warehouse (a MySQL schema is a database)."""

    @staticmethod
    @contextmanager
    def connect(context: OutputContext | InputContext, table_slice: TableSlice) -> Iterator[Any]:
        url = warehouse_url(context.resource_config["url"])
        began = time.perf_counter()
        doing = f"cannot connect (table {table_slice.table})"
        try:
            connection = url.connect(database=False, local_infile=True)
            doing = f"writing or reading table {table_slice.table}"
            with transaction(connection):
                yield connection
        except pymysql.err.MySQLError as error:
            seconds = time.perf_counter() - began
            raise database_error(
                "warehouse", WAREHOUSE_ENV_VAR, url.redacted(), error, doing=doing, seconds=seconds
            ) from error

    @staticmethod
    def ensure_schema_exists(context: OutputContext, table_slice: TableSlice, connection) -> None:
        """Creates the database and the declared table, and adds declared columns the table lacks.

        Runs before the delete-and-insert transaction: DDL would commit it implicitly.
        """
        create_database(connection, table_slice.schema)
        ensure_table(
            connection,
            table_slice.schema,
            table_slice.table,
            declared_columns(context.definition_metadata),
            list((context.definition_metadata or {}).get(PRIMARY_KEY_KEY) or []),
        )

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice: TableSlice, connection) -> None:
        where, params = partition_where_clause(table_slice.partition_dimensions)
        table = f"{quote_identifier(table_slice.schema)}.{quote_identifier(table_slice.table)}"
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}{where}", params)

    @staticmethod
    def get_select_statement(table_slice: TableSlice) -> str:
        columns = ", ".join(quote_identifier(c) for c in table_slice.columns) if table_slice.columns else "*"
        where, params = partition_where_clause(table_slice.partition_dimensions)
        for param in params:
            where = where.replace("%s", f"'{param}'", 1)
        return f"SELECT {columns} FROM {table_slice.schema}.{table_slice.table}{where}"

    @staticmethod
    def get_table_name(table_slice: TableSlice) -> str:
        return f"{table_slice.schema}.{table_slice.table}"


def conform_to_declared_columns(frame: pl.DataFrame, columns: Sequence[TableColumn], table: str) -> pl.DataFrame:
    """Orders and casts the frame's columns as declared; a missing declared column is written as NULL unless
    it is NOT NULL, and an undeclared column is an error (it would be silently lost)."""
    declared = [column.name for column in columns]
    extra = [name for name in frame.columns if name not in declared]
    if extra:
        raise WarehouseSchemaError(f"{table}: the asset returned columns the table does not declare: {extra}")
    missing_required = [c.name for c in columns if c.name not in frame.columns and not c.constraints.nullable]
    if missing_required:
        raise WarehouseSchemaError(f"{table}: the asset's output lacks required columns {missing_required}")
    dtypes = polars_schema(columns)
    return frame.select(
        [(pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtypes[name]).alias(name) for name in declared]
    )


class MySQLPolarsTypeHandler(DbTypeHandler[pl.DataFrame]):
    """Stores and loads polars DataFrames in MySQL tables declared by the asset's column schema."""

    def __init__(self, *, use_load_data: bool = True) -> None:
        self._use_load_data = use_load_data

    def handle_output(self, context: OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection):
        columns = declared_columns(context.definition_metadata)
        table = f"{quote_identifier(table_slice.schema)}.{quote_identifier(table_slice.table)}"
        frame = conform_to_declared_columns(obj, columns, table_slice.table)
        bulk_load(connection, table, frame, use_load_data=self._use_load_data)
        # DbIOManager adds the table name (dagster/table_name) itself.
        return {"dagster/row_count": frame.height}

    def load_input(self, context: InputContext, table_slice: TableSlice, connection) -> pl.DataFrame:
        upstream_metadata = context.upstream_output.definition_metadata if context.upstream_output else {}
        schema = polars_schema(declared_columns(upstream_metadata))
        if table_slice.columns:
            schema = {name: schema[name] for name in table_slice.columns}
        columns = ", ".join(quote_identifier(name) for name in schema)
        where, params = partition_where_clause(table_slice.partition_dimensions)
        if table_slice.partition_dimensions and not where:
            return pl.DataFrame(schema=schema)
        table = f"{quote_identifier(table_slice.schema)}.{quote_identifier(table_slice.table)}"
        with connection.cursor() as cursor:
            if not table_exists(cursor, table_slice.table, table_slice.schema):
                return pl.DataFrame(schema=schema)
            return query_frame(cursor, f"SELECT {columns} FROM {table}{where}", params, schema)

    @property
    def supported_types(self) -> Sequence[type[object]]:
        return [pl.DataFrame]


class MySQLIOManager(ConfigurableIOManagerFactory):
    """Stores polars frames as MySQL tables in the warehouse database named by `url`.

    Each asset declares its table with `dagster/column_schema` (MySQL column types), `primary_key`, and for
    partitioned assets `partition_expr` (the business-date column).
    """

    url: str = Field(description="mysql://user:password@host:port/database of the warehouse")
    use_load_data: bool = Field(default=True, description="bulk-load with LOAD DATA LOCAL INFILE when allowed")

    def create_io_manager(self, context) -> DbIOManager:
        url = warehouse_url(self.url)
        database = url.database
        # Reach the warehouse now, at run start, so a wrong host, port or password fails before any source work.
        began = time.perf_counter()
        try:
            url.connect(database=False).close()
        except pymysql.err.MySQLError as error:
            raise database_error(
                "warehouse",
                WAREHOUSE_ENV_VAR,
                url.redacted(),
                error,
                doing="cannot connect",
                seconds=time.perf_counter() - began,
            ) from None
        return DbIOManager(
            type_handlers=[MySQLPolarsTypeHandler(use_load_data=self.use_load_data)],
            db_client=MySQLClient(),
            database=database,
            schema=database,
            io_manager_name="MySQLIOManager",
            default_load_type=pl.DataFrame,
        )
