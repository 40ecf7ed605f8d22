"""Fresh databases on the test server: created with unique names, dropped at teardown.

The server is the one in `STORE_ANOMALY_TEST_MYSQL_URL` (default: the local MariaDB as root).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import NOTIFY_URLS_ENV_VAR, SOURCE_ENV_VARS, TEST_MYSQL_URL_ENV_VAR, WAREHOUSE_ENV_VAR

TEST_SERVER_URL = os.environ.get(TEST_MYSQL_URL_ENV_VAR, "mysql://root@127.0.0.1:3306/test")


def _server() -> MySQLUrl:
    return MySQLUrl.parse(TEST_SERVER_URL, name="test server")


class FreshDatabases:
    """Creates uniquely named databases on the test server and drops them all at teardown."""

    def __init__(self) -> None:
        self.prefix = f"sat_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    def create(self, suffix: str) -> str:
        name = f"{self.prefix}_{suffix}"
        with _server().connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        self.created.append(name)
        return _server().with_database(name).to_url()

    def create_platform(self) -> dict[str, str]:
        """Five empty source databases and an empty warehouse: URLs keyed by the source names of
        `SOURCE_ENV_VARS` plus "warehouse"."""
        urls = {source: self.create(source) for source in SOURCE_ENV_VARS}
        urls["warehouse"] = self.create("warehouse")
        return urls

    def drop_all(self) -> None:
        if not self.created:
            return
        with _server().connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            for name in self.created:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def export_platform(urls: dict[str, str], patch) -> None:
    """Exports a platform's URLs (`FreshDatabases.create_platform`) in the contract's variables through a pytest
    MonkeyPatch, with notifications off: a test sends to its own endpoint or nowhere."""
    for source, variable in SOURCE_ENV_VARS.items():
        patch.setenv(variable, urls[source])
    patch.setenv(WAREHOUSE_ENV_VAR, urls["warehouse"])
    patch.delenv(NOTIFY_URLS_ENV_VAR, raising=False)


@contextmanager
def table_locked(url: str, table: str) -> Iterator[None]:
    """Another session holds `LOCK TABLES table WRITE` on `url`'s database while the block runs."""
    holder = MySQLUrl.parse(url).connect()
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"LOCK TABLES {table} WRITE")
        yield
    finally:
        holder.close()
