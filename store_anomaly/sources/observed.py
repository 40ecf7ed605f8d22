"""The five source databases as observable external assets of the lineage graph.

Each dated source is partitioned by business date like the warehouse: its observation records, per recent
business date, what the source holds (rows, latest event time, checksum: `sources.observations`) as that
partition's data version. The extract and KPI assets depend on them, so when rows arrive or change for a day
already computed, the UI and the GraphQL API show that day's partitions as stale, naming the source and the
date; materializing them again records the new version and clears it. The store master is one unpartitioned
asset (scope applies the current master to every date).

The observed dates are the `OBSERVED_DAYS` business dates ending at the latest complete business date and at the
latest materialized date; inside a run over a range, the run's own dates (at most the `OBSERVED_DAYS` ending at
its last). Every refresh run observes first, so what it computes is recorded against the version it read;
`observe_sources_schedule` observes between runs.
"""

from __future__ import annotations

from datetime import date

from dagster import (
    AssetKey,
    AssetsDefinition,
    DataVersion,
    DataVersionsByPartition,
    OpExecutionContext,
    SourceAsset,
    observable_source_asset,
)
from dagster._core.definitions.external_asset import create_external_asset_from_source_asset

from store_anomaly.date_ranges import contiguous_ranges
from store_anomaly.partitions import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    daily_partitions,
    first_partition_date,
    single_run,
)
from store_anomaly.resources import PlatformSettings, SourceDatabase
from store_anomaly.sources.assets import SHOPS_SCHEMA, SHOPS_SQL, date_scope
from store_anomaly.sources.observations import (
    data_versions,
    observe_source_ranges,
    observed_dates,
    store_master_version,
)

GROUP = "sources"
# The warehouse asset whose latest materialized date anchors the observed window.
ANCHOR_ASSET = AssetKey("store_daily_metrics")


def _last_complete_date() -> date:
    return date.fromisoformat(daily_partitions.get_last_partition_key())


def dates_to_observe(context: OpExecutionContext) -> list[date]:
    """The business dates an observation covers (see the module's docstring)."""
    tags = context.run.tags
    run_end = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get("dagster/partition")
    if run_end:
        # Inside a run over a range: the run's own dates (what it computes is recorded against the versions it
        # read), at most the OBSERVED_DAYS ending at its last. The dates it does not compute are for the hourly
        # observation: observing them here cost the daily run more than its own work.
        run_start = tags.get(ASSET_PARTITION_RANGE_START_TAG) or run_end
        first = max(first_partition_date(), date.fromisoformat(run_start))
        return observed_dates([date.fromisoformat(run_end)], first, _last_complete_date())
    materialized = context.instance.get_materialized_partitions(ANCHOR_ASSET)
    anchors = [_last_complete_date(), date.fromisoformat(max(materialized)) if materialized else None]
    return observed_dates(anchors, first_partition_date(), _last_complete_date())


def observe_dated_source(
    context: OpExecutionContext,
    source: str,
    database: SourceDatabase,
    opshop_source: SourceDatabase,
    settings: PlatformSettings,
) -> DataVersionsByPartition:
    days = dates_to_observe(context)
    shops = opshop_source.fetch_frame(SHOPS_SQL, None, SHOPS_SCHEMA)
    scopes = [date_scope(start, end, shops, settings) for start, end in contiguous_ranges(days)]
    versions = data_versions(source, observe_source_ranges(database, source, scopes), days)
    if days:
        context.log.info(f"{source}: observed {len(days)} business dates, {days[0]} .. {days[-1]}")
    return DataVersionsByPartition({day.isoformat(): DataVersion(text) for day, text in versions.items()})


def _observed(name: str, description: str):
    return observable_source_asset(
        name=name,
        group_name=GROUP,
        partitions_def=daily_partitions,
        description=description,
        tags={"dagster/kind/mysql": ""},
    )


# Dagster finds each function's resources by parameter name: one small function per source.
@_observed("sales_order", "The sales-order database (t_trade, t_trade_item), observed per business date.")
def sales_order(
    context: OpExecutionContext,
    sales_order_source: SourceDatabase,
    opshop_source: SourceDatabase,
    settings: PlatformSettings,
) -> DataVersionsByPartition:
    return observe_dated_source(context, "sales_order", sales_order_source, opshop_source, settings)


@_observed("opproduction", "The production database (t_production_order), observed per business date.")
def opproduction(
    context: OpExecutionContext,
    opproduction_source: SourceDatabase,
    opshop_source: SourceDatabase,
    settings: PlatformSettings,
) -> DataVersionsByPartition:
    return observe_dated_source(context, "opproduction", opproduction_source, opshop_source, settings)


@_observed(
    "opqualitycontrol",
    "The quality-control database (t_task_form, t_expiry_management), observed per business date.",
)
def opqualitycontrol(
    context: OpExecutionContext,
    opqualitycontrol_source: SourceDatabase,
    opshop_source: SourceDatabase,
    settings: PlatformSettings,
) -> DataVersionsByPartition:
    return observe_dated_source(context, "opqualitycontrol", opqualitycontrol_source, opshop_source, settings)


@_observed("opempefficiency", "The attendance database (t_attendance), observed per business date.")
def opempefficiency(
    context: OpExecutionContext,
    opempefficiency_source: SourceDatabase,
    opshop_source: SourceDatabase,
    settings: PlatformSettings,
) -> DataVersionsByPartition:
    return observe_dated_source(context, "opempefficiency", opempefficiency_source, opshop_source, settings)


@observable_source_asset(
    name="opshop",
    group_name=GROUP,
    description="The store master (t_shop, t_shop_dept): one version of the whole master, which scope applies "
    "to every business date.",
    tags={"dagster/kind/mysql": ""},
)
def opshop(opshop_source: SourceDatabase) -> DataVersion:
    return DataVersion(store_master_version(opshop_source))


def _single_run(source: SourceAsset) -> AssetsDefinition:
    """The observable source as the asset definition Dagster builds from it, with the warehouse's single-run
    backfill policy: otherwise the refresh job, which observes them first, would fall back to one run per date."""
    return create_external_asset_from_source_asset(source).with_attributes(backfill_policy=single_run)


OBSERVED_SOURCES = [_single_run(s) for s in (opshop, sales_order, opproduction, opqualitycontrol, opempefficiency)]
OBSERVED_SOURCE_KEYS = [source.key for source in OBSERVED_SOURCES]
