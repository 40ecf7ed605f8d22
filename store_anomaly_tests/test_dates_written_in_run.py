"""The dates a run wrote of an asset: its materialized partitions less the dates it declares skipped."""

from __future__ import annotations

from datetime import date

from dagster import DagsterInstance, DailyPartitionsDefinition, Output, asset, materialize, mem_io_manager

from store_anomaly.partitions import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    SKIPPED_DATES_KEY,
    dates_written_in_run,
    single_run,
)

DAYS = DailyPartitionsDefinition(start_date="2025-10-01")


@asset(partitions_def=DAYS, backfill_policy=single_run)
def daily_rows(context):
    # the range's middle date is a late feed: declared skipped, not written
    return Output(1, metadata={SKIPPED_DATES_KEY: ["2025-10-05"]})


@asset(partitions_def=DAYS, backfill_policy=single_run)
def other_rows(context):
    return Output(1)


def test_a_run_wrote_its_range_less_the_dates_it_skipped() -> None:
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [daily_rows, other_rows],
        instance=instance,
        resources={"io_manager": mem_io_manager},
        tags={ASSET_PARTITION_RANGE_START_TAG: "2025-10-04", ASSET_PARTITION_RANGE_END_TAG: "2025-10-06"},
    )
    assert result.success
    assert dates_written_in_run(instance, result.run_id, daily_rows.key) == {date(2025, 10, 4), date(2025, 10, 6)}
    assert dates_written_in_run(instance, result.run_id, other_rows.key) == {date(2025, 10, d) for d in (4, 5, 6)}
    # an asset the run did not materialize: nothing written (a check run alone compares every date)
    assert dates_written_in_run(instance, result.run_id, daily_rows.key.with_prefix("elsewhere")) == set()
