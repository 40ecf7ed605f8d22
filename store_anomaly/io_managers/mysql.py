"""A MySQL IO manager for polars frames, built on Dagster's DB IO manager machinery.

The layout follows dagster-duckdb: `MySQLClient` (a `DbClient`) knows how to connect and delete a table
slice, `MySQLPolarsTypeHandler` (a `DbTypeHandler`) writes and reads polars frames, and `MySQLIOManager`
wires them into a `DbIOManager`. On top of that machinery this module adds what MySQL needs:

- Tables are declared, not inferred: each asset carries a `dagster/column_schema` (`TableSchema` whose column
  types are MySQL types) and a `primary_key` metadata entry (and optionally `secondary_indexes`). The table is
  created, or missing columns and indexes are added, *before* the write transaction starts, because MySQL DDL
  commits implicitly.
- Handing an output for a partition range deletes exactly those partitions and inserts the new rows in one
  InnoDB transaction: a failure anywhere leaves the previous rows in place. Business dates an asset declares
  skipped (`SKIPPED_DATES_KEY` output metadata: a late feed, missing inputs) are neither deleted nor written.
- Every step that writes the warehouse holds a warehouse-side lock for its asset (`GET_LOCK`, named after the
  asset's op) from before it reads its first input until its last output is committed, so two runs never
  read-compute-write the same asset at once, however they were launched (the CLI runs in process, outside
  Dagster's run queue). All outputs of one step (the SPC limits and flags) are committed in one transaction.
- An output can be a `FrameParts` (a table's rows as frames produced one after the other, e.g. the SPC limits one
  KPI at a time): each part is written when it is produced, in the same transaction, so the whole output never
  sits in memory at once.
- Writes are bulk (`store_anomaly.mysql.bulk_load`): `LOAD DATA LOCAL INFILE` from a CSV written by polars,
  or multi-row INSERTs in chunks where the server refuses local infile. The connection sends only the CSV
  being loaded, whatever file the server names (`allow_local_file`).
- The warehouse is reached at run start (`create_io_manager`), and every driver error names the warehouse and
  `STORE_ANOMALY_WAREHOUSE_URL`.

Tables are declared with the builders of `store_anomaly.table_schemas`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
from pydantic import Field, PrivateAttr

from store_anomaly.mysql import (
    DatabaseUnavailableError,
    MySQLUrl,
    MySQLUrlError,
    arrow_readable,
    bulk_load,
    create_database,
    database_error,
    ensure_table,
    query_frame_arrow,
    query_frame_streamed,
    quote_identifier,
    table_exists,
    transaction,
    url_advice,
)
from store_anomaly.partitions import SKIPPED_DATES_KEY
from store_anomaly.settings import (
    DEFAULT_WAREHOUSE_LOCK_TIMEOUT_SECONDS,
    LEGACY_WAREHOUSE_LOCK_TIMEOUT_ENV_VAR,
    WAREHOUSE_ENV_VAR,
    WAREHOUSE_LOCK_TIMEOUT_ENV_VAR,
    number_from_env,
)
from store_anomaly.table_schemas import polars_schema

COLUMN_SCHEMA_KEY = "dagster/column_schema"
PRIMARY_KEY_KEY = "primary_key"
# Optional: the table's secondary indexes, {name: [columns]}, created with the table or added when missing.
SECONDARY_INDEXES_KEY = "secondary_indexes"


class WarehouseSchemaError(RuntimeError):
    """An output does not match the table declared for its asset."""


class WarehouseBusyError(RuntimeError):
    """Another run holds the warehouse lock of an asset this step writes, longer than the lock timeout."""


def skipped_dates(context: OutputContext) -> list[date]:
    """The business dates the asset declared skipped for this output (none unless it says so)."""
    value = (context.output_metadata or {}).get(SKIPPED_DATES_KEY)
    value = getattr(value, "value", value) or []
    return sorted(date.fromisoformat(str(day)) for day in value)


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
            {
                name: list(columns)
                for name, columns in ((context.definition_metadata or {}).get(SECONDARY_INDEXES_KEY) or {}).items()
            },
        )

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice: TableSlice, connection) -> None:
        where, params = partition_where_clause(table_slice.partition_dimensions)
        skipped = skipped_dates(context)
        if skipped and table_slice.partition_dimensions:
            column = quote_identifier(table_slice.partition_dimensions[0].partition_expr)
            where += f" AND {column} NOT IN ({', '.join(['%s'] * len(skipped))})"
            params = [*params, *skipped]
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


class FrameParts:
    """An output's rows as frames produced one after the other (a generator): the IO manager writes each part as
    it comes, in the output's one transaction, and drops it before asking for the next. For outputs too large to
    hold at once beside the work that produces them. Taken once."""

    def __init__(self, parts: Iterable[pl.DataFrame]) -> None:
        self._parts = iter(parts)

    def __iter__(self) -> Iterator[pl.DataFrame]:
        return self._parts


class MySQLPolarsTypeHandler(DbTypeHandler[pl.DataFrame]):
    """Stores and loads polars DataFrames in MySQL tables declared by the asset's column schema."""

    def __init__(self, *, use_load_data: bool = True) -> None:
        self._use_load_data = use_load_data

    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pl.DataFrame | FrameParts, connection
    ):
        columns = declared_columns(context.definition_metadata)
        table = f"{quote_identifier(table_slice.schema)}.{quote_identifier(table_slice.table)}"
        skipped = skipped_dates(context)
        rows = 0
        for part in [obj] if isinstance(obj, pl.DataFrame) else obj:
            frame = conform_to_declared_columns(part, columns, table_slice.table)
            del part
            if skipped and table_slice.partition_dimensions:
                column = table_slice.partition_dimensions[0].partition_expr
                if frame.filter(pl.col(column).is_in(skipped)).height:
                    raise WarehouseSchemaError(
                        f"{table_slice.table}: the output holds rows for dates it declares skipped"
                    )
            bulk_load(connection, table, frame, use_load_data=self._use_load_data)
            rows += frame.height
            del frame
        # DbIOManager adds the table name (dagster/table_name) itself.
        return {"dagster/row_count": rows}

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
        if table_slice.partition_dimensions and all(arrow_readable(dtype) for dtype in schema.values()):
            # through Arrow: an input can be the SPC lookback of 1,000 stores (~590 days). Its own session reads
            # what is committed, not this transaction's snapshot: an input is an upstream asset's partitions,
            # committed before this step began.
            return query_frame_arrow(
                connection,
                table_slice.table,
                schema,
                where.removeprefix(" WHERE "),
                params,
                database=table_slice.schema,
            )
        # streamed: an input can be a year of 1,000 stores' control limits (3.3M rows)
        return query_frame_streamed(connection, f"SELECT {columns} FROM {table}{where}", params, schema)

    @property
    def supported_types(self) -> Sequence[type[object]]:  # (FrameParts are written, never loaded)
        return [pl.DataFrame, FrameParts]


def asset_lock_name(database: str, op_name: str) -> str:
    """The `GET_LOCK` name guarding one asset (its op) of one warehouse; MySQL allows 64 characters."""
    name = f"store_anomaly.{database}.{op_name}"
    return name if len(name) <= 64 else "store_anomaly." + hashlib.sha1(name.encode()).hexdigest()


def lock_timeout_from_env() -> int:
    """Seconds a step waits for another run's lock on its asset (STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT_SECONDS)."""
    legacy = number_from_env(LEGACY_WAREHOUSE_LOCK_TIMEOUT_ENV_VAR, DEFAULT_WAREHOUSE_LOCK_TIMEOUT_SECONDS)
    return int(number_from_env(WAREHOUSE_LOCK_TIMEOUT_ENV_VAR, legacy))


class StepWrite:
    """One step's hold on the warehouse: the asset lock, then one transaction for all of its outputs.

    Opened before the step reads its first input (or writes its first output); committed, unlocked and closed
    when its last output is written. A step that fails leaves it open until the run's resources are torn
    down, when it is rolled back; a killed process's connection dies with it and the server frees the lock.
    """

    def __init__(self, url: MySQLUrl, op_name: str, outputs: Sequence[str], timeout_seconds: int) -> None:
        self.lock = asset_lock_name(url.database, op_name)
        self.pending = set(outputs)
        self.connection = url.connect(database=False, local_infile=True)
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT GET_LOCK(%s, %s)", (self.lock, timeout_seconds))
                (acquired,) = cursor.fetchone()
                if acquired != 1:
                    cursor.execute("SELECT IS_USED_LOCK(%s)", (self.lock,))
                    (holder,) = cursor.fetchone()
                    raise WarehouseBusyError(
                        f"warehouse {url.database}: another run is writing {op_name} (lock {self.lock} held by "
                        f"MySQL connection {holder}); waited {timeout_seconds} s ({WAREHOUSE_LOCK_TIMEOUT_ENV_VAR}). "
                        "Two runs never write the same asset at once: re-run this range when the other has ended"
                    )
        except BaseException:
            self.connection.close()
            raise

    def written(self, output_name: str) -> bool:
        """Marks one output written; commits, unlocks and closes after the last one. True when done."""
        self.pending.discard(output_name)
        if self.pending:
            return False
        try:
            self.connection.commit()
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", (self.lock,))
        finally:
            self.connection.close()
        return True

    def abandon(self) -> None:
        """Rolls back whatever the step wrote and frees the lock (by closing the session)."""
        try:
            self.connection.rollback()
        finally:
            self.connection.close()


class LockedDbIOManager(DbIOManager):
    """Dagster's DB IO manager with a per-asset warehouse lock and one transaction per step (see `StepWrite`)."""

    def __init__(self, *, url: MySQLUrl, lock_timeout_seconds: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self._url = url
        self._lock_timeout_seconds = lock_timeout_seconds
        self._writes: dict[str, StepWrite] = {}

    def _step_write(self, context: InputContext | OutputContext) -> StepWrite | None:
        return self.step_write(context.step_context)

    def step_write(self, step) -> StepWrite | None:
        """The step's hold on the warehouse (its `StepExecutionContext`), taken on first use."""
        step_key = step.step.key
        write = self._writes.get(step_key)
        if write is None:
            op_def = step.op_def
            assets_def = step.job_def.asset_layer.get_assets_def_for_node(step.node_handle)
            asset_outputs = (  # the step's asset outputs (a check's output is no table)
                {name for name, key in assets_def.keys_by_output_name.items() if key in assets_def.keys}
                if assets_def is not None
                else {output.name for output in op_def.output_defs}
            )
            outputs = [  # ...that this IO manager stores, whatever resource key it is bound to
                output.name
                for output in op_def.output_defs
                if output.name in asset_outputs
                and not output.dagster_type.is_nothing
                and getattr(step.resources, output.io_manager_key, None) is self
            ]
            if not outputs:
                return None
            try:
                write = StepWrite(self._url, op_def.name, outputs, self._lock_timeout_seconds)
            except pymysql.err.MySQLError as error:
                raise database_error(
                    "warehouse", WAREHOUSE_ENV_VAR, self._url.redacted(), error, doing="taking the asset lock"
                ) from error
            self._writes[step_key] = write
        return write

    def load_input(self, context: InputContext) -> object:
        self._step_write(context)  # the lock before the read: read, compute and write are one
        return super().load_input(context)

    def handle_output(self, context: OutputContext, obj: object) -> None:
        if obj is None:
            raise WarehouseSchemaError(f"{context.name}: the asset returned None instead of a frame")
        self._check_supported_type(type(obj))
        write = self._step_write(context)
        table_slice = self._get_table_slice(context, context)
        # DDL commits implicitly: tables are created on their own connection, outside the step's transaction.
        with self._db_client.connect(context, table_slice) as ddl_connection:
            self._db_client.ensure_schema_exists(context, table_slice, ddl_connection)
        try:
            self._db_client.delete_table_slice(context, table_slice, write.connection)
            metadata = self._resolve_handler(type(obj)).handle_output(context, table_slice, obj, write.connection)
            done = write.written(context.name)
        except pymysql.err.MySQLError as error:
            raise database_error(
                "warehouse", WAREHOUSE_ENV_VAR, self._url.redacted(), error, doing=f"writing table {table_slice.table}"
            ) from error
        if done:
            del self._writes[context.step_context.step.key]
        context.add_output_metadata(
            {
                **(metadata or {}),
                "Query": self._db_client.get_select_statement(table_slice),
                "dagster/table_name": self._db_client.get_table_name(table_slice),
            }
        )

    def abandon_unfinished(self) -> None:
        for write in self._writes.values():
            write.abandon()
        self._writes.clear()


def hold_asset_lock(context) -> None:
    """Takes the asset's warehouse lock now, for an asset that reads the warehouse itself (not through an
    input) before it writes: its read, computation and write are then one, as they are for inputs."""
    step = context.get_step_execution_context()
    manager = getattr(step.resources, "io_manager", None)
    if isinstance(manager, LockedDbIOManager):
        manager.step_write(step)


class MySQLIOManager(ConfigurableIOManagerFactory):
    """Stores polars frames as MySQL tables in the warehouse database named by `url`.

    Each asset declares its table with `dagster/column_schema` (MySQL column types), `primary_key`, and for
    partitioned assets `partition_expr` (the business-date column).
    """

    url: str = Field(description="mysql://user:password@host:port/database of the warehouse")
    use_load_data: bool = Field(default=True, description="bulk-load with LOAD DATA LOCAL INFILE when allowed")
    lock_timeout_seconds: int = Field(
        default=DEFAULT_WAREHOUSE_LOCK_TIMEOUT_SECONDS,
        description="how long a step waits for another run's lock on its asset before failing",
    )
    _managers: list = PrivateAttr(default_factory=list)

    def create_io_manager(self, context) -> LockedDbIOManager:
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
        manager = LockedDbIOManager(
            url=url,
            lock_timeout_seconds=self.lock_timeout_seconds,
            type_handlers=[MySQLPolarsTypeHandler(use_load_data=self.use_load_data)],
            db_client=MySQLClient(),
            database=database,
            schema=database,
            io_manager_name="MySQLIOManager",
            default_load_type=pl.DataFrame,
        )
        self._managers.append(manager)
        return manager

    def teardown_after_execution(self, context) -> None:
        for manager in self._managers:  # a failed step's partial writes are rolled back, its lock freed
            manager.abandon_unfinished()
