"""When the source databases are observed between refresh runs, and the freshness check that reads them.

Every refresh run observes the sources first; this schedule observes them every hour besides, so a late row
marks its business date's partitions stale (and the late-rows sensor's run clears it), and `data_is_current`
says on the KPI asset's page whether the sources delivered the latest business dates.
"""

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from store_anomaly.kpis.current import data_is_current
from store_anomaly.partitions import PARTITIONS_TIME_ZONE
from store_anomaly.sources.observed import OBSERVED_SOURCE_KEYS

observe_sources_job = define_asset_job(
    "observe_sources_job",
    selection=AssetSelection.assets(*OBSERVED_SOURCE_KEYS) | AssetSelection.checks(data_is_current),
    description="Observes the five source databases (per recent business date) and checks that the KPIs are "
    "current with them.",
)

observe_sources_schedule = ScheduleDefinition(
    name="observe_sources_schedule",
    job=observe_sources_job,
    cron_schedule="30 * * * *",
    execution_timezone=PARTITIONS_TIME_ZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every hour at :30: observes the sources and runs data_is_current.",
)
