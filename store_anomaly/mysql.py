"""The MySQL toolkit: URLs, connections, transactions, queries, DDL and bulk loads, used by every module
that talks to MySQL (resources, the IO manager, the demo loader, the alert logs).

Databases are named by `mysql://user:password@host:port/database[?ssl_ca=...]` URLs.

Every database the platform touches is named by one such URL, taken from the environment, so hosts and
credentials never appear in code. Passwords are URL-encoded in the URL and never printed: use
`MySQLUrl.redacted`. TLS is asked for with query parameters (`TLS_PARAMETERS`).

Every session has connect, read and write timeouts and a lock-wait timeout (`SessionTimeouts`, from the
`STORE_ANOMALY_*_TIMEOUT_SECONDS` variables), so a server that never answers or a held lock ends in an error
instead of a hang. `LOAD DATA LOCAL` is allowed only for the one file the client is loading
(`allow_local_file`): pymysql would otherwise send whatever file the server asks for. Large reads go through
connectorx into Arrow (`query_frame_arrow`), bounded by the same limits as per-statement settings.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import polars as pl
import pymysql
import pymysql.cursors
from pymysql.connections import Connection, LoadLocalPacketWrapper, MySQLResult

from store_anomaly.settings import (
    CONNECT_TIMEOUT_ENV_VAR,
    LOCK_WAIT_TIMEOUT_ENV_VAR,
    READ_TIMEOUT_ENV_VAR,
    WRITE_TIMEOUT_ENV_VAR,
)

# Error codes meaning "LOAD DATA LOCAL is disabled": MariaDB/MySQL 5.x server (1148), MySQL 8 server (3948),
# client side (2068), MariaDB's "not allowed" (4166). Anything else is a real failure and must surface.
LOCAL_INFILE_REFUSED = frozenset({1148, 2068, 3948, 4166})
INSERT_CHUNK_ROWS = 5_000

# URL query parameters passed to the driver's TLS options; a boolean one takes true/false (also 1/0).
TLS_PARAMETERS = ("ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity")
_BOOLEAN_TLS_PARAMETERS = ("ssl_verify_cert", "ssl_verify_identity")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


# MySQL error codes of a wait that ended: a lock wait, a lost (timed-out) read, a refused or timed-out connect.
LOCK_WAIT_TIMEOUT_CODE = 1205
LOST_CONNECTION_CODES = (2013, 2006)
CANNOT_CONNECT_CODE = 2003


class MySQLUrlError(ValueError):
    """A URL that is not of the form mysql://user:password@host:port/database."""


@dataclass(frozen=True)
class SessionTimeouts:
    """How long a session waits, in seconds: for the connection, for each answer, for each write, for a lock.

    The read timeout bounds the longest query: a year's backfill aggregates run well under the default."""

    connect: float = 10
    read: float = 900
    write: float = 300
    lock_wait: int = 60

    @classmethod
    def from_env(cls) -> SessionTimeouts:
        values = {}
        for name, variable in (
            ("connect", CONNECT_TIMEOUT_ENV_VAR),
            ("read", READ_TIMEOUT_ENV_VAR),
            ("write", WRITE_TIMEOUT_ENV_VAR),
            ("lock_wait", LOCK_WAIT_TIMEOUT_ENV_VAR),
        ):
            text = os.environ.get(variable, "").strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise MySQLUrlError(f"{variable}={text!r} is not a number of seconds") from None
            if value <= 0:
                raise MySQLUrlError(f"{variable}={text!r}: a timeout must be positive")
            values[name] = max(1, round(value)) if name == "lock_wait" else value
        return cls(**values)

    def describe_wait(self, error: pymysql.err.MySQLError, seconds: float | None = None) -> str | None:
        """Which timeout ended a wait, and after how long, or None when the error is not a timeout."""
        code = error.args[0] if error.args else None
        text = str(error.args[-1]) if error.args else ""
        took = f" after {seconds:.1f} s" if seconds is not None else ""
        if code == LOCK_WAIT_TIMEOUT_CODE:
            return f"lock wait ended{took} (limit {self.lock_wait} s, {LOCK_WAIT_TIMEOUT_ENV_VAR})"
        if code in LOST_CONNECTION_CODES and "timed out" in text:
            return f"no answer from the server{took} (limit {self.read:g} s, {READ_TIMEOUT_ENV_VAR})"
        if code in STATEMENT_TIMEOUT_CODES:
            return f"{text}: ran past the statement limit{took} (limit {self.read:g} s, {READ_TIMEOUT_ENV_VAR})"
        if code == CANNOT_CONNECT_CODE and "timed out" in text:
            return (
                f"no connection or handshake{took} (limits {self.connect:g} s, {CONNECT_TIMEOUT_ENV_VAR}, and "
                f"{self.read:g} s, {READ_TIMEOUT_ENV_VAR})"
            )
        return None

    def advice(self, error: pymysql.err.MySQLError) -> str | None:
        """What to do about a wait that ended without an answer (None: not such a wait, or a connection that never
        came, for which the URL is the thing to check)."""
        code = error.args[0] if error.args else None
        text = str(error.args[-1]) if error.args else ""
        if code == LOCK_WAIT_TIMEOUT_CODE:
            return (
                "another session holds a lock on it (LOCK TABLES, a long transaction: SHOW PROCESSLIST on that "
                "server names it); nothing was written, the next run or tick reads again once it is released (raise "
                "the limit to wait longer)"
            )
        if code in STATEMENT_TIMEOUT_CODES or (code in LOST_CONNECTION_CODES and "timed out" in text):
            return (
                "the server is overloaded or the query too long for the limit; nothing was written, the next run or "
                "tick reads again (raise the limit if such queries are expected)"
            )
        return None


def tables_of(sql: str) -> list[str]:
    """The tables a statement names after FROM, JOIN or INTO, for messages ("waited for a lock on t_trade")."""
    names = re.findall(
        r"\b(?:FROM|JOIN|INTO|UPDATE)\s+`?([A-Za-z_][\w$]*)`?(?:\.`?([A-Za-z_][\w$]*)`?)?", sql, re.IGNORECASE
    )
    seen: list[str] = []
    for first, second in names:
        name = second or first
        if name.lower() not in ("information_schema", "dual") and name not in seen:
            seen.append(name)
    return seen


class DatabaseUnavailableError(RuntimeError):
    """A database cannot be reached, answered with an error, or kept a session waiting too long; the message
    names the database, its environment variable, and what to do."""


def url_advice(env_var: str) -> str:
    where = f"the URL in {env_var}" if env_var else "its URL"
    return f"check {where} (mysql://user:password@host:port/database)"


def database_error(
    name: str,
    env_var: str,
    where: str,
    error: pymysql.err.MySQLError,
    *,
    doing: str,
    seconds: float | None = None,
    timeouts: SessionTimeouts | None = None,
) -> DatabaseUnavailableError:
    """One message for a failed session: which database and variable, what it was doing, which wait ended, and
    what to do (a lock wait or a slow server is no wrong URL)."""
    timeouts = timeouts or SessionTimeouts.from_env()
    wait = timeouts.describe_wait(error, seconds)
    detail = wait or (str(error.args[-1]) if error.args else str(error))
    code = f" [MySQL {error.args[0]}]" if error.args and isinstance(error.args[0], int) and not wait else ""
    advice = timeouts.advice(error)
    advice = f"{advice} (database of {env_var})" if advice and env_var else advice or url_advice(env_var)
    return DatabaseUnavailableError(f"{name}: {doing} at {where}: {detail}{code}; {advice}")


class LocalFileRefusedError(pymysql.err.MySQLError):
    """The server asked for a local file other than the one being loaded. Not an OperationalError: no caller
    may mistake it for "local infile disabled" and quietly fall back."""


class _GuardedResult(MySQLResult):
    def _read_load_local_packet(self, first_packet):
        connection: GuardedConnection = self.connection
        requested = LoadLocalPacketWrapper(first_packet).filename
        if isinstance(requested, bytes):
            requested = requested.decode("utf-8", "replace")
        if connection.allowed_local_file is None or requested != connection.allowed_local_file:
            # Answer with an empty file (the protocol's "no data"), then refuse.
            connection.write_packet(b"")
            connection._read_packet()  # the server's answer to the empty file, OK or error
            raise LocalFileRefusedError(
                f"the server at {connection.host}:{connection.port} asked for local file {requested!r}, which "
                "this client is not loading: refused (a rogue or intercepted endpoint?)",
            )
        super()._read_load_local_packet(first_packet)


_PREFERRED_TLS_CONTEXT: ssl.SSLContext | None = None


class GuardedConnection(Connection):
    """A pymysql connection that sends a local file only when the client itself is loading that file."""

    allowed_local_file: str | None = None

    def _create_ssl_ctx(self, sslp):
        # A URL without TLS parameters makes the driver try TLS where the server offers it ("preferred"), with a
        # default context built for every connection: loading the system's CA store took 30-120 ms, more than
        # the connection itself (a run opens about a hundred). That context reads nothing of the URL: built once.
        # Contexts for the URL's own TLS files are built per connection (the files may be rotated).
        global _PREFERRED_TLS_CONTEXT
        if sslp == {} and not isinstance(sslp, ssl.SSLContext):
            if _PREFERRED_TLS_CONTEXT is None:
                _PREFERRED_TLS_CONTEXT = super()._create_ssl_ctx({})
            return _PREFERRED_TLS_CONTEXT
        return super()._create_ssl_ctx(sslp)

    def _read_query_result(self, unbuffered=False):
        self._result = None
        result = _GuardedResult(self)
        if unbuffered:
            result.init_unbuffered_query()
        else:
            result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows


@contextmanager
def allow_local_file(connection, path: str) -> Iterator[None]:
    """Lets the server read exactly `path` (LOAD DATA LOCAL INFILE of that file) for the block's duration."""
    if not isinstance(connection, GuardedConnection):
        raise TypeError("LOAD DATA LOCAL needs a connection opened by MySQLUrl.connect(local_infile=True)")
    connection.allowed_local_file = str(path)
    try:
        yield
    finally:
        connection.allowed_local_file = None


@dataclass(frozen=True)
class MySQLUrl:
    host: str
    port: int
    user: str
    password: str
    database: str
    # TLS query parameters, in URL order (see TLS_PARAMETERS)
    options: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def parse(cls, url: str, *, name: str = "database") -> MySQLUrl:
        """Parses a URL; `name` says which source it belongs to in error messages."""
        if not url or not url.strip():
            raise MySQLUrlError(f"{name}: the URL is empty; expected mysql://user:password@host:port/database")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("mysql", "mysql+pymysql", "mariadb"):
            raise MySQLUrlError(
                f"{name}: URL scheme {parts.scheme!r} is not supported; expected "
                "mysql://user:password@host:port/database"
            )
        database = parts.path.lstrip("/")
        if not database or "/" in database:
            raise MySQLUrlError(f"{name}: the URL names no database; expected mysql://user:password@host:port/database")
        try:
            port = parts.port or 3306
        except ValueError as error:
            raise MySQLUrlError(f"{name}: the URL's port is not a number ({error})") from None
        options = tuple(parse_qsl(parts.query, keep_blank_values=True))
        unknown = [key for key, _ in options if key not in TLS_PARAMETERS]
        if unknown:
            raise MySQLUrlError(f"{name}: unknown URL parameter(s) {unknown}; supported: {', '.join(TLS_PARAMETERS)}")
        for key, value in options:
            if key in _BOOLEAN_TLS_PARAMETERS and value.lower() not in _TRUE + _FALSE:
                raise MySQLUrlError(f"{name}: URL parameter {key}={value!r} must be true or false")
            if key not in _BOOLEAN_TLS_PARAMETERS and not os.path.isfile(value):
                raise MySQLUrlError(f"{name}: URL parameter {key}={value!r} is not a readable file")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=unquote(database),
            options=options,
        )

    def with_database(self, database: str) -> MySQLUrl:
        return MySQLUrl(self.host, self.port, self.user, self.password, database, self.options)

    def _query(self) -> str:
        return ("?" + urlencode(self.options, safe="/")) if self.options else ""

    def to_url(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"mysql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}{self._query()}"

    def redacted(self) -> str:
        """The URL with its password masked, safe to log."""
        auth = self.user + (":***" if self.password else "")
        return f"mysql://{auth}@{self.host}:{self.port}/{self.database}{self._query()}"

    def tls_options(self) -> dict:
        """The driver's TLS keyword arguments from the URL's query parameters (none: plain connection)."""
        return {
            key: (value.lower() in _TRUE) if key in _BOOLEAN_TLS_PARAMETERS else value for key, value in self.options
        }

    def connect(
        self,
        *,
        database: bool = True,
        autocommit: bool = False,
        read_only: bool = False,
        local_infile: bool = False,
        timeouts: SessionTimeouts | None = None,
        **kwargs,
    ):
        """Opens a pymysql connection; `read_only` makes every transaction of the session read-only.

        `local_infile` enables LOAD DATA LOCAL for files named with `allow_local_file` only: for the warehouse
        writer and the demo loader, never for a source. `timeouts` defaults to `SessionTimeouts.from_env()`."""
        timeouts = timeouts or SessionTimeouts.from_env()
        connection = GuardedConnection(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database if database else None,
            autocommit=autocommit,
            charset="utf8mb4",
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            write_timeout=timeouts.write,
            local_infile=local_infile,
            **self.tls_options(),
            **kwargs,
        )
        if any(self.tls_options().values()) and not isinstance(connection._sock, ssl.SSLSocket):
            # Older drivers fall back to plain text when the server offers no TLS: never, when the URL asks for it.
            connection.close()
            raise pymysql.err.OperationalError(2026, "TLS was asked for in the URL but the server does not offer it")
        with connection.cursor() as cursor:
            if read_only:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
            # Sessions speak UTC: DATETIME columns hold UTC and no server-side conversion may apply.
            # Row locks (InnoDB) and table/metadata locks (LOCK TABLES, DDL) wait at most the lock-wait timeout.
            cursor.execute(
                "SET time_zone = '+00:00', SESSION innodb_lock_wait_timeout = %s, SESSION lock_wait_timeout = %s",
                (timeouts.lock_wait, timeouts.lock_wait),
            )
        # the URL it was opened with: `query_frame_arrow` opens connectorx's session with the same
        connection.url = self
        return connection


@contextmanager
def transaction(connection) -> Iterator:
    """Yields an open connection; commits if the block succeeds, rolls back if it raises, closes it always."""
    try:
        yield connection
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def query_frame(cursor, sql: str, params, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Runs one query and returns its rows as a frame of the given dtypes (columns in SELECT order).

    The driver hands DECIMAL as Decimal and TINYINT as int: every column is cast to its declared dtype."""
    cursor.execute(sql, params)
    rows = cursor.fetchall()
    if not rows:
        return pl.DataFrame(schema=dict(schema))
    return pl.DataFrame(rows, schema=list(schema), orient="row", infer_schema_length=None).select(
        pl.col(name).cast(dtype) for name, dtype in schema.items()
    )


# Rows a streamed read turns into a frame at a time (`query_frame_streamed`).
STREAM_BATCH_ROWS = 100_000


def query_frame_streamed(
    connection, sql: str, params, schema: Mapping[str, pl.DataType], batch_rows: int = STREAM_BATCH_ROWS
) -> pl.DataFrame:
    """`query_frame` for large results: the rows are read unbuffered (`SSCursor`) and turned into a frame
    `batch_rows` at a time, so at most one batch is ever held as Python tuples. A buffered read of 3.3M control-
    limit rows of 34 columns held about 10 GB of tuples; the frame itself is under 1 GB."""
    frames = []
    with connection.cursor(pymysql.cursors.SSCursor) as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(batch_rows):
            frames.append(
                pl.DataFrame(rows, schema=list(schema), orient="row", infer_schema_length=None).select(
                    pl.col(name).cast(dtype) for name, dtype in schema.items()
                )
            )
    if not frames:
        return pl.DataFrame(schema=dict(schema))
    return pl.concat(frames, rechunk=False)


# The dtypes `query_frame_arrow` reads (what its casts are tested for).
ARROW_TYPES = (pl.String, pl.Date, pl.Boolean, pl.Float64, pl.Float32, pl.Int64, pl.Int32, pl.Int16, pl.Int8)

# Error codes of a statement that ran past its time limit: MariaDB's max_statement_time (1969), MySQL's
# MAX_EXECUTION_TIME (3024).
STATEMENT_TIMEOUT_CODES = (1969, 3024)


def arrow_readable(dtype: pl.DataType) -> bool:
    """Whether `query_frame_arrow` reads a column of this dtype."""
    return any(dtype == kind for kind in ARROW_TYPES)


def _limited(connection, select: str, timeouts: SessionTimeouts) -> str:
    """`select` with the session's limits as per-statement settings: connectorx opens its own session, which
    `MySQLUrl.connect` never configured. MariaDB: `SET STATEMENT max_statement_time (read timeout),
    lock_wait_timeout, innodb_lock_wait_timeout FOR`. MySQL (no SET STATEMENT): the optimizer hints
    `MAX_EXECUTION_TIME` (milliseconds; it applies to read-only SELECTs, which these are) and `SET_VAR` of both
    lock-wait timeouts."""
    read, lock = max(1, round(timeouts.read)), timeouts.lock_wait
    if "mariadb" in connection.get_server_info().lower():
        return (
            f"SET STATEMENT max_statement_time = {read}, lock_wait_timeout = {lock}, "
            f"innodb_lock_wait_timeout = {lock} FOR {select}"
        )
    hints = f"/*+ MAX_EXECUTION_TIME({read * 1000}) SET_VAR(lock_wait_timeout = {lock}) "
    hints += f"SET_VAR(innodb_lock_wait_timeout = {lock}) */"
    return select.replace("SELECT ", f"SELECT {hints} ", 1)


def _masked(text: str, url: MySQLUrl) -> str:
    """A connectorx message without the password, plain or percent-encoded (it has none today; kept so)."""
    for secret in sorted({url.password, quote(url.password, safe="")} - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def query_frame_arrow(
    connection,
    table: str,
    schema: Mapping[str, pl.DataType],
    where: str,
    params,
    database: str | None = None,
    timeouts: SessionTimeouts | None = None,
    index: str | None = None,
) -> pl.DataFrame:
    """The rows of `SELECT <schema's columns> FROM [database.]table [FORCE INDEX (index)] WHERE where` as a frame
    of the given dtypes
    (numbers, dates, booleans, strings), for large reads: connectorx reads the result over the MySQL protocol
    into Arrow in Rust, no value passes through Python (2.34M rows of a date, two strings and seven doubles:
    2.5 s, against 20.0 s through the driver; `benchmarks/warehouse_reads.py`).

    `connection` is an open session of `MySQLUrl.connect`: its URL gives connectorx's own session (same
    credentials, the password percent-encoded), and it renders `params` into the SQL with the driver's own
    escaping (connectorx takes no bind parameters). That session sees what is committed when it reads, not the
    snapshot of a transaction open on `connection`: every caller reads tables of upstream assets, committed
    before its step began (each table's days are written atomically).

    Bounded like the driver's sessions (`_limited`): a statement running past the read timeout or waiting past
    the lock-wait timeout ends in `pymysql.err.OperationalError` naming the table; connecting waits at most
    connectorx's pool timeout (30 s). A URL with TLS parameters is read through the driver
    (`query_frame_streamed`), which honours them. Errors never hold the password. The frame equals
    `query_frame_streamed`'s up to row order (none is promised)."""
    unsupported = [n for n, d in schema.items() if not arrow_readable(d)]
    if unsupported:
        raise TypeError(f"{table}: query_frame_arrow reads no {', '.join(unsupported)} ({schema[unsupported[0]]})")
    url: MySQLUrl | None = getattr(connection, "url", None)
    if url is None:
        raise TypeError(f"{table}: query_frame_arrow needs a connection opened by MySQLUrl.connect")
    columns = ", ".join(quote_identifier(name) for name in schema)
    qualified = (
        quote_identifier(table) if database is None else f"{quote_identifier(database)}.{quote_identifier(table)}"
    )
    if index is not None:
        qualified += force_index(index)
    select = f"SELECT {columns} FROM {qualified} WHERE {where}"
    if url.options:
        return query_frame_streamed(connection, select, params, schema)
    timeouts = timeouts or SessionTimeouts.from_env()
    with connection.cursor() as cursor:
        sql = _limited(connection, cursor.mogrify(select, params), timeouts)
    target = url if database is None else url.with_database(database)
    try:
        frame = pl.read_database_uri(sql, target.to_url(), engine="connectorx")
    except RuntimeError as error:
        text = _masked(str(error), url)
        found = re.search(r"ERROR (\d+) \(\w+\): (.*?)(?: \}|$)", text)
        code, detail = (int(found.group(1)), found.group(2)) if found else (2013, text)
        raise pymysql.err.OperationalError(code, f"{detail} (reading {table})") from None
    if frame.is_empty():
        return pl.DataFrame(schema=dict(schema))
    # connectorx types TINYINT(1) as Int8, DECIMAL as decimal: each column is cast to its declared dtype
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def table_exists(cursor, table: str, database: str | None = None) -> bool:
    """Whether `table` exists in `database` (default: the connection's current database)."""
    if database is None:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
            (table,),
        )
    else:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (database, table),
        )
    return cursor.fetchone()[0] > 0


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def create_database(connection, database: str) -> None:
    """CREATE DATABASE IF NOT EXISTS on an open server connection (DDL: it commits implicitly).

    No DDL when the database exists: DDL waits for every metadata lock on the database (a reader's LOCK
    TABLES, say), where a plain write only waits for the rows it touches."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (database,))
        if not cursor.fetchone()[0]:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)} CHARACTER SET utf8mb4")


def ensure_database(url: MySQLUrl) -> None:
    """Creates the URL's database when it does not exist yet."""
    with url.connect(database=False, autocommit=True) as connection:
        create_database(connection, url.database)


class ColumnDeclaration(Protocol):
    """What a table declaration needs of a column (Dagster's `TableColumn` has it)."""

    name: str
    type: str

    @property
    def constraints(self) -> Any: ...


def _column_ddl(column: ColumnDeclaration) -> str:
    null = "NULL" if column.constraints.nullable else "NOT NULL"
    return f"{quote_identifier(column.name)} {column.type} {null}"


def _index_ddl(name: str, columns: Sequence[str]) -> str:
    return f"INDEX {quote_identifier(name)} ({', '.join(quote_identifier(c) for c in columns)})"


def ensure_table(
    connection,
    database: str,
    table: str,
    columns: Sequence[ColumnDeclaration],
    primary_key: Sequence[str],
    indexes: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Creates the table as declared, or adds the declared columns it lacks, or lets a column declared
    nullable hold NULL, or adds the declared secondary `indexes` (name -> columns) it lacks, and commits (DDL
    would anyway). A table already as declared gets no DDL at all (see `create_database`)."""
    qualified = f"{quote_identifier(database)}.{quote_identifier(table)}"
    indexes = dict(indexes or {})
    body = [_column_ddl(column) for column in columns]
    if primary_key:
        body.append(f"PRIMARY KEY ({', '.join(quote_identifier(c) for c in primary_key)})")
    body += [_index_ddl(name, index_columns) for name, index_columns in indexes.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            (database, table),
        )
        existing = {name: nullable == "YES" for name, nullable in cursor.fetchall()}
        if not existing:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {qualified} (\n  " + ",\n  ".join(body) + "\n) ENGINE=InnoDB")
            existing = {column.name: column.constraints.nullable for column in columns}
        for column in columns:
            if column.name not in existing:
                # Additive schema evolution only: the warehouse contract never drops or renames columns.
                cursor.execute(
                    f"ALTER TABLE {qualified} ADD COLUMN {_column_ddl(column).replace(' NOT NULL', ' NULL')}"
                )
            elif column.constraints.nullable and not existing[column.name]:
                # A value that may now be unknown (NULL): relaxing NOT NULL keeps every row and every reader.
                cursor.execute(f"ALTER TABLE {qualified} MODIFY COLUMN {_column_ddl(column)}")
        if indexes:
            present = index_names(cursor, table, database)
            for name, index_columns in indexes.items():
                if name not in present:
                    # once, on a table created before the index was declared; the rows stay readable meanwhile
                    cursor.execute(f"ALTER TABLE {qualified} ADD {_index_ddl(name, index_columns)}")
    connection.commit()


def force_index(name: str) -> str:
    """The table reference's hint that reads it through the index `name` (after the table's name)."""
    return f" FORCE INDEX ({quote_identifier(name)})"


def index_hint(cursor, table: str, name: str) -> str:
    """`force_index(name)` when `table` (of the connection's current database) has that index, else nothing."""
    return force_index(name) if name in index_names(cursor, table) else ""


def index_names(cursor, table: str, database: str | None = None) -> set[str]:
    """The names of `table`'s indexes (PRIMARY included) in `database` (default: the connection's current one)."""
    cursor.execute(
        "SELECT DISTINCT index_name FROM information_schema.statistics "
        "WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name = %s",
        (database, table),
    )
    return {row[0] for row in cursor.fetchall()}


class BulkLoadError(RuntimeError):
    """A bulk load would store other values or fewer rows than the frame holds."""


# Bulk-load files: one folder per writing process, under the system's temporary directory.
LOAD_FOLDER_PREFIX = "store_anomaly_load_"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def load_folder() -> Path:
    """This process's folder for bulk-load files; first removes the folders of processes that are gone.

    A load removes its file when it ends, but a killed process cannot: its folder (named after its pid) is
    removed by the next process that bulk-loads, so no copy of warehouse rows outlives a kill for long."""
    base = Path(tempfile.gettempdir())
    for folder in base.glob(f"{LOAD_FOLDER_PREFIX}*"):
        pid = folder.name.removeprefix(LOAD_FOLDER_PREFIX)
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    own = base / f"{LOAD_FOLDER_PREFIX}{os.getpid()}"
    own.mkdir(mode=0o700, exist_ok=True)
    return own


def load_data_local_infile(cursor, table: str, frame: pl.DataFrame) -> None:
    """`LOAD DATA LOCAL INFILE` from a CSV written by polars: the fastest bulk path into MySQL.

    The CSV dialect: comma-separated, strings always quoted (so a string "NULL" stays a string), the unquoted
    word NULL for nulls, no escape character (polars doubles inner quotes), booleans as 0/1."""
    csv_ready = frame.with_columns(pl.col(pl.Boolean).cast(pl.Int8))
    fd, path = tempfile.mkstemp(suffix=".csv", dir=load_folder())
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
            raise BulkLoadError(f"LOAD DATA into {table} raised {warnings} warnings: {examples}")
        if loaded != frame.height:
            raise BulkLoadError(
                f"LOAD DATA into {table} stored {loaded} of {frame.height} rows "
                "(rows rejected as duplicates or malformed)"
            )
    finally:
        os.unlink(path)


def multi_row_inserts(cursor, table: str, frame: pl.DataFrame) -> None:
    """Multi-row INSERTs in chunks (pymysql folds executemany into one statement per chunk)."""
    columns = ", ".join(quote_identifier(c) for c in frame.columns)
    statement = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * frame.width)})"
    for chunk in frame.iter_slices(INSERT_CHUNK_ROWS):
        cursor.executemany(statement, chunk.rows())


def bulk_load(connection, table: str, frame: pl.DataFrame, *, use_load_data: bool = True) -> None:
    """Inserts every row of `frame` into `table` (a quoted name, columns matched by name) within the
    connection's open transaction: LOAD DATA LOCAL INFILE, or multi-row INSERTs where the server or the
    connection refuses local infile (open it with `local_infile=True` to allow it)."""
    if frame.is_empty():
        return
    with connection.cursor() as cursor:
        if use_load_data:
            try:
                load_data_local_infile(cursor, table, frame)
                return
            except pymysql.err.OperationalError as error:
                if error.args[0] not in LOCAL_INFILE_REFUSED:
                    raise
        multi_row_inserts(cursor, table, frame)


def in_own_session(connection, read: Callable[..., pl.DataFrame], *args, **kwargs) -> pl.DataFrame:
    """`read(session, *args, **kwargs)` through a read-only session of its own opened from `connection`'s URL: a
    session is never shared between threads, so a read run beside others (`read_concurrently`) takes this."""
    with connection.url.connect(read_only=True) as own:
        return read(own, *args, **kwargs)


def read_concurrently(reads: Sequence[Callable[[], pl.DataFrame]]) -> list[pl.DataFrame]:
    """Each of `reads` (a call that opens its own sessions, as `fetch_frame` does) all at once: independent
    aggregations are the servers' work, which one after the other would leave a core idle. The frames in the
    order of `reads`; the first error (in that order) is raised once every read has ended."""
    with ThreadPoolExecutor(max_workers=max(1, len(reads)), thread_name_prefix="concurrent-read") as pool:
        futures = [pool.submit(read) for read in reads]
    return [future.result() for future in futures]
