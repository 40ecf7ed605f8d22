"""Platform incidents: `store_anomaly_incidents` (warehouse contract) and one message per incident.

Four kinds: a failed run (`run_failed`: the failed asset, the root cause in one line, the command or UI action
that re-runs it), a daily run that has not succeeded by the 09:00 New York freshness deadline (`run_missed`), a
blocking check that failed (`check_failed`) and a late feed (`feed_late`, the source contract's definition in
`sources.feeds`, read from what the KPI asset skipped).

Whoever notices first records it: the CLI for the runs it executes in process (at once, after the run), the
daemon's run-status sensors for every other run, the deadline sensor for a missed run. The incident id is a key
(the run id for a failed run, the date for a late feed or a missed run), so a second noticer inserts nothing;
delivery takes the row with `SELECT ... FOR UPDATE SKIP LOCKED` and stamps `notified_at` in the same
transaction, so two noticers never send it twice. A recovery (the next successful run of that job, the check
passing, the feed's rows written) stamps `resolved_at`, and one message per recovering run announces the
incidents it resolved (`recovery_notified_at`). Messages go through apprise to STORE_ANOMALY_NOTIFY_URLS in
STORE_ANOMALY_LANGUAGE; both languages are stored. No message ever holds a password (`without_secrets`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetKey,
    AssetSpec,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from store_anomaly.alerts.notify import send_message, urls_from_env
from store_anomaly.automation.run_log import run_events, run_log_rows
from store_anomaly.mysql import MySQLUrl, MySQLUrlError, ensure_table
from store_anomaly.partitions import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITIONS_TIME_ZONE,
    SKIPPED_DATES_KEY,
)
from store_anomaly.resources import Warehouse
from store_anomaly.settings import (
    CLOSED_DAYS_ENV_VAR,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    SOURCE_ENV_VARS,
    WAREHOUSE_ENV_VAR,
    SettingsError,
    language_from_env,
)
from store_anomaly.table_schemas import table_schema
from store_anomaly.texts import texts_for

INCIDENTS_TABLE = "store_anomaly_incidents"
INCIDENT_COLUMNS = table_schema(
    ("incident_id", "VARCHAR(96)", "the incident's key: kind and run id, or kind, subject and date", False),
    ("kind", "VARCHAR(16)", "run_failed, run_missed, feed_late or check_failed", False),
    ("subject", "VARCHAR(191)", "the job, asset (asset.check for a check) or source concerned", False),
    ("business_date", "DATE", "the business date concerned (missed run, late feed; a run's last date)"),
    ("opened_at", "DATETIME(6)", "when it was first noticed (UTC)", False),
    ("resolved_at", "DATETIME(6)", "when it recovered (UTC); NULL while open"),
    ("message", "TEXT", "the message, English", False),
    ("notified_at", "DATETIME(6)", "when the message was delivered (UTC); NULL: not yet"),
    ("message_zh", "TEXT", "the message, Chinese"),
    ("job_name", "VARCHAR(128)", "the job concerned (a recovery is its next successful run)"),
    ("run_id", "VARCHAR(64)", "the run in which it was noticed"),
    ("noticed_by", "VARCHAR(32)", "cli, sensor or deadline"),
    ("resolved_by_run_id", "VARCHAR(64)", "the run that recovered it"),
    ("recovery_notified_at", "DATETIME(6)", "when the recovery message was delivered (UTC)"),
    (
        "run_ended_at",
        "DATETIME(6)",
        "when the run in which it was noticed ended (UTC); only a run started later resolves it",
    ),
)
INCIDENTS_SPEC = AssetSpec(
    INCIDENTS_TABLE,
    group_name="operations",
    kinds={"mysql"},
    description="One row per platform incident (failed run, missed daily run, failed blocking check, late feed), "
    "written and announced once by whoever notices it first (the CLI or the daemon's sensors).",
    metadata={"dagster/column_schema": INCIDENT_COLUMNS, "primary_key": ["incident_id"]},
)

DAILY_JOB = "daily_refresh_job"
# The freshness deadline of every warehouse table (definitions.DAILY_FRESHNESS): 09:00 New York.
DEADLINE = time(9, 0)
LATE_FEED_SOURCE = "sales_order"
METRICS_ASSET = "store_daily_metrics"
CAUSE_CHARACTERS = 300


# --------------------------------------------------------------------------------------------------------
# Texts
# --------------------------------------------------------------------------------------------------------


def language() -> str:
    """The language messages are sent in: STORE_ANOMALY_LANGUAGE (en, zh); both are stored.

    An invalid value falls back to the default language here, and only here: an incident reports that the
    platform is failing, and must reach someone even when a setting is wrong. Every other reader of the
    variable (alert notifications, report pages) fails with the error naming it."""
    try:
        return language_from_env()
    except SettingsError:
        return DEFAULT_LANGUAGE


def text(lang: str, key: str, **values: object) -> str:
    """An incident text (`incident.*` keys of the text catalog, `store_anomaly.texts`) in `lang`."""
    return texts_for(lang)(key, **values)


def _secrets() -> set[str]:
    """The passwords of every URL and instance setting the platform reads: never in a message."""
    found = set()
    for variable in (*SOURCE_ENV_VARS.values(), WAREHOUSE_ENV_VAR):
        try:
            password = MySQLUrl.parse(os.environ.get(variable, ""), name=variable).password
        except (MySQLUrlError, ValueError):
            continue
        if password:
            found.add(password)
    if os.environ.get("DAGSTER_MYSQL_PASSWORD"):
        found.add(os.environ["DAGSTER_MYSQL_PASSWORD"])
    return found | {re.sub(r"[^A-Za-z0-9_.~-]", lambda m: f"%{ord(m.group()):02X}", s) for s in found}


def without_secrets(message: str) -> str:
    """`message` with the password of any URL masked (`user:***@`) and every configured password removed."""
    masked = re.sub(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]*):[^@\s]*@", r"\1:***@", message)
    for secret in sorted(_secrets(), key=len, reverse=True):
        masked = masked.replace(secret, "***")
    return masked


def one_line(message: str | None) -> str | None:
    if not message:
        return None
    line = " ".join(message.split())
    return line if len(line) <= CAUSE_CHARACTERS else line[: CAUSE_CHARACTERS - 3] + "..."


# --------------------------------------------------------------------------------------------------------
# What a run says
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    incident_id: str
    kind: str
    subject: str
    business_date: date | None
    job_name: str | None
    run_id: str | None
    messages: Mapping[str, str]  # language -> title + "\n\n" + body
    run_ended_at: datetime | None = None


@dataclass(frozen=True)
class Recovery:
    """Open incidents a run resolves: of `kind`, matching `subject` or `job_name`, or on `dates`."""

    kind: str
    job_name: str | None = None
    subjects: frozenset[str] = frozenset()
    dates: frozenset[date] = frozenset()
    until: date | None = None  # run_missed: every missed date up to this one
    # run_failed, check_failed: only incidents noticed in runs that ended before the recovering run started. The
    # daemon's sensors see runs in no fixed order: a success seen after a later failure recovers nothing.
    started_at: datetime | None = None


@dataclass
class RunFindings:
    run_id: str
    incidents: list[Incident] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)


def _message(lang: str, kind: str, **values: object) -> str:
    return without_secrets(
        text(lang, f"incident.{kind}.title", **values) + "\n\n" + text(lang, f"incident.{kind}.body", **values)
    )


def _range(tags: Mapping[str, str]) -> tuple[str | None, str | None]:
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start is None and tags.get("dagster/partition"):
        start = end = tags["dagster/partition"]
    return start, end


def _rerun(lang: str, run_id: str, start: str | None, end: str | None) -> str:
    if start and end:
        return text(lang, "incident.run_failed.rerun_cli", start=start, end=end, run_id=run_id)
    return text(lang, "incident.run_failed.rerun_ui", run_id=run_id)


def _dates(lang: str, start: str | None, end: str | None) -> str:
    if not start:
        return text(lang, "incident.all_dates")
    return start if start == end else f"{start} .. {end}"


def _utc(timestamp: float | None) -> datetime | None:
    """A run record's epoch seconds as the naive UTC datetime the incidents table stores."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


def run_findings(instance: DagsterInstance, run_id: str) -> RunFindings:
    """The incidents a finished run opens and the recoveries it brings, from its event log."""
    record = instance.get_run_record_by_id(run_id)
    findings = RunFindings(run_id)
    if record is None or record.dagster_run.status not in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
        return findings
    run = record.dagster_run
    started_at, ended_at = _utc(record.start_time), _utc(record.end_time)
    start, end = _range(run.tags)
    business_date = date.fromisoformat(end) if end else None
    events = run_events(instance, run_id)

    if run.status == DagsterRunStatus.FAILURE:
        rows = run_log_rows(instance, run_id)
        failed = rows.filter(rows["status"] == "failed")
        causes = [c for c in failed["error_message"].to_list() if c]
        # Every planned asset failed with one cause: the run failed before any step (e.g. a source unreachable).
        before_steps = failed.height > 1 and failed.height == rows.height and len(set(causes)) == 1
        subject = run.job_name if before_steps or failed.is_empty() else failed["asset"][0]
        messages = {}
        for lang in LANGUAGES:
            cause = one_line(causes[0] if causes else None) or text(lang, "incident.run_failed.no_cause")
            messages[lang] = _message(
                lang,
                "run_failed",
                subject=subject,
                run_id=run_id,
                job=run.job_name,
                dates=_dates(lang, start, end),
                cause=cause,
                rerun=_rerun(lang, run_id, start, end),
            )
        findings.incidents.append(
            Incident(
                f"run_failed:{run_id}", "run_failed", subject, business_date, run.job_name, run_id, messages, ended_at
            )
        )
    else:
        findings.recoveries.append(Recovery("run_failed", job_name=run.job_name, started_at=started_at))
        if run.job_name == DAILY_JOB and business_date:
            findings.recoveries.append(Recovery("run_missed", job_name=run.job_name, until=business_date))

    passed_checks: set[str] = set()
    for event in events:
        if event.event_type != DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        subject = f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}"
        if evaluation.passed:
            passed_checks.add(subject)
        elif evaluation.blocking and not any(i.subject == subject for i in findings.incidents):
            detail = one_line(evaluation.description) or one_line(
                "; ".join(f"{k}: {getattr(v, 'value', v)}" for k, v in evaluation.metadata.items())
            )
            findings.incidents.append(
                Incident(
                    f"check_failed:{subject}:{run_id}"[:96],
                    "check_failed",
                    subject,
                    business_date,
                    run.job_name,
                    run_id,
                    {
                        lang: _message(
                            lang,
                            "check_failed",
                            subject=subject,
                            run_id=run_id,
                            dates=_dates(lang, start, end),
                            detail=detail or "",
                            rerun=_rerun(lang, run_id, start, end),
                        )
                        for lang in LANGUAGES
                    },
                    ended_at,
                )
            )
    failed_checks = {i.subject for i in findings.incidents if i.kind == "check_failed"}
    if passed_checks - failed_checks:
        findings.recoveries.append(
            Recovery("check_failed", subjects=frozenset(passed_checks - failed_checks), started_at=started_at)
        )

    # Late feeds: the business dates the KPI asset did not write because the sales feed had no trade.
    written: set[date] = set()
    late: set[date] = set()
    for event in events:
        if event.event_type != DagsterEventType.ASSET_MATERIALIZATION:
            continue
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key != AssetKey(METRICS_ASSET):
            continue
        skipped = materialization.metadata.get(SKIPPED_DATES_KEY)
        skipped_days = {date.fromisoformat(d) for d in (getattr(skipped, "value", skipped) or [])}
        if "late_feed_dates" in materialization.metadata:
            late |= skipped_days
        if materialization.partition:
            day = date.fromisoformat(materialization.partition)
            if day not in skipped_days:
                written.add(day)
    written -= late
    for day in sorted(late):
        findings.incidents.append(
            Incident(
                f"feed_late:{LATE_FEED_SOURCE}:{day.isoformat()}",
                "feed_late",
                LATE_FEED_SOURCE,
                day,
                run.job_name,
                run_id,
                {
                    lang: _message(
                        lang,
                        "feed_late",
                        source=LATE_FEED_SOURCE,
                        day=day.isoformat(),
                        run_id=run_id,
                        reason=text(lang, "incident.feed_late.reason", variable=CLOSED_DAYS_ENV_VAR),
                    )
                    for lang in LANGUAGES
                },
            )
        )
    if written:
        findings.recoveries.append(
            Recovery("feed_late", subjects=frozenset({LATE_FEED_SOURCE}), dates=frozenset(written))
        )
    return findings


def missed_daily_run(instance: DagsterInstance, now: datetime) -> Incident | None:
    """The `run_missed` incident when, past 09:00 New York, no successful daily_refresh_job run has written
    yesterday's business date (whoever launched it: the schedule, the CLI, the UI); None otherwise."""
    local = now.astimezone(ZoneInfo(PARTITIONS_TIME_ZONE))
    if local.time() < DEADLINE:
        return None
    yesterday = local.date() - timedelta(days=1)
    runs = instance.get_runs(
        RunsFilter(job_name=DAILY_JOB, statuses=[DagsterRunStatus.SUCCESS], updated_after=now - timedelta(days=7)),
        limit=50,
    )
    ends = [(_range(run.tags)[1], run) for run in runs]
    if any(end and date.fromisoformat(end) >= yesterday for end, _ in ends):
        return None
    latest = max(
        (r for r in instance.get_runs(RunsFilter(job_name=DAILY_JOB, statuses=[DagsterRunStatus.SUCCESS]), limit=1)),
        key=lambda r: r.run_id,
        default=None,
    )
    start = yesterday - timedelta(days=3)
    messages = {}
    for lang in LANGUAGES:
        described = text(lang, "incident.run_missed.never")
        if latest is not None:
            described = f"{latest.run_id} ({_dates(lang, *_range(latest.tags))})"
        messages[lang] = _message(
            lang, "run_missed", job=DAILY_JOB, day=yesterday.isoformat(), latest=described, start=start.isoformat()
        )
    return Incident(
        f"run_missed:{DAILY_JOB}:{yesterday.isoformat()}", "run_missed", DAILY_JOB, yesterday, DAILY_JOB, None, messages
    )


# --------------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_incidents_table(warehouse: Warehouse, connection) -> None:
    ensure_table(connection, warehouse.parsed_url.database, INCIDENTS_TABLE, INCIDENT_COLUMNS.columns, ["incident_id"])


def record_incidents(
    warehouse: Warehouse,
    incidents: Iterable[Incident],
    recoveries: Iterable[Recovery],
    *,
    run_id: str | None,
    noticed_by: str,
) -> list[str]:
    """Inserts the incidents not recorded yet (a key already there, or an open incident of the same kind and
    subject for a check, is left alone) and resolves what the recoveries name; returns the new incident ids."""
    incidents, recoveries = list(incidents), list(recoveries)
    warehouse.ensure_database()
    new: list[str] = []
    with warehouse.connect() as connection:
        ensure_incidents_table(warehouse, connection)
        with connection.cursor() as cursor:
            for incident in incidents:
                if incident.kind == "check_failed":
                    cursor.execute(
                        f"SELECT 1 FROM {INCIDENTS_TABLE} WHERE kind = 'check_failed' AND subject = %s "
                        "AND resolved_at IS NULL",
                        (incident.subject,),
                    )
                    if cursor.fetchone():
                        continue
                cursor.execute(
                    f"INSERT IGNORE INTO {INCIDENTS_TABLE} (incident_id, kind, subject, business_date, opened_at, "
                    "message, message_zh, job_name, run_id, noticed_by, run_ended_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        incident.incident_id,
                        incident.kind,
                        incident.subject,
                        incident.business_date,
                        _now(),
                        incident.messages["en"],
                        incident.messages["zh"],
                        incident.job_name,
                        incident.run_id,
                        noticed_by,
                        incident.run_ended_at,
                    ),
                )
                if cursor.rowcount:
                    new.append(incident.incident_id)
            opened_here = [i.incident_id for i in incidents]
            for recovery in recoveries:
                where, params = ["kind = %s", "resolved_at IS NULL"], [recovery.kind]
                if recovery.job_name:
                    where.append("job_name = %s")
                    params.append(recovery.job_name)
                if recovery.subjects:
                    where.append(f"subject IN ({', '.join(['%s'] * len(recovery.subjects))})")
                    params.extend(sorted(recovery.subjects))
                if recovery.dates:
                    where.append(f"business_date IN ({', '.join(['%s'] * len(recovery.dates))})")
                    params.extend(sorted(recovery.dates))
                if recovery.started_at:
                    where.append("COALESCE(run_ended_at, opened_at) <= %s")
                    params.append(recovery.started_at)
                if recovery.until:
                    where.append("business_date <= %s")
                    params.append(recovery.until)
                if opened_here:
                    where.append(f"incident_id NOT IN ({', '.join(['%s'] * len(opened_here))})")
                    params.extend(opened_here)
                cursor.execute(
                    f"UPDATE {INCIDENTS_TABLE} SET resolved_at = %s, resolved_by_run_id = %s WHERE {' AND '.join(where)}",
                    [_now(), run_id, *params],
                )
    return new


@dataclass(frozen=True)
class IncidentDelivery:
    sent: tuple[str, ...] = ()  # incident ids announced
    recoveries: tuple[str, ...] = ()  # incident ids whose recovery was announced
    failed: tuple[str, ...] = ()  # why a delivery failed (retried on the next look)


def deliver_incidents(warehouse: Warehouse, urls: list[str], lang: str | None = None) -> IncidentDelivery:
    """Sends every open incident not yet announced, and one recovery message per recovering run for the
    announced incidents resolved since, each exactly once (rows taken FOR UPDATE SKIP LOCKED, stamped in the
    same transaction). Nothing without a URL."""
    if not urls:
        return IncidentDelivery()
    lang = lang or language()
    column = "message_zh" if lang == "zh" else "message"
    sent, recovered, failed = [], [], []
    with warehouse.connect() as connection:
        ensure_incidents_table(warehouse, connection)
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            connection.begin()
            cursor.execute(
                f"SELECT incident_id, {column} FROM {INCIDENTS_TABLE} WHERE notified_at IS NULL "
                "AND resolved_at IS NULL ORDER BY opened_at, incident_id FOR UPDATE SKIP LOCKED"
            )
            for incident_id, message in cursor.fetchall():
                title, _, body = message.partition("\n\n")
                outcome = send_message(urls, title, body, failure=True)
                if outcome.delivered:
                    cursor.execute(
                        f"UPDATE {INCIDENTS_TABLE} SET notified_at = %s WHERE incident_id = %s", (_now(), incident_id)
                    )
                    sent.append(incident_id)
                if outcome.failed_targets:
                    failed.append(f"{incident_id}: {outcome.reason}")
            connection.commit()
            connection.begin()
            cursor.execute(
                f"SELECT incident_id, kind, subject, business_date, opened_at, resolved_at, resolved_by_run_id, run_id "
                f"FROM {INCIDENTS_TABLE} WHERE resolved_at IS NOT NULL AND notified_at IS NOT NULL "
                "AND recovery_notified_at IS NULL ORDER BY resolved_at, incident_id FOR UPDATE SKIP LOCKED"
            )
            groups: dict[str, list[tuple]] = {}
            for row in cursor.fetchall():
                groups.setdefault(row[6] or "", []).append(row)
            for run_id, rows in groups.items():
                items = [
                    text(
                        lang,
                        "incident.recovered.item",
                        kind=text(lang, f"incident.kind.{kind}"),
                        subject=subject,
                        day=f" {day.isoformat()}" if day else "",
                        opened=f"{opened:%Y-%m-%d %H:%M}",
                        failed_run=failed_run or "-",
                    )
                    for _, kind, subject, day, opened, _, _, failed_run in rows
                ]
                subjects = ", ".join(dict.fromkeys(subject for _, _, subject, *_ in rows))
                title = text(lang, "incident.recovered.title", subject=subjects)
                body = text(
                    lang,
                    "incident.recovered.body",
                    run_id=run_id or "-",
                    at=f"{rows[-1][5]:%Y-%m-%d %H:%M}",
                    incidents=text(lang, "incident.join").join(items),
                )
                outcome = send_message(urls, without_secrets(title), without_secrets(body), failure=False)
                if outcome.delivered:
                    cursor.executemany(
                        f"UPDATE {INCIDENTS_TABLE} SET recovery_notified_at = %s WHERE incident_id = %s",
                        [(_now(), row[0]) for row in rows],
                    )
                    recovered.extend(row[0] for row in rows)
                if outcome.failed_targets:
                    failed.append(f"recovery of {', '.join(row[0] for row in rows)}: {outcome.reason}")
    return IncidentDelivery(tuple(sent), tuple(recovered), tuple(failed))


def process_run(
    instance: DagsterInstance, run_id: str, warehouse: Warehouse, *, noticed_by: str
) -> tuple[RunFindings, IncidentDelivery]:
    """Records what a finished run opens and resolves, then announces what is pending."""
    findings = run_findings(instance, run_id)
    record_incidents(warehouse, findings.incidents, findings.recoveries, run_id=run_id, noticed_by=noticed_by)
    return findings, deliver_incidents(warehouse, urls_from_env())


def open_incidents(connection) -> list[dict]:
    """The open incidents, oldest first (empty before the table exists)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
            (INCIDENTS_TABLE,),
        )
        if not cursor.fetchone()[0]:
            return []
        cursor.execute(
            f"SELECT incident_id, kind, subject, business_date, opened_at, notified_at, message FROM "
            f"{INCIDENTS_TABLE} WHERE resolved_at IS NULL ORDER BY opened_at, incident_id"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --------------------------------------------------------------------------------------------------------
# The daemon's noticers
# --------------------------------------------------------------------------------------------------------


class IncidentDeliveryError(RuntimeError):
    """Some incident messages could not be delivered; they are retried on the next tick."""


def _raise_failed(delivery: IncidentDelivery) -> None:
    if delivery.failed:
        raise IncidentDeliveryError(
            f"{len(delivery.failed)} incident messages failed and will be retried: " + "; ".join(delivery.failed)
        )


@run_failure_sensor(
    minimum_interval_seconds=10,
    default_status=DefaultSensorStatus.RUNNING,
    description="Records a failed run (and its failed blocking checks) in store_anomaly_incidents and announces "
    "it once through STORE_ANOMALY_NOTIFY_URLS, unless the CLI that ran it already did.",
)
def incidents_on_run_failure(context: RunStatusSensorContext, warehouse: Warehouse) -> None:
    _, delivery = process_run(context.instance, context.dagster_run.run_id, warehouse, noticed_by="sensor")
    _raise_failed(delivery)


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    minimum_interval_seconds=10,
    default_status=DefaultSensorStatus.RUNNING,
    description="A successful run resolves its job's failed-run incidents (and the checks that pass, the late "
    "feeds it wrote, the missed daily runs it covers) and announces the recovery once; records late feeds.",
)
def incidents_on_run_success(context: RunStatusSensorContext, warehouse: Warehouse) -> None:
    _, delivery = process_run(context.instance, context.dagster_run.run_id, warehouse, noticed_by="sensor")
    _raise_failed(delivery)


@sensor(
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description="Past 09:00 New York, records a missed daily run when no successful daily_refresh_job run has "
    "written yesterday's business date; retries incident messages that could not be delivered.",
)
def incidents_deadline_sensor(context: SensorEvaluationContext, warehouse: Warehouse):
    missed = missed_daily_run(context.instance, datetime.now(UTC))
    new = record_incidents(warehouse, [missed] if missed else [], [], run_id=None, noticed_by="deadline")
    delivery = deliver_incidents(warehouse, urls_from_env())
    _raise_failed(delivery)
    return SkipReason(
        f"{len(new)} new incidents; {len(delivery.sent)} announced, {len(delivery.recoveries)} recoveries announced"
    )


INCIDENT_SENSORS = [incidents_on_run_failure, incidents_on_run_success, incidents_deadline_sensor]
