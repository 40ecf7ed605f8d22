"""The Dagster code location: every asset, check, job, schedule, sensor and resource of the platform.

What every warehouse table shares is applied here once: the MySQL IO manager stores every computed asset
(bound as the default `io_manager`), and every computed asset carries the same freshness policy.
"""

import gc
from datetime import timedelta

from dagster import (
    AssetSelection,
    AssetSpec,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    EnvVar,
    FreshnessPolicy,
    in_process_executor,
)

from store_anomaly.ack_log import ACK_LOG_SPEC
from store_anomaly.alerts.assets import ALERT_ASSETS
from store_anomaly.alerts.sensors import alert_notifications_sensor
from store_anomaly.automation.incidents import INCIDENT_SENSORS, INCIDENTS_SPEC
from store_anomaly.automation.observations import observe_sources_job, observe_sources_schedule
from store_anomaly.automation.refresh import daily_refresh_job, daily_refresh_schedule, late_source_rows_sensor
from store_anomaly.automation.retention import retention_job, retention_schedule
from store_anomaly.automation.run_log import RUN_LOG_SENSORS, RUN_LOG_SPEC
from store_anomaly.io_managers.mysql import MySQLIOManager, lock_timeout_from_env
from store_anomaly.kpis.assets import KPI_ASSETS
from store_anomaly.kpis.checks import KPI_CHECKS
from store_anomaly.kpis.current import data_is_current
from store_anomaly.partitions import PARTITIONS_TIME_ZONE, apply_bookkeeping_defaults
from store_anomaly.reports.assets import REPORT_ASSETS, REPORT_PAGE_ASSETS
from store_anomaly.resources import PlatformSettings, source_resources, warehouse_resource
from store_anomaly.settings import WAREHOUSE_ENV_VAR
from store_anomaly.sources.assets import SOURCE_ASSETS
from store_anomaly.sources.observed import OBSERVED_SOURCES
from store_anomaly.spc.assets import SPC_ASSETS

# Every process that loads the code location (a run worker, `dagster job execute`, the UI's code server) plans
# and records runs with ranged planned events and batched event writes, unless its environment says otherwise.
apply_bookkeeping_defaults()
# What importing the code location created (Dagster's and the platform's modules, a few hundred thousand objects)
# lives as long as the process: moved out of the cyclic collector's reach, so its full collections, which a
# run's allocations trigger, and those at the interpreter's exit no longer walk them (a 1,000-store daily run
# through `dagster job execute`: full collections 0.55-0.60 -> 0.32 s, the exit 0.81-0.87 -> 0.45-0.48 s;
# `benchmarks/gc_pauses.py`). A cycle that import left behind is never freed: once, and small.
gc.freeze()

ALL_ASSETS = [*SOURCE_ASSETS, *KPI_ASSETS, *SPC_ASSETS, *ALERT_ASSETS, *REPORT_ASSETS]
ALL_CHECKS = [*KPI_CHECKS, data_is_current]
# Logs written outside runs: declared for the lineage graph, never materialized by a job.
EXTERNAL_ASSETS = [ACK_LOG_SPEC, RUN_LOG_SPEC, INCIDENTS_SPEC]

# The daily refresh starts at 07:00 New York: by 09:00 every warehouse table must have been refreshed since
# 06:00, or the UI shows it as stale (and the lineage graph shows where the delay started).
DAILY_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="0 9 * * *", lower_bound_delta=timedelta(hours=3), timezone=PARTITIONS_TIME_ZONE
)

# Dagster's default automation sensor starts stopped; this one evaluates the alerts' and the HTML reports'
# conditions (rebuilt after a partition is materialized outside the refresh job).
alerts_automation_sensor = AutomationConditionSensorDefinition(
    "alerts_automation_sensor",
    target=AssetSelection.assets("store_anomaly_alerts", *REPORT_PAGE_ASSETS),
    default_status=DefaultSensorStatus.RUNNING,
)


def build_resources() -> dict:
    return {
        **source_resources(),
        "warehouse": warehouse_resource(),
        "io_manager": MySQLIOManager(url=EnvVar(WAREHOUSE_ENV_VAR), lock_timeout_seconds=lock_timeout_from_env()),
        "settings": PlatformSettings.from_env(),
    }


def with_daily_freshness(spec: AssetSpec) -> AssetSpec:
    return spec.replace_attributes(freshness_policy=DAILY_FRESHNESS)


def build_definitions() -> Definitions:
    """The code location, with settings read from the environment now."""
    return Definitions(
        assets=[*OBSERVED_SOURCES, *ALL_ASSETS, *EXTERNAL_ASSETS],
        asset_checks=ALL_CHECKS,
        jobs=[daily_refresh_job, observe_sources_job, retention_job],
        schedules=[daily_refresh_schedule, observe_sources_schedule, retention_schedule],
        sensors=[
            late_source_rows_sensor,
            alert_notifications_sensor,
            *RUN_LOG_SENSORS,
            *INCIDENT_SENSORS,
            alerts_automation_sensor,
        ],
        resources=build_resources(),
        # Materializations launched from the UI (a partition, a selection) run in process like the daily job.
        executor=in_process_executor,
    ).map_resolved_asset_specs(func=with_daily_freshness, selection=AssetSelection.assets(*ALL_ASSETS))


defs = build_definitions()
