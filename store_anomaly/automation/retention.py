"""Retention: a scheduled job purges what the platform no longer needs, so neither the warehouse's logs nor
the Dagster instance grow without bound.

- `store_anomaly_run_log` rows logged more than STORE_ANOMALY_RUN_LOG_RETENTION_DAYS ago (default 90, the
  original design's);
- `store_anomaly_alert_notifications` rows of alerts resolved whose last day is more than
  STORE_ANOMALY_NOTIFICATION_RETENTION_DAYS ago (default 365). Rows of open alerts are never purged (the latest
  delivery is what keeps an alert from being sent again), nor rows of alerts the table no longer holds;
- `store_anomaly_alert_acks` is never purged (operators' feedback, read by SPC);
- the Dagster instance's runs finished more than STORE_ANOMALY_DAGSTER_RUN_RETENTION_DAYS ago (default 30),
  with their event logs, through the instance API (`delete_run`), except a run that still holds the latest
  materialization of some asset partition: deleting it would make that partition read missing in the UI and
  to the late-rows sensor. Tick history is bounded by `retention:` in the instance's dagster.yaml.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    OpExecutionContext,
    RunsFilter,
    ScheduleDefinition,
    in_process_executor,
    job,
    op,
)

from store_anomaly.ack_log import ALERTS_TABLE
from store_anomaly.mysql import table_exists
from store_anomaly.partitions import PARTITIONS_TIME_ZONE
from store_anomaly.resources import Warehouse
from store_anomaly.settings import (
    DAGSTER_RUN_RETENTION_DAYS_ENV_VAR,
    DEFAULT_DAGSTER_RUN_RETENTION_DAYS,
    DEFAULT_NOTIFICATION_RETENTION_DAYS,
    DEFAULT_RUN_LOG_RETENTION_DAYS,
    NOTIFICATION_RETENTION_DAYS_ENV_VAR,
    RUN_LOG_RETENTION_DAYS_ENV_VAR,
    SettingsError,
    number_from_env,
)

RUN_LOG_TABLE = "store_anomaly_run_log"
NOTIFICATIONS_TABLE = "store_anomaly_alert_notifications"
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]


@dataclass(frozen=True)
class RetentionSettings:
    run_log_days: int = DEFAULT_RUN_LOG_RETENTION_DAYS
    notification_days: int = DEFAULT_NOTIFICATION_RETENTION_DAYS
    dagster_run_days: int = DEFAULT_DAGSTER_RUN_RETENTION_DAYS

    @classmethod
    def from_env(cls) -> "RetentionSettings":
        values = {}
        for name, variable, default in (
            ("run_log_days", RUN_LOG_RETENTION_DAYS_ENV_VAR, DEFAULT_RUN_LOG_RETENTION_DAYS),
            ("notification_days", NOTIFICATION_RETENTION_DAYS_ENV_VAR, DEFAULT_NOTIFICATION_RETENTION_DAYS),
            ("dagster_run_days", DAGSTER_RUN_RETENTION_DAYS_ENV_VAR, DEFAULT_DAGSTER_RUN_RETENTION_DAYS),
        ):
            days = number_from_env(variable, default)
            if days != int(days) or days < 1:
                raise SettingsError(f"{variable}={days:g}: a whole number of days, at least 1")
            values[name] = int(days)
        return cls(**values)


@dataclass(frozen=True)
class PurgeResult:
    run_log_rows: int
    notification_rows: int
    dagster_runs: int
    dagster_runs_kept: int  # old runs kept: they hold a partition's latest materialization


def purge_warehouse(warehouse: Warehouse, settings: RetentionSettings, now: datetime) -> tuple[int, int]:
    """Deletes the run log rows and notification rows past retention; returns how many of each."""
    logged_before = now.astimezone(UTC).replace(tzinfo=None) - timedelta(days=settings.run_log_days)
    # Alerts' days are business dates (New York): a year before today there.
    last_seen_before = now.astimezone(ZoneInfo(PARTITIONS_TIME_ZONE)).date() - timedelta(
        days=settings.notification_days
    )
    run_log = notifications = 0
    with warehouse.connect() as connection, connection.cursor() as cursor:
        if table_exists(cursor, RUN_LOG_TABLE):
            run_log = cursor.execute(f"DELETE FROM {RUN_LOG_TABLE} WHERE logged_at < %s", (logged_before,))
        if table_exists(cursor, NOTIFICATIONS_TABLE) and table_exists(cursor, ALERTS_TABLE):
            notifications = cursor.execute(
                f"DELETE n FROM {NOTIFICATIONS_TABLE} n JOIN {ALERTS_TABLE} a ON a.alert_id = n.alert_id "
                "WHERE a.status = 'resolved' AND a.last_seen_on < %s",
                (last_seen_before,),
            )
    return run_log, notifications


def purge_instance_runs(instance: DagsterInstance, older_than: datetime) -> tuple[list[str], list[str]]:
    """Deletes finished runs last updated before `older_than`, with their event logs, unless one holds the
    latest materialization of an asset partition; returns (deleted, kept) run ids."""
    latest: dict[AssetKey, dict[str | None, int]] = {}

    def latest_ids(asset_key: AssetKey) -> dict[str | None, int]:
        if asset_key not in latest:
            ids: dict[str | None, int] = dict(
                instance.get_latest_storage_id_by_partition(asset_key, DagsterEventType.ASSET_MATERIALIZATION)
            )
            newest = instance.fetch_materializations(asset_key, limit=1).records
            if newest and newest[0].partition_key is None:
                ids[None] = newest[0].storage_id
            latest[asset_key] = ids
        return latest[asset_key]

    deleted, kept = [], []
    for record in instance.get_run_records(RunsFilter(statuses=FINISHED, updated_before=older_than)):
        run_id = record.dagster_run.run_id
        materializations = instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=None
        ).records
        holds_latest = any(
            latest_ids(m.asset_key).get(m.partition_key) == m.storage_id for m in materializations if m.asset_key
        )
        if holds_latest:
            kept.append(run_id)
        else:
            instance.delete_run(run_id)
            deleted.append(run_id)
    return deleted, kept


def purge(
    instance: DagsterInstance, warehouse: Warehouse, settings: RetentionSettings, now: datetime | None = None
) -> PurgeResult:
    now = now or datetime.now(UTC)
    run_log, notifications = purge_warehouse(warehouse, settings, now)
    deleted, kept = purge_instance_runs(instance, now - timedelta(days=settings.dagster_run_days))
    return PurgeResult(run_log, notifications, len(deleted), len(kept))


@op(description="Purges run log rows, old notification rows and old Dagster runs past their retention.")
def purge_past_retention(context: OpExecutionContext, warehouse: Warehouse) -> None:
    settings = RetentionSettings.from_env()
    result = purge(context.instance, warehouse, settings)
    context.log.info(
        f"purged {result.run_log_rows} run log rows (> {settings.run_log_days} days), "
        f"{result.notification_rows} notification rows (alerts resolved > {settings.notification_days} days), "
        f"{result.dagster_runs} Dagster runs with their event logs (> {settings.dagster_run_days} days; "
        f"{result.dagster_runs_kept} older runs kept: they hold a partition's latest materialization)"
    )


@job(executor_def=in_process_executor, description="Purges what is past its retention (see README, Retention).")
def retention_job():
    purge_past_retention()


retention_schedule = ScheduleDefinition(
    job=retention_job,
    cron_schedule="0 5 * * *",
    execution_timezone=PARTITIONS_TIME_ZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="05:00 New York, before the daily refresh: the retention purge.",
)
