"""The instance's MySQL event log writing a step's partition events in one transaction
(store_anomaly/instance_storage.py): the same events, partitions and asset index as one by one."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    MetadataValue,
    PartitionKeyRange,
    asset,
    define_asset_job,
    in_process_executor,
)
from dagster._core.storage.partition_status_cache import AssetPartitionStatus

from store_anomaly.instance_storage import LONG_BODY_COLUMNS, BatchedMySQLEventLogStorage
from store_anomaly.partitions import EVENT_BATCH_SIZE_ENV_VAR, RANGED_PLANNED_EVENTS_ENV_VAR, mark_failed_partitions
from store_anomaly_tests.deploy_instance import deploy_instance_env

DAYS = 40
partitions = DailyPartitionsDefinition(start_date="2025-01-01")


@asset(partitions_def=partitions)
def daily_table(context) -> None:
    context.add_output_metadata({"rows": MetadataValue.int(len(context.partition_keys))})


@asset(partitions_def=partitions, deps=[daily_table])
def downstream_table(context) -> None:
    if context.run.tags.get("fail"):
        raise RuntimeError("this run fails")


definitions = Definitions(
    assets=[daily_table, downstream_table], jobs=[define_asset_job("tables", executor_def=in_process_executor)]
)
RANGE_TAGS = {"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": "2025-02-09"}


def run_tables(instance: DagsterInstance, **tags: str):
    job = definitions.resolve_job_def("tables")
    return job.execute_in_process(instance=instance, tags={**RANGE_TAGS, **tags}, raise_on_error=False)


def materializations(instance: DagsterInstance, run_id: str) -> list[tuple[str, str | None, int]]:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    out = []
    for record in records:
        event = record.event_log_entry.dagster_event
        rows = event.step_materialization_data.materialization.metadata.get("rows")
        out.append((event.asset_key.to_user_string(), event.partition, rows.value if rows else None))
    return out


@pytest.mark.mysql
@pytest.mark.parametrize("multi_row_inserts", [True, False], ids=["ids-consecutive", "row-by-row"])
def test_batched_event_log_records_what_dagster_records_one_by_one(
    multi_row_inserts, fresh_database, tmp_path, monkeypatch
):
    for variable, value in deploy_instance_env(fresh_database, tmp_path / "home").items():
        monkeypatch.setenv(variable, value)
    Path(tmp_path, "home", "dagster.yaml").write_text(
        Path(__file__).parents[1].joinpath("dagster_instance/dagster.yaml").read_text()
    )
    monkeypatch.setenv(RANGED_PLANNED_EVENTS_ENV_VAR, "1")
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV_VAR, "1000")
    batches: list[int] = []
    store_event_batch = BatchedMySQLEventLogStorage.store_event_batch

    def counted(self, events):
        batches.append(len(events))
        return store_event_batch(self, events)

    monkeypatch.setattr(BatchedMySQLEventLogStorage, "store_event_batch", counted)
    if not multi_row_inserts:  # a server whose multi-row inserts may get non-consecutive ids (MySQL 8's default)
        monkeypatch.setattr(BatchedMySQLEventLogStorage, "_consecutive_id_step", lambda self, connection: None)
    else:  # this test's server must be one that allows them (MariaDB's default), or the case is not tested
        with DagsterInstance.get() as probe, probe.event_log_storage._connect() as connection:
            assert probe.event_log_storage._consecutive_id_step(connection) == 1
    with DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, BatchedMySQLEventLogStorage)
        batched = run_tables(instance)
        assert batched.success
        # One batch per asset's materializations (a planned event per asset: ranged).
        assert batches.count(DAYS) == 2
        with DagsterInstance.ephemeral() as reference:
            one_by_one = run_tables(reference)
            assert materializations(instance, batched.run_id) == materializations(reference, one_by_one.run_id)
            assert len(instance.all_logs(batched.run_id)) == len(reference.all_logs(one_by_one.run_id))
        for key in (AssetKey("daily_table"), AssetKey("downstream_table")):
            assert len(instance.get_materialized_partitions(key)) == DAYS
            latest = instance.get_latest_materialization_event(key)
            assert latest.dagster_event.partition == "2025-02-09"
            # The asset index (written once per batch) as one by one: the last materialization's record and
            # every event's data version tag.
            stored = instance.get_records_for_run(batched.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
            last_id = max(r.storage_id for r in stored.records if r.event_log_entry.dagster_event.asset_key == key)
            record = instance.get_asset_records([key])[0].asset_entry
            assert record.last_materialization_record.storage_id == last_id
            assert record.last_run_id == batched.run_id
            tags = instance.event_log_storage.get_event_tags_for_asset(key)
            assert len([t for t in tags if "dagster/data_version" in t]) == DAYS
            # Each event's tags are stored under its own id (the ids a multi-row insert was given).
            for stored_record in stored.records:
                event = stored_record.event_log_entry
                if event.dagster_event.asset_key == key:
                    version = event.dagster_event.step_materialization_data.materialization.tags["dagster/data_version"]
                    by_id = instance.event_log_storage.get_event_tags_for_asset(
                        key, filter_event_id=stored_record.storage_id
                    )
                    assert by_id == [{"dagster/data_version": version}]

        # A failed run: the partitions it did not materialize show failed (partitions.mark_failed_partitions).
        failed = run_tables(instance, fail="1")
        assert not failed.success
        assert mark_failed_partitions(instance, failed.run_id) == DAYS
        keys = partitions.get_partition_keys_in_range(PartitionKeyRange("2025-01-01", "2025-02-09"))
        status = instance.get_status_by_partition(AssetKey("downstream_table"), keys, partitions)
        assert set(status.values()) == {AssetPartitionStatus.FAILED}
        status = instance.get_status_by_partition(AssetKey("daily_table"), keys, partitions)
        assert set(status.values()) == {AssetPartitionStatus.MATERIALIZED}


@pytest.mark.mysql
@pytest.mark.parametrize("instance_file", ["dagster_instance/dagster.yaml", "deploy/dagster.yaml"])
def test_the_instance_stores_bodies_larger_than_a_mysql_text(instance_file, fresh_database, tmp_path, monkeypatch):
    """The automation daemon's evaluation of an asset of a year of daily partitions is 50-90 KB: on dagster-mysql's
    TEXT columns (64 KB) every tick failed. Both instance files widen those columns when the instance opens."""
    for variable, value in deploy_instance_env(fresh_database, tmp_path / "home").items():
        monkeypatch.setenv(variable, value)
    Path(tmp_path, "home", "dagster.yaml").write_text(Path(__file__).parents[1].joinpath(instance_file).read_text())
    body = "x" * 200_000
    with DagsterInstance.get() as instance:
        instance.run_storage.set_cursor_values({"a large cursor": body})
        assert instance.run_storage.get_cursor_values({"a large cursor"}) == {"a large cursor": body}
        with instance.schedule_storage._engine.connect() as connection:
            kinds = dict(
                connection.exec_driver_sql(
                    "SELECT CONCAT(table_name, '.', column_name), data_type FROM information_schema.columns "
                    "WHERE table_schema = DATABASE()"
                ).all()
            )
            connection.exec_driver_sql(
                "INSERT INTO asset_daemon_asset_evaluations (evaluation_id, asset_key, asset_evaluation_body, "
                "num_requested) VALUES (1, %s, %s, 0)",
                ('["store_anomaly_alerts"]', body),
            )
            connection.commit()
            (stored,) = connection.exec_driver_sql(
                "SELECT LENGTH(asset_evaluation_body) FROM asset_daemon_asset_evaluations"
            ).one()
    assert stored == len(body)
    assert {f"{table}.{column}": kinds[f"{table}.{column}"] for table, column in LONG_BODY_COLUMNS.items()} == {
        f"{table}.{column}": "longtext" for table, column in LONG_BODY_COLUMNS.items()
    }
