"""Sessions that fail well: every wait has a timeout that names what it waited for, every connection error names
the database and its variable, a rogue server gets no local file, TLS comes from the URL.

The misbehaving servers are real sockets: one that accepts and never answers, and a proxy in front of the real
MariaDB that rewrites the server's LOAD DATA LOCAL request to ask for another file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from store_anomaly.automation.refresh import read_fingerprints
from store_anomaly.definitions import build_definitions
from store_anomaly.mysql import (
    LocalFileRefusedError,
    MySQLUrl,
    MySQLUrlError,
    SessionTimeouts,
    bulk_load,
)
from store_anomaly.resources import SourceDatabase, SourceUnavailableError, Warehouse
from store_anomaly.runner import root_causes
from store_anomaly.settings import LOCK_WAIT_TIMEOUT_ENV_VAR, READ_TIMEOUT_ENV_VAR, SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR
from store_anomaly_tests.databases import TEST_SERVER_URL, table_locked
from store_anomaly_tests.source_rows import create_all_source_tables

pytestmark = pytest.mark.mysql

CLI = str(Path(sys.executable).parent / "store-anomaly")


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


class SilentServer:
    """A TCP server that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


def test_a_server_that_never_answers_ends_in_a_timeout_naming_the_source(silent_server, monkeypatch):
    monkeypatch.setenv(READ_TIMEOUT_ENV_VAR, "1")
    source = SourceDatabase(
        name="sales_order",
        url=f"mysql://root@127.0.0.1:{silent_server.port}/sales",
        env_var=SOURCE_ENV_VARS["sales_order"],
    )
    began = time.perf_counter()
    with pytest.raises(SourceUnavailableError) as raised:
        source.verify_contract()
    assert time.perf_counter() - began < 10
    message = str(raised.value)
    assert message.startswith("sales_order: cannot connect at mysql://root@127.0.0.1:")
    assert SOURCE_ENV_VARS["sales_order"] in message and READ_TIMEOUT_ENV_VAR in message
    assert " after 1." in message  # how long it waited


def test_a_backfill_against_a_silent_source_fails_fast_naming_it(platform_urls, silent_server, tmp_path):
    create_all_source_tables(platform_urls)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        READ_TIMEOUT_ENV_VAR: "2",
        SOURCE_ENV_VARS["opproduction"]: f"mysql://root@127.0.0.1:{silent_server.port}/production",
    }
    began = time.perf_counter()
    result = cli("backfill", "--start", "2025-10-01", "--end", "2025-10-02", env=env)
    assert result.returncode == 1
    assert time.perf_counter() - began < 120
    last = result.stderr.strip().splitlines()[-1]
    assert "opproduction" in last and SOURCE_ENV_VARS["opproduction"] in result.stderr
    assert READ_TIMEOUT_ENV_VAR in result.stderr


def test_a_held_table_lock_ends_in_a_timeout_naming_the_table(platform_urls, monkeypatch):
    create_all_source_tables(platform_urls)
    monkeypatch.setenv(LOCK_WAIT_TIMEOUT_ENV_VAR, "1")
    with table_locked(platform_urls["sales_order"], "t_trade"):
        source = SourceDatabase(
            name="sales_order", url=platform_urls["sales_order"], env_var=SOURCE_ENV_VARS["sales_order"]
        )
        began = time.perf_counter()
        with pytest.raises(SourceUnavailableError) as raised:
            source.fetch_frame("SELECT COUNT(*) FROM t_trade", None, {"rows": pl.Int64})
        assert time.perf_counter() - began < 10
    message = str(raised.value)
    assert message.startswith("sales_order: reading t_trade at ")
    assert "lock wait ended after 1." in message and LOCK_WAIT_TIMEOUT_ENV_VAR in message
    assert SOURCE_ENV_VARS["sales_order"] in message
    lock_wait_advice_is_right(message)


def lock_wait_advice_is_right(message: str) -> None:
    """A lock wait is no wrong URL: the advice names the lock, never "check the URL"."""
    assert "lock wait ended after" in message and LOCK_WAIT_TIMEOUT_ENV_VAR in message, message
    assert "check the URL" not in message and "another session holds a lock" in message, message


def test_a_held_table_lock_during_the_late_rows_sensor_names_source_table_and_what_to_do(platform_urls, monkeypatch):
    create_all_source_tables(platform_urls)
    monkeypatch.setenv(LOCK_WAIT_TIMEOUT_ENV_VAR, "1")
    sources = {
        f"{name}_source": SourceDatabase(name=name, url=platform_urls[name], env_var=SOURCE_ENV_VARS[name])
        for name in ("sales_order", "opproduction", "opqualitycontrol", "opempefficiency")
    }
    with (
        table_locked(platform_urls["opqualitycontrol"], "t_expiry_management"),
        pytest.raises(SourceUnavailableError) as raised,
    ):
        read_fingerprints(sources, date(2025, 10, 1))
    message = str(raised.value)
    assert message.startswith("opqualitycontrol: reading t_expiry_management at "), message
    assert SOURCE_ENV_VARS["opqualitycontrol"] in message
    lock_wait_advice_is_right(message)


def test_a_held_table_lock_during_the_observation_job_is_its_root_cause_naming_the_source(platform_urls, monkeypatch):
    create_all_source_tables(platform_urls)
    monkeypatch.setenv(LOCK_WAIT_TIMEOUT_ENV_VAR, "1")
    with table_locked(platform_urls["sales_order"], "t_trade"):
        result = (
            build_definitions()
            .resolve_job_def("observe_sources_job")
            .execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
        )
    assert not result.success
    causes = root_causes(result)
    assert causes and all("sales_order: reading t_trade at " in cause for cause in causes), causes
    assert SOURCE_ENV_VARS["sales_order"] in causes[0]
    lock_wait_advice_is_right(causes[0])


def test_a_warehouse_row_lock_ends_in_a_timeout_naming_the_warehouse(fresh_database, monkeypatch):
    monkeypatch.setenv(LOCK_WAIT_TIMEOUT_ENV_VAR, "1")
    url = MySQLUrl.parse(fresh_database)
    with url.connect() as setup, setup.cursor() as cursor:
        cursor.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cursor.execute("INSERT INTO t VALUES (1, 1)")
        setup.commit()
    holder = url.connect()
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")  # holds the row lock, uncommitted
        warehouse = Warehouse(name="warehouse", url=fresh_database, env_var=WAREHOUSE_ENV_VAR)
        with (
            pytest.raises(SourceUnavailableError) as raised,
            warehouse.connect() as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("UPDATE t SET v = 2 WHERE id = 1")
    finally:
        holder.close()
    message = str(raised.value)
    assert message.startswith("warehouse: ") and WAREHOUSE_ENV_VAR in message
    assert "lock wait ended after" in message and LOCK_WAIT_TIMEOUT_ENV_VAR in message


def test_a_mid_run_source_error_names_source_table_and_variable(platform_urls):
    create_all_source_tables(platform_urls)
    source = SourceDatabase(
        name="sales_order", url=platform_urls["sales_order"], env_var=SOURCE_ENV_VARS["sales_order"]
    )
    with pytest.raises(SourceUnavailableError) as raised:
        source.fetch_frame("SELECT no_such_column FROM t_trade", None, {"x": pl.Int64})
    message = str(raised.value)
    assert message.startswith("sales_order: reading t_trade at ") and SOURCE_ENV_VARS["sales_order"] in message
    assert "no_such_column" in message and "[MySQL 1054]" in message


def test_a_wrong_warehouse_port_fails_at_start_and_the_last_line_is_the_runs_cause(platform_urls, tmp_path):
    create_all_source_tables(platform_urls)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), WAREHOUSE_ENV_VAR: "mysql://root@127.0.0.1:1/warehouse"}
    result = cli("backfill", "--start", "2025-10-01", "--end", "2025-10-02", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    # The run log cannot be written either (same warehouse): said, but before the run's own cause.
    run_log_line = next(i for i, line in enumerate(lines) if "run log" in line and "was not written" in line)
    cause = max(i for i, line in enumerate(lines) if "warehouse: cannot connect" in line and "run log" not in line)
    assert run_log_line < cause == len(lines) - 1
    assert WAREHOUSE_ENV_VAR in lines[-1]
    # No source work ran before the warehouse was found missing.
    assert "STEP_START" not in result.stderr and "source_sales_order_daily" not in result.stderr


def test_a_bad_or_unreachable_warehouse_is_labelled_warehouse_by_every_command(platform_urls, tmp_path):
    create_all_source_tables(platform_urls)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), WAREHOUSE_ENV_VAR: "postgres://root@127.0.0.1/warehouse"}
    result = cli("backfill", "--start", "2025-10-01", "--end", "2025-10-02", env=env)
    assert result.returncode == 1
    assert "source:" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "warehouse: URL scheme 'postgres' is not supported" in last and WAREHOUSE_ENV_VAR in last
    alerts = cli("alerts", env=env)
    assert alerts.returncode == 1 and alerts.stderr.startswith("store-anomaly alerts: warehouse: URL scheme")
    summary = cli("summary", env=env)
    assert summary.returncode == 1 and summary.stderr.startswith("store-anomaly summary: warehouse: URL scheme")
    assert WAREHOUSE_ENV_VAR in summary.stderr
    unreachable = {**env, WAREHOUSE_ENV_VAR: "mysql://root@127.0.0.1:1/warehouse"}
    for command in ("summary", "alerts", "rule-feedback"):
        result = cli(command, env=unreachable)
        assert result.returncode == 1, command
        assert result.stderr.startswith(f"store-anomaly {command}: warehouse: "), command
        assert "at mysql://root@127.0.0.1:1/warehouse: Can't connect" in result.stderr, command
        assert WAREHOUSE_ENV_VAR in result.stderr and len(result.stderr.strip().splitlines()) == 1, command


class FileSwappingProxy:
    """A man in the middle in front of the real server: when the server asks for the client's LOAD DATA file,
    the proxy asks for `wanted` instead, and records everything the client sends."""

    MARKER = b"store_anomaly_load_"

    def __init__(self, upstream: MySQLUrl, wanted: str) -> None:
        self.upstream = upstream
        self.wanted = wanted.encode()
        self.from_client = bytearray()
        self.swapped = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection((self.upstream.host, self.upstream.port))
            threading.Thread(target=self._client_to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(server, client), daemon=True).start()

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        while data := _recv(client):
            self.from_client += data
            server.sendall(data)
        server.close()

    def _server_to_client(self, server: socket.socket, client: socket.socket) -> None:
        buffer = b""
        while data := _recv(server):
            buffer += data
            while len(buffer) >= 4 and len(buffer) >= 4 + int.from_bytes(buffer[:3], "little"):
                length = int.from_bytes(buffer[:3], "little")
                sequence, payload, buffer = buffer[3:4], buffer[4 : 4 + length], buffer[4 + length :]
                if payload[:1] == b"\xfb" and self.MARKER in payload:  # LOAD DATA LOCAL request for our CSV
                    payload = b"\xfb" + self.wanted
                    self.swapped += 1
                client.sendall(len(payload).to_bytes(3, "little") + sequence + payload)
        client.close()

    def close(self) -> None:
        self.listener.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def test_a_rogue_warehouse_endpoint_cannot_read_another_local_file(fresh_database, tmp_path):
    secret = tmp_path / "credentials.txt"
    secret.write_text("TOP-SECRET-TOKEN-4711\n")
    real = MySQLUrl.parse(fresh_database)
    proxy = FileSwappingProxy(real, str(secret))
    try:
        through_proxy = MySQLUrl("127.0.0.1", proxy.port, real.user, real.password, real.database)
        with through_proxy.connect(local_infile=True) as connection:
            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE readings (day DATE, value DOUBLE)")
            frame = pl.DataFrame({"day": [None], "value": [1.5]}, schema={"day": pl.Date, "value": pl.Float64})
            with pytest.raises(LocalFileRefusedError, match="credentials.txt"):
                bulk_load(connection, "readings", frame)
            connection.rollback()
    finally:
        proxy.close()
    assert proxy.swapped == 1  # the server did ask for the other file
    assert b"TOP-SECRET-TOKEN-4711" not in proxy.from_client  # and never got it
    with real.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM readings")
        assert cursor.fetchone()[0] == 0  # no quiet fallback to INSERTs either


def test_tls_comes_from_url_parameters_and_is_never_silently_dropped(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not used: the server offers no TLS\n")
    server = MySQLUrl.parse(TEST_SERVER_URL)
    url = MySQLUrl.parse(f"{server.to_url()}?ssl_ca={ca}&ssl_verify_cert=true&ssl_verify_identity=false")
    assert url.tls_options() == {"ssl_ca": str(ca), "ssl_verify_cert": True, "ssl_verify_identity": False}
    assert url.redacted().endswith(f"?ssl_ca={ca}&ssl_verify_cert=true&ssl_verify_identity=false")
    assert MySQLUrl.parse(url.to_url()) == url
    # The test server offers no TLS: a URL that asks for it must fail, naming the database and variable.
    source = SourceDatabase(
        name="opshop", url=f"{server.to_url()}?ssl_verify_cert=true", env_var=SOURCE_ENV_VARS["opshop"]
    )
    with pytest.raises(SourceUnavailableError) as raised:
        source.check_reachable()
    assert str(raised.value).startswith("opshop: cannot connect") and SOURCE_ENV_VARS["opshop"] in str(raised.value)
    assert "SSL" in str(raised.value) or "TLS" in str(raised.value)
    with pytest.raises(MySQLUrlError, match="unknown URL parameter"):
        MySQLUrl.parse(f"{server.to_url()}?sslca={ca}")
    with pytest.raises(MySQLUrlError, match="not a readable file"):
        MySQLUrl.parse(f"{server.to_url()}?ssl_ca={tmp_path}/missing.pem")
    with pytest.raises(MySQLUrlError, match="must be true or false"):
        MySQLUrl.parse(f"{server.to_url()}?ssl_verify_cert=maybe")


def test_timeouts_come_from_the_environment_with_sane_defaults(monkeypatch):
    assert SessionTimeouts.from_env() == SessionTimeouts(connect=10, read=900, write=300, lock_wait=60)
    monkeypatch.setenv(READ_TIMEOUT_ENV_VAR, "30")
    monkeypatch.setenv(LOCK_WAIT_TIMEOUT_ENV_VAR, "2.4")
    assert SessionTimeouts.from_env() == SessionTimeouts(read=30, lock_wait=2)
    monkeypatch.setenv(READ_TIMEOUT_ENV_VAR, "soon")
    with pytest.raises(MySQLUrlError, match=f"{READ_TIMEOUT_ENV_VAR}='soon' is not a number"):
        SessionTimeouts.from_env()
    monkeypatch.setenv(READ_TIMEOUT_ENV_VAR, "0")
    with pytest.raises(MySQLUrlError, match="must be positive"):
        SessionTimeouts.from_env()
