"""The Dagster instance's event log on MySQL, writing a step's per-partition events in one transaction.

A step over a range of business dates records one materialization per asset and day (the UI's partition status
and per-day metadata need them), and Dagster records one "planned" event per asset and day unless ranged planned
events are on. dagster-mysql's event log storage writes each event on a connection of its own (its engine holds
no pool outside the webserver) in two transactions: the event row, then the asset index. With
`DAGSTER_EVENT_BATCH_SIZE` set, Dagster hands a step's partition events to `store_event_batch` together, which
open-source storages implement as one `store_event` after the other; this one stores the whole batch on one
connection in one transaction, and updates the asset index once per batch: a year's backfill of an asset costs
one commit instead of 2 x 365, and one serialization of its last materialization for the index instead of 365.

Configured in dagster.yaml like `MySQLEventLogStorage` (`mysql_db` or `mysql_url`):

    event_log_storage:
      module: store_anomaly.instance_storage
      class: BatchedMySQLEventLogStorage
      config:
        mysql_db: {hostname: ..., port: ..., username: ..., password: ..., db_name: ...}

The run and schedule storages (`LongBodyMySQLRunStorage`, `LongBodyMySQLScheduleStorage`) are dagster-mysql's
with their serialized-body columns widened from TEXT to LONGTEXT (`LONG_BODY_COLUMNS`), as is this event log.

Only Dagster, dagster-mysql and SQLAlchemy are imported here: the webserver and the daemon load this module with the
instance, before (and apart from) the code location.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dagster import EventLogEntry
from dagster._core.events import ASSET_EVENTS
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster_mysql import MySQLEventLogStorage, MySQLRunStorage, MySQLScheduleStorage
from dagster_mysql.utils import mysql_isolation_level, mysql_url_from_config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import QueuePool


def _indexed_asset_event(event: EventLogEntry) -> bool:
    """An event `store_event` also records in the asset index (materializations, planned, observations...)."""
    return bool(
        event.is_dagster_event
        and event.get_dagster_event().event_type in ASSET_EVENTS
        and event.get_dagster_event().asset_key
    )


# Columns dagster-mysql creates as TEXT, which MySQL caps at 64 KB, although they hold serialized bodies that grow
# with an asset's partitions: the automation daemon's evaluation of an asset of a year of daily partitions is
# 50-90 KB and failed every tick ("Data too long for column 'asset_evaluation_body'"), and a sensor's tick or
# cursor, a run's body and a check's evaluation grow the same way. PostgreSQL and SQLite have no such cap; Dagster
# widens some of these in new databases only. Each storage below widens those of its tables to LONGTEXT when it
# opens the database (a look at information_schema; an ALTER once).
LONG_BODY_COLUMNS = {
    "asset_daemon_asset_evaluations": "asset_evaluation_body",
    "job_ticks": "tick_body",
    "instigators": "instigator_body",
    "runs": "run_body",
    "kvs": "value",
    "asset_check_executions": "evaluation_event",
    "asset_keys": "asset_details",
}


def widen_body_columns(engine) -> list[str]:
    """ALTERs the `LONG_BODY_COLUMNS` still TEXT in the engine's database to LONGTEXT (nullability kept); returns
    the `table.column` names it widened."""
    widened = []
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND data_type = 'text'"
            )
        ).all()
        for table, column, nullable in rows:
            if LONG_BODY_COLUMNS.get(table) == column:
                null = "NULL" if nullable == "YES" else "NOT NULL"
                connection.execute(text(f"ALTER TABLE `{table}` MODIFY `{column}` LONGTEXT {null}"))
                widened.append(f"{table}.{column}")
        connection.commit()
    return widened


class _WidenedBodies:
    """Mixin for a dagster-mysql storage: its body columns widened to LONGTEXT (`LONG_BODY_COLUMNS`) on opening,
    and built from config as this class (dagster-mysql's `from_config_value` names its own)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        widen_body_columns(self._engine)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, mysql_url=mysql_url_from_config(config_value))


class LongBodyMySQLRunStorage(_WidenedBodies, MySQLRunStorage):
    """dagster-mysql's run storage, its body columns widened to LONGTEXT."""


class LongBodyMySQLScheduleStorage(_WidenedBodies, MySQLScheduleStorage):
    """dagster-mysql's schedule storage (ticks, sensor state, automation evaluations), its body columns widened
    to LONGTEXT."""


# Event rows per INSERT statement of a batch (a materialization's row is a few kB; MySQL's packet limit is 16 MB
# or more by default).
INSERT_CHUNK = 200


class BatchedMySQLEventLogStorage(MySQLEventLogStorage):
    """dagster-mysql's event log storage, with `store_event_batch` in one connection and one transaction.

    Every event row is written as `store_event` writes it, in the batch's order (several rows per statement
    where the server's ids allow it). The asset index (the tags
    table and each asset's row, which holds its last materialization) is written once per batch: the rows
    `store_event` would have left after the last event. Other events go through `store_event` itself, on the
    batch's connection. A failing batch rolls back whole, and Dagster then stores its events one by one."""

    def __init__(self, *args, **kwargs) -> None:
        self._batch = threading.local()
        self._tables: set[str] = set()
        super().__init__(*args, **kwargs)
        # dagster-mysql opens a new connection for every statement it runs outside the webserver (each event
        # outside a batch takes two or three); one kept open (checked by a ping, replaced hourly) serves them.
        # The webserver's own setting (optimize_for_webserver) replaces this engine as before.
        self._engine = create_engine(
            self.mysql_url,
            isolation_level=mysql_isolation_level(),
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=8,
            pool_recycle=3600,
            pool_pre_ping=True,
        )
        widen_body_columns(self._engine)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> BatchedMySQLEventLogStorage:
        return cls(inst_data=inst_data, mysql_url=mysql_url_from_config(config_value))

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if len(events) <= 1:
            for event in events:
                self.store_event(event)
            return
        with self._connect() as connection:
            self._batch.connection = connection
            try:
                asset_events: list[tuple[EventLogEntry, int]] = []
                pending: list[EventLogEntry] = []
                for event in events:
                    if _indexed_asset_event(event):
                        pending.append(event)
                        continue
                    asset_events += zip(pending, self._insert_rows(connection, pending), strict=True)
                    pending = []
                    self.store_event(event)  # as dagster-mysql stores it, on the batch's connection
                asset_events += zip(pending, self._insert_rows(connection, pending), strict=True)
                if asset_events:
                    # The asset index as `store_event` leaves it after each of them in turn: the data-version
                    # tags of every event (one statement), and each asset's row updated by the last event of each
                    # kind (materialization, planned, ...), in the order of those last events: every column of
                    # that row is the value the last event setting it wrote, one by one as at once.
                    self._store_asset_event_tags(connection, *zip(*asset_events, strict=True))
                    last: dict[tuple, tuple[EventLogEntry, int]] = {}
                    for event, event_id in asset_events:
                        kind = (event.get_dagster_event().asset_key, event.get_dagster_event().event_type_value)
                        last.pop(kind, None)
                        last[kind] = (event, event_id)
                    for event, event_id in last.values():
                        self._store_asset_event(connection, event, event_id)
            finally:
                self._batch.connection = None

    def _insert_rows(self, connection, events: Sequence[EventLogEntry]) -> list[int]:
        """Inserts the events' rows in their order; returns their ids. Where the server hands a multi-row
        insert consecutive ids (InnoDB's auto-increment lock mode 0 or 1: MariaDB's default), one statement per
        INSERT_CHUNK rows; otherwise (mode 2, MySQL 8's default) one statement per row."""
        step = self._consecutive_id_step(connection)
        if step is None or len(events) < 2:
            ids = []
            for event in events:
                with db_result(connection, self.prepare_insert_event(event)) as result:
                    ids.append(result.inserted_primary_key[0])
            return ids
        ids = []
        for start in range(0, len(events), INSERT_CHUNK):
            chunk = events[start : start + INSERT_CHUNK]
            connection.execute(self.prepare_insert_event_batch(chunk))
            first = connection.execute(text("SELECT LAST_INSERT_ID()")).scalar_one()
            ids += [first + index * step for index in range(len(chunk))]
        return ids

    def _consecutive_id_step(self, connection) -> int | None:
        """The id increment of a multi-row insert, when the server allocates its ids consecutively; else None."""
        if not hasattr(self, "_id_step"):
            mode, increment = connection.execute(
                text("SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment")
            ).one()
            self._id_step = int(increment) if int(mode) in (0, 1) else None
        return self._id_step

    @contextmanager
    def _batch_or_new(self) -> Iterator:
        connection = getattr(self._batch, "connection", None)
        if connection is not None:
            yield connection
        else:
            with self._connect() as fresh:
                yield fresh

    def has_table(self, table_name: str) -> bool:
        # Asked for every asset event (its tags table): a table, once there, stays.
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def run_connection(self, run_id: str | None = None):
        return self._batch_or_new()

    def index_connection(self):
        return self._batch_or_new()


def create_instance_database() -> str:
    """Creates the database DAGSTER_MYSQL_DB names on DAGSTER_MYSQL_HOST when missing (the demo's instance);
    returns what it did, for the Makefile's output."""
    from store_anomaly.mysql import MySQLUrl

    database = os.environ["DAGSTER_MYSQL_DB"]
    url = MySQLUrl(
        host=os.environ.get("DAGSTER_MYSQL_HOST", "127.0.0.1"),
        port=int(os.environ.get("DAGSTER_MYSQL_PORT", "3306")),
        user=os.environ.get("DAGSTER_MYSQL_USER", "root"),
        password=os.environ.get("DAGSTER_MYSQL_PASSWORD", ""),
        database=database,
    )
    with url.connect(database=False, autocommit=True) as connection, connection.cursor() as cursor:
        created = cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    return f"Dagster instance database {url.redacted()}" + (" created" if created else " present")


if __name__ == "__main__":
    print(create_instance_database())
