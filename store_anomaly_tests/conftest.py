"""Shared fixtures: every MySQL test gets its own freshly created databases on the real server, dropped after.

The server is the one in `STORE_ANOMALY_TEST_MYSQL_URL` (default: the local MariaDB as root). A test marked
`mysql` never skips: if the server cannot be reached the test fails, with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import SOURCE_ENV_VARS, TEST_MYSQL_URL_ENV_VAR, WAREHOUSE_ENV_VAR

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

    def drop_all(self) -> None:
        if not self.created:
            return
        with _server().connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
            for name in self.created:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def fresh_databases() -> Iterator[FreshDatabases]:
    databases = FreshDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.fixture
def fresh_database(fresh_databases: FreshDatabases) -> str:
    """The URL of one new, empty database."""
    return fresh_databases.create("db")


@pytest.fixture
def platform_urls(fresh_databases: FreshDatabases, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Five empty source databases and an empty warehouse, their URLs exported in the contract's variables.

    Keys are the source names of `store_anomaly.settings.SOURCE_ENV_VARS` plus "warehouse".
    """
    urls = {source: fresh_databases.create(source) for source in SOURCE_ENV_VARS}
    urls["warehouse"] = fresh_databases.create("warehouse")
    for source, variable in SOURCE_ENV_VARS.items():
        monkeypatch.setenv(variable, urls[source])
    monkeypatch.setenv(WAREHOUSE_ENV_VAR, urls["warehouse"])
    return urls
