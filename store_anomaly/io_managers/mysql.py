"""A MySQL IO manager for polars frames, built on Dagster's DB IO manager machinery.

The layout follows dagster-duckdb: `MySQLClient` (a `DbClient`) knows how to connect and delete a table
slice, `MySQLPolarsTypeHandler` (a `DbTypeHandler`) writes and reads polars frames, and `MySQLIOManager`
wires them into a `DbIOManager`. On top of that machinery this module adds what MySQL needs:

- Tables are declared, not inferred: each asset carries a `dagster/column_schema` (`TableSchema` whose column
  types are MySQL types) and a `primary_key` metadata entry. The table is created, or missing columns are
  added, *before* the write transaction starts, because MySQL DDL commits implicitly.
- Handing an output for a partition range deletes exactly those partitions and inserts the new rows in one
  InnoDB transaction: a failure anywhere leaves the previous rows in place.
- Writes are bulk: `LOAD DATA LOCAL INFILE` from a CSV written by polars, or multi-row INSERTs in chunks where
  the server refuses local infile. The connection sends only the CSV being loaded, whatever file the server
  names (`allow_local_file`).
- The warehouse is reached at run start (`create_io_manager`), and every driver error names the warehouse and
  `STORE_ANOMALY_WAREHOUSE_URL`.
"""

from __future__ import annotations

import os
import tempfile
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
    TableColumnConstraints,
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

from store_anomaly.mysql_url import (
    DatabaseUnavailableError,
    MySQLUrl,
    MySQLUrlError,
    allow_local_file,
    database_error,
    query_frame,
    table_exists,
    transaction,
    url_advice,
)
from store_anomaly.settings import WAREHOUSE_ENV_VAR

COLUMN_SCHEMA_KEY = "dagster/column_schema"
PRIMARY_KEY_KEY = "primary_key"
INSERT_CHUNK_ROWS = 5_000
# MySQL error codes meaning "LOAD DATA LOCAL is disabled" on the server or the client.
LOCAL_INFILE_REFUSED = {1148, 3948, 4166, 2068}


class WarehouseSchemaError(RuntimeError):
    """An output does not match the table declared for its asset."""


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def polars_dtype_for_mysql_type(mysql_type: str) -> pl.DataType:
    """The polars dtype a warehouse column of this declared MySQL type loads as."""
    base = mysql_type.strip().upper().split("(")[0].split()[0]
    if base in ("TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT"):
        return pl.Boolean() if mysql_type.strip().upper() == "TINYINT(1)" else pl.Int64()
    if base in ("BOOLEAN", "BOOL"):
        return pl.Boolean()
    if base in ("DOUBLE", "FLOAT", "DECIMAL", "NUMERIC", "REAL"):
        return pl.Float64()
    if base == "DATE":
        return pl.Date()
    if base in ("DATETIME", "TIMESTAMP"):
        return pl.Datetime("us")
    return pl.String()


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


def polars_schema(columns: Sequence[TableColumn]) -> dict[str, pl.DataType]:
    return {column.name: polars_dtype_for_mysql_type(column.type) for column in columns}


def _column_ddl(column: TableColumn) -> str:
    null = "NULL" if column.constraints.nullable else "NOT NULL"
    return f"{quote_identifier(column.name)} {column.type} {null}"


def ensure_table(
    connection, database: str, table: str, columns: Sequence[TableColumn], primary_key: Sequence[str]
) -> None:
    """Creates the table as declared, or adds the declared columns it lacks, and commits (DDL would anyway)."""
    qualified = f"{quote_identifier(database)}.{quote_identifier(table)}"
    body = [_column_ddl(column) for column in columns]
    if primary_key:
        body.append(f"PRIMARY KEY ({', '.join(quote_identifier(c) for c in primary_key)})")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {qualified} (\n  " + ",\n  ".join(body) + "\n) ENGINE=InnoDB")
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (database, table),
        )
        existing = {row[0] for row in cursor.fetchall()}
        for column in columns:
            if column.name not in existing:
                # Additive schema evolution only: the warehouse contract never drops or renames columns.
                cursor.execute(
                    f"ALTER TABLE {qualified} ADD COLUMN {_column_ddl(column).replace(' NOT NULL', ' NULL')}"
                )
    connection.commit()


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
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS {quote_identifier(table_slice.schema)} CHARACTER SET utf8mb4"
            )
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


def _bulk_insert_load_data(cursor, table: str, frame: pl.DataFrame) -> None:
    """`LOAD DATA LOCAL INFILE` from a CSV written by polars: the fastest bulk path into MySQL."""
    csv_ready = frame.with_columns(pl.col(pl.Boolean).cast(pl.Int8))
    fd, path = tempfile.mkstemp(suffix=".csv", prefix="store_anomaly_load_")
    os.close(fd)
    try:
        csv_ready.write_csv(
            path,
            include_header=False,
            null_value="NULL",
            quote_style="non_numeric",
            datetime_format="%Y-%m-%d %H:%M:%S%.6f",
            date_format="%Y-%m-%d",
        )
        columns = ", ".join(quote_identifier(c) for c in frame.columns)
        with allow_local_file(cursor.connection, path):
            cursor.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
                f"LINES TERMINATED BY '\\n' ({columns})",
                (path,),
            )
        loaded = cursor.rowcount
        # LOAD DATA LOCAL turns conversion errors (truncated text, clamped numbers) into warnings: refuse them.
        cursor.execute("SHOW COUNT(*) WARNINGS")
        warnings = cursor.fetchone()[0]
        if warnings:
            cursor.execute("SHOW WARNINGS LIMIT 3")
            examples = "; ".join(str(row[2]) for row in cursor.fetchall())
            raise WarehouseSchemaError(f"LOAD DATA into {table} raised {warnings} warnings: {examples}")
        if loaded != frame.height:
            raise WarehouseSchemaError(
                f"LOAD DATA into {table} stored {loaded} of {frame.height} rows "
                "(rows rejected as duplicates or malformed)"
            )
    finally:
        os.unlink(path)


def _bulk_insert_executemany(cursor, table: str, frame: pl.DataFrame) -> None:
    """Multi-row INSERTs in chunks (pymysql folds executemany into one statement per chunk)."""
    columns = ", ".join(quote_identifier(c) for c in frame.columns)
    statement = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * frame.width)})"
    for chunk in frame.iter_slices(INSERT_CHUNK_ROWS):
        cursor.executemany(statement, chunk.rows())


def bulk_insert(connection, table: str, frame: pl.DataFrame, *, use_load_data: bool = True) -> None:
    """Inserts every row of `frame` into `table` within the connection's open transaction."""
    if frame.is_empty():
        return
    with connection.cursor() as cursor:
        if use_load_data:
            try:
                _bulk_insert_load_data(cursor, table, frame)
                return
            except pymysql.err.OperationalError as error:
                if error.args[0] not in LOCAL_INFILE_REFUSED:
                    raise
        _bulk_insert_executemany(cursor, table, frame)


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
        bulk_insert(connection, table, frame, use_load_data=self._use_load_data)
        return {
            "dagster/row_count": frame.height,
            "table": MetadataValue.text(f"{table_slice.schema}.{table_slice.table}"),
        }

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


def table_schema(*columns: tuple[str, str, str] | tuple[str, str, str, bool]) -> TableSchema:
    """A `TableSchema` from (name, MySQL type, description[, nullable]) tuples: the warehouse table's DDL and
    its documentation in the UI at once."""
    return TableSchema(
        columns=[
            TableColumn(
                name=spec[0],
                type=spec[1],
                description=spec[2],
                constraints=TableColumnConstraints(nullable=spec[3] if len(spec) > 3 else True),
            )
            for spec in columns
        ]
    )


_MYSQL_TYPE_OF_POLARS = {
    pl.Date(): "DATE",
    pl.Datetime("us"): "DATETIME(6)",
    pl.Float64(): "DOUBLE",
    pl.Int64(): "BIGINT",
    pl.Boolean(): "BOOLEAN",
}


def table_schema_from_polars(
    schema: Mapping[str, pl.DataType],
    key: Sequence[str],
    descriptions: Mapping[str, str],
    string_types: Mapping[str, str],
) -> TableSchema:
    """A `TableSchema` for a frame schema: key columns NOT NULL, strings `VARCHAR(64)` unless `string_types`
    says otherwise (e.g. TEXT for prose)."""
    return table_schema(
        *(
            (
                name,
                string_types.get(name, "VARCHAR(64)") if dtype == pl.String() else _MYSQL_TYPE_OF_POLARS[dtype],
                descriptions.get(name, name.replace("_", " ")),
                name not in key,
            )
            for name, dtype in schema.items()
        )
    )
