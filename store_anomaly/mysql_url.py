"""Parsing and connecting with `mysql://user:password@host:port/database` URLs.

Every database the platform touches is named by one such URL, taken from the environment, so hosts and
credentials never appear in code. Passwords are URL-encoded in the URL and never printed: use
`MySQLUrl.redacted`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import polars as pl
import pymysql
import pymysql.cursors


class MySQLUrlError(ValueError):
    """A URL that is not of the form mysql://user:password@host:port/database."""


@dataclass(frozen=True)
class MySQLUrl:
    host: str
    port: int
    user: str
    password: str
    database: str

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
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=unquote(database),
        )

    def with_database(self, database: str) -> MySQLUrl:
        return MySQLUrl(self.host, self.port, self.user, self.password, database)

    def to_url(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"mysql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}"

    def redacted(self) -> str:
        """The URL with its password masked, safe to log."""
        auth = self.user + (":***" if self.password else "")
        return f"mysql://{auth}@{self.host}:{self.port}/{self.database}"

    def connect(
        self,
        *,
        database: bool = True,
        autocommit: bool = False,
        read_only: bool = False,
        local_infile: bool = False,
        **kwargs,
    ):
        """Opens a pymysql connection; `read_only` makes every transaction of the session read-only.

        `local_infile` lets the server read client files (LOAD DATA LOCAL): only for the warehouse writer, never
        for a source, which could otherwise ask the client for any file it can read."""
        connection = pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database if database else None,
            autocommit=autocommit,
            charset="utf8mb4",
            connect_timeout=10,
            local_infile=local_infile,
            **kwargs,
        )
        if read_only:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
        with connection.cursor() as cursor:
            # Sessions speak UTC: DATETIME columns hold UTC and no server-side conversion may apply.
            cursor.execute("SET time_zone = '+00:00'")
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
