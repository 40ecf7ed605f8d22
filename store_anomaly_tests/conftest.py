"""Shared fixtures: every MySQL test gets its own freshly created databases on the real server, dropped after.

The server is the one in `STORE_ANOMALY_TEST_MYSQL_URL` (default: the local MariaDB as root). A test marked
`mysql` never skips: if the server cannot be reached the test fails, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from store_anomaly.settings import REPORTS_DIR_ENV_VAR
from store_anomaly_tests.databases import FreshDatabases, export_platform
from store_anomaly_tests.endpoint import Endpoint


@pytest.fixture(autouse=True, scope="session")
def reports_in_a_temporary_folder(tmp_path_factory) -> Iterator[None]:
    """Runs that materialize the report assets write them under the session's temporary folder, never into
    the working directory's reports/."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(REPORTS_DIR_ENV_VAR, str(tmp_path_factory.mktemp("reports")))
        yield


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
    """Five empty source databases and an empty warehouse, their URLs exported in the contract's variables
    (notifications off until the test sets its own endpoint).

    Keys are the source names of `store_anomaly.settings.SOURCE_ENV_VARS` plus "warehouse".
    """
    urls = fresh_databases.create_platform()
    export_platform(urls, monkeypatch)
    return urls


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """A real local HTTP endpoint that apprise's json:// target posts to (`Endpoint.url`, `Endpoint.posts`)."""
    server = Endpoint()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
