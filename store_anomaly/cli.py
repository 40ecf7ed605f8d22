"""`store-anomaly`: the command line of the platform.

    store-anomaly status
    store-anomaly demo-data [--stores N] [--start DATE] [--end DATE] [--seed S]
    store-anomaly backfill --start DATE --end DATE
    store-anomaly summary
    store-anomaly alerts [--open] [--shop US00001]
    store-anomaly alerts show ALERT_ID
    store-anomaly ack ALERT_ID --by NAME [--label confirmed|expected|false-alarm|new-normal] [--note TEXT]
    store-anomaly rule-feedback
    store-anomaly grafana-datasource [--output PATH]
    store-anomaly backtest [--rule-sets default,seed] [--onset-after-days N]
    store-anomaly report [--open] [--dir FOLDER]

Sources and warehouse come from the contract's environment variables; failures exit non-zero with a message
that says what went wrong and what to do.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date

from store_anomaly.settings import DEMO_END, DEMO_START, SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR, demo_source_urls_from_env


class CliError(Exception):
    """A failure the user can act on; printed without a traceback."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date of the form YYYY-MM-DD") from None


def _require_env(*variables: str) -> None:
    missing = [variable for variable in variables if not os.environ.get(variable)]
    if missing:
        raise CliError(f"{', '.join(missing)} not set: export the mysql:// URL of each (see README, 'Configuration')")


def cmd_demo_data(args: argparse.Namespace) -> None:
    from store_anomaly.sources.demo_data import generate_demo_sources
    from store_anomaly.sources.demo_loading import NotADemoDatabaseError

    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    if args.stores < 1:
        raise CliError("--stores must be at least 1")
    try:
        summary = generate_demo_sources(
            demo_source_urls_from_env(), start=args.start, end=args.end, stores=args.stores, seed=args.seed
        )
    except NotADemoDatabaseError as error:
        raise CliError(str(error)) from None
    print(summary)


def cmd_backfill(args: argparse.Namespace) -> None:
    from dagster import DagsterInstance

    from store_anomaly.io_managers.mysql import warehouse_url
    from store_anomaly.mysql import DatabaseUnavailableError
    from store_anomaly.partitions import partition_range_problem
    from store_anomaly.runner import (
        StepProgress,
        fail_dead_cli_runs,
        incident_errors,
        root_causes,
        run_backfill,
        run_log_errors,
        skipped_dates_of,
    )

    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    if problem := partition_range_problem(args.start, args.end):
        raise CliError(problem)
    _require_env(*SOURCE_ENV_VARS.values(), WAREHOUSE_ENV_VAR)
    try:  # a malformed warehouse URL is said at once, before the dead-run check and the run itself
        warehouse_url(os.environ[WAREHOUSE_ENV_VAR])
    except DatabaseUnavailableError as error:
        raise CliError(str(error)) from None
    if not os.environ.get("DAGSTER_HOME"):
        raise CliError("DAGSTER_HOME is not set: it names the Dagster instance the run is recorded in")
    os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
    instance = DagsterInstance.get()
    for line in fail_dead_cli_runs(instance):  # runs of earlier CLI processes that were killed
        print(line, file=sys.stderr)
    started = time.perf_counter()
    days = (args.end - args.start).days + 1
    print(f"backfill {args.start}..{args.end} ({days} business days): every asset, one run", file=sys.stderr)
    reporters: list[StepProgress] = []

    def progress(total_steps: int) -> StepProgress:
        reporters.append(StepProgress(total_steps))
        return reporters[-1]

    try:
        result = run_backfill(args.start, args.end, instance=instance, raise_on_error=False, progress=progress)
    finally:
        for reporter in reporters:
            reporter.close()
    seconds = time.perf_counter() - started
    # A run log that could not be written was logged (before this point): the last line is the run's outcome.
    run_log_error = run_log_errors.pop(result.run_id, None)
    if incident_error := incident_errors.pop(result.run_id, None):
        print(incident_error, file=sys.stderr)
    if not result.success:
        raise CliError(f"backfill run {result.run_id} failed:\n" + "\n".join(f"  {m}" for m in root_causes(result)))
    checks = result.get_asset_check_evaluations()
    failed = [e for e in checks if not e.passed]
    # A failed non-blocking check does not fail the run, but it is news: say which and what it found.
    lines, names = failed_check_lines(failed)
    for line in lines:
        print(line, file=sys.stderr)
    print(
        f"backfill {args.start}..{args.end}: run {result.run_id} succeeded in {seconds:.1f} s; "
        f"{len(checks)} asset checks, {len(failed)} not passed" + (f": {names}" if failed else "")
    )
    for asset, (dates, reason) in skipped_dates_of(result).items():
        print(f"  {asset}: not written for {dates}: {reason}")
    if run_log_error:
        raise CliError(f"backfill run {result.run_id} succeeded, but {run_log_error}")


def failed_check_lines(failed: Sequence) -> tuple[list[str], str]:
    """The lines of the checks that did not pass (AssetCheckEvaluations) and their names for the summary. A check
    that failed on several partitions (a range of up to 35 days evaluates it once per day) is one line: how many
    partitions, the first and last, and what it found on the first."""
    groups: dict[tuple[str, str, str], list] = {}
    for evaluation in failed:
        level = "ERROR" if getattr(evaluation.severity, "value", "") == "ERROR" else "WARN"
        key = (level, evaluation.asset_key.to_user_string(), evaluation.check_name)
        groups.setdefault(key, []).append(evaluation)
    lines, names = [], []
    for (level, asset, check), evaluations in groups.items():
        evaluations = sorted(evaluations, key=lambda e: e.partition or "")
        first = evaluations[0]
        findings = _one_line({key: getattr(value, "value", value) for key, value in first.metadata.items()})
        if len(evaluations) == 1:
            lines.append(f"check not passed ({level}): {asset}.{check} {findings}")
            names.append(check)
            continue
        partitions = [e.partition for e in evaluations if e.partition]
        dates = f", {partitions[0]} .. {partitions[-1]}; on {partitions[0]}:" if partitions else "; the first:"
        lines.append(f"check not passed ({level}): {asset}.{check} x {len(evaluations)} partitions{dates} {findings}")
        names.append(f"{check} x {len(evaluations)}")
    return lines, ", ".join(names)


def _one_line(value) -> str:
    return " ".join(str(value).split())


def cmd_summary(args: argparse.Namespace) -> None:
    import pymysql

    from store_anomaly.mysql import MySQLUrl, MySQLUrlError, database_error, url_advice
    from store_anomaly.reports.summary import warehouse_summary

    _require_env(WAREHOUSE_ENV_VAR)
    url = os.environ[WAREHOUSE_ENV_VAR]
    try:
        print(warehouse_summary(url))
    except MySQLUrlError as error:
        raise CliError(f"{error}; {url_advice(WAREHOUSE_ENV_VAR)}") from None
    except pymysql.err.MySQLError as error:
        where = MySQLUrl.parse(url, name="warehouse").redacted()
        raise database_error("warehouse", WAREHOUSE_ENV_VAR, where, error, doing="reading the summary") from None


def cmd_status(args: argparse.Namespace) -> None:
    from dagster import DagsterInstance

    from store_anomaly.automation.status import platform_status

    if not os.environ.get("DAGSTER_HOME"):
        raise CliError("DAGSTER_HOME is not set: it names the Dagster instance whose runs are reported")
    with _warehouse_connection() as connection, DagsterInstance.get() as instance:
        print(platform_status(instance, connection))


def _warehouse_connection():
    from store_anomaly.resources import Warehouse

    _require_env(WAREHOUSE_ENV_VAR)
    return Warehouse.from_env().connect()


def cmd_alerts(args: argparse.Namespace) -> None:
    from store_anomaly.alerts.listing import format_alerts, select_alerts
    from store_anomaly.alerts.state import current_alert_state

    with _warehouse_connection() as connection:
        alerts = current_alert_state(connection)
    print(format_alerts(select_alerts(alerts, open_only=args.open, shop_no=args.shop)))


def cmd_alert_show(args: argparse.Namespace) -> None:
    from store_anomaly.alerts.listing import format_alert
    from store_anomaly.alerts.state import ack_history, current_alert_state

    alert_id = args.alert_id.strip()
    with _warehouse_connection() as connection:
        alerts = current_alert_state(connection)
        found = alerts.filter(alerts["alert_id"] == alert_id)
        if found.is_empty():
            raise CliError(f"no alert {alert_id!r}: `store-anomaly alerts` lists the alert ids")
        print(format_alert(found.row(0, named=True), ack_history(connection, alert_id)))


def cmd_report(args: argparse.Namespace) -> None:
    import shutil
    import webbrowser

    from store_anomaly.reports.site import write_reports
    from store_anomaly.settings import reports_dir_from_env

    with _warehouse_connection() as connection:
        site = write_reports(connection, args.dir or reports_dir_from_env())
    dates = f"business dates {site.first} .. {site.last}" if site.last else "no business date yet"
    print(f"{site.headline}\nReports of {dates}, {site.pages} pages, in {site.directory}:")
    print(f"  executive summary  {site.index}")
    print(f"  SPC gallery        {site.spc}")
    if site.worst_store:
        print(f"  worst store        {site.stores[site.worst_store]}")
    print(f"  every store        {site.directory / 'stores'}/<shop_no>.html ({len(site.stores)} stores)")
    if args.open:
        # webbrowser falls back to text browsers and may find none: say so rather than pretend.
        has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"
        if (has_display or shutil.which("xdg-open")) and webbrowser.open(site.index.as_uri()):
            print(f"opened {site.index.as_uri()}")
        else:
            print(f"no browser found here: open {site.index.as_uri()} on a machine with one")


def cmd_ack(args: argparse.Namespace) -> None:
    from store_anomaly.alerts.feedback import validate_ack
    from store_anomaly.alerts.state import current_alert_state, record_ack

    with _warehouse_connection() as connection:
        alerts = current_alert_state(connection)
        ack = validate_ack(args.alert_id, args.by, args.label, args.note, alerts=alerts)
        stamp = record_ack(connection, ack)
        with connection.cursor() as cursor:
            cursor.execute("SELECT MAX(metric_date) FROM store_daily_metrics")
            (latest_metrics_date,) = cursor.fetchone()
    alert = alerts.filter(alerts["alert_id"] == ack.alert_id).row(0, named=True)
    print(
        f"{ack.alert_id} ({alert['shop_no']} {alert['metric_name']}, opened {alert['opened_on']}) acknowledged "
        f"by {ack.by} at {stamp:%Y-%m-%d %H:%M} UTC" + (f" as {ack.label}" if ack.label else "")
    )
    if ack.label == "new-normal":
        since = alert.get("change_started_on") or alert["opened_on"]
        # to the latest stored day, not the alert's last: every later day's baselines read the days before it
        until = max(day for day in (latest_metrics_date, alert["last_seen_on"]) if day is not None)
        print(
            f"Baselines of {alert['shop_no']} restart from {since} on the next SPC run; to re-score past days "
            f"now: store-anomaly backfill --start {since} --end {until}"
        )


def cmd_rule_feedback(args: argparse.Namespace) -> None:
    from store_anomaly.alerts.feedback import rule_feedback_counts
    from store_anomaly.alerts.state import current_alert_state
    from store_anomaly.text_table import format_table

    with _warehouse_connection() as connection:
        counts = rule_feedback_counts(current_alert_state(connection))
    if counts.is_empty():
        print("No labelled alerts yet: acknowledge alerts with --label to build the rules' track record.")
        return
    print(format_table(counts))


GRAFANA_DATASOURCE_UID = "store-anomaly-warehouse"  # the uid every panel of grafana/store_anomaly.json names
GRAFANA_DATASOURCE_PATH = "grafana/provisioning/datasources/store_anomaly.yaml"


def grafana_datasource(url: str) -> dict:
    """Grafana's provisioning document for a MySQL data source on the warehouse at `url` (use the read-only
    user's URL: Grafana runs whatever SQL a dashboard editor types)."""
    from store_anomaly.mysql import MySQLUrl

    warehouse = MySQLUrl.parse(url, name="warehouse")
    # Grafana expands $NAME in provisioning files; $$ is its literal dollar.
    literal = lambda text: text.replace("$", "$$")
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "store_anomaly warehouse",
                "uid": GRAFANA_DATASOURCE_UID,
                "type": "mysql",
                "access": "proxy",
                "url": f"{warehouse.host}:{warehouse.port}",
                "user": literal(warehouse.user),
                "jsonData": {"database": literal(warehouse.database), "maxOpenConns": 5},
                "secureJsonData": {"password": literal(warehouse.password)},
                "editable": False,
            }
        ],
    }


def cmd_grafana_datasource(args: argparse.Namespace) -> None:
    import json

    from store_anomaly.mysql import MySQLUrl, MySQLUrlError, url_advice

    _require_env(WAREHOUSE_ENV_VAR)
    url = os.environ[WAREHOUSE_ENV_VAR]
    try:
        document = grafana_datasource(url)
    except MySQLUrlError as error:
        raise CliError(f"{error}; {url_advice(WAREHOUSE_ENV_VAR)}") from None
    path = args.output
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # It holds the password: readable by its owner only. JSON is YAML, which Grafana's provisioning reads.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(document, indent=2) + "\n")
    os.chmod(path, 0o600)
    warehouse = MySQLUrl.parse(url, name="warehouse")
    print(f"wrote {path}: Grafana data source {GRAFANA_DATASOURCE_UID} on {warehouse.redacted()}")
    if warehouse.options:
        print("the URL's TLS parameters are not carried over: set TLS in the data source's jsonData by hand")


def cmd_backtest(args: argparse.Namespace) -> None:
    import polars as pl

    from store_anomaly.mysql import query_frame
    from store_anomaly.spc import METRICS, SpcConfig
    from store_anomaly.spc.backtest import backtest, format_backtest

    presets = {"default": SpcConfig.default, "seed": SpcConfig.seed}
    names = [n for n in args.rule_sets.split(",") if n]
    unknown = [n for n in names if n not in presets]
    if unknown or not names:
        raise CliError(f"--rule-sets: unknown {unknown or names}; choose from {', '.join(presets)}")
    schema = {
        "metric_date": pl.Date,
        "shop_no": pl.String,
        **{m: pl.Float64 for m in METRICS},
        "is_closed": pl.Boolean,
        "holiday_name": pl.String,
    }
    started = time.perf_counter()
    with _warehouse_connection() as connection, connection.cursor() as cursor:
        metrics = query_frame(cursor, f"SELECT {', '.join(schema)} FROM store_daily_metrics", None, schema)
    if metrics.is_empty():
        raise CliError("store_daily_metrics is empty: materialize it first (store-anomaly backfill)")
    table = backtest(metrics, {n: presets[n]() for n in names}, onset_after_days=args.onset_after_days)
    if table.is_empty():
        raise CliError(f"no store has {args.onset_after_days} days of history plus 60 to replay a change on")
    print(
        f"Backtest of {metrics['shop_no'].n_unique()} stores, {metrics['metric_date'].min()} .. "
        f"{metrics['metric_date'].max()}: days from the injected change's onset to the first WARNING-or-worse "
        f"flag on a traffic KPI ('-' = not within 60 days); {time.perf_counter() - started:.0f} s\n"
    )
    print(format_backtest(table))


def _handle_user_errors(handler: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], None]:
    """Turns the alert layer's input errors into CLI errors (a message, no traceback)."""

    def wrapped(args: argparse.Namespace) -> None:
        from store_anomaly.alerts.feedback import AckError

        try:
            handler(args)
        except AckError as error:
            raise CliError(str(error)) from None

    return wrapped


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="store-anomaly", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo-data",
        help="write the five demo source databases (STORE_ANOMALY_DEMO_*_URL, default demo_* on the local server); "
        "refuses any database holding tables it did not create",
    )
    demo.add_argument("--stores", type=int, default=10, help="rows of t_shop (default 10: the chain's list)")
    demo.add_argument("--start", type=_date, default=date.fromisoformat(DEMO_START))
    demo.add_argument("--end", type=_date, default=date.fromisoformat(DEMO_END))
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(handler=cmd_demo_data)

    backfill = commands.add_parser("backfill", help="materialize every asset for a range of dates as one run")
    backfill.add_argument("--start", type=_date, required=True, help="first business date, YYYY-MM-DD")
    backfill.add_argument("--end", type=_date, required=True, help="last business date, YYYY-MM-DD")
    backfill.set_defaults(handler=cmd_backfill)

    status = commands.add_parser(
        "status",
        help="the platform at a glance: last successful daily run, latest business date per source, open "
        "platform incidents, next scheduled run",
    )
    status.set_defaults(handler=cmd_status)

    summary = commands.add_parser("summary", help="what the warehouse holds")
    summary.set_defaults(handler=cmd_summary)

    alerts = commands.add_parser("alerts", help="list alert episodes, open first")
    alerts.add_argument("--open", action="store_true", help="only open alerts")
    alerts.add_argument("--shop", help="only this store, e.g. US00001")
    alerts.set_defaults(handler=_handle_user_errors(cmd_alerts))
    alert_commands = alerts.add_subparsers(dest="alerts_command")
    show = alert_commands.add_parser("show", help="one alert in full, with its acknowledgement history")
    show.add_argument("alert_id", help="the alert's id, e.g. A-1a2b3c4d5e")
    show.set_defaults(handler=_handle_user_errors(cmd_alert_show))

    ack = commands.add_parser("ack", help="acknowledge an alert, with feedback")
    ack.add_argument("alert_id", help="the alert's id, e.g. A-1a2b3c4d5e")
    ack.add_argument("--by", required=True, help="who acknowledges it")
    ack.add_argument(
        "--label",
        choices=["confirmed", "expected", "false-alarm", "new-normal"],
        help="new-normal restarts the store's baselines from the change",
    )
    ack.add_argument("--note", help="free text for the team")
    ack.set_defaults(handler=_handle_user_errors(cmd_ack))

    feedback = commands.add_parser("rule-feedback", help="acknowledgement labels counted per SPC rule")
    feedback.set_defaults(handler=_handle_user_errors(cmd_rule_feedback))

    grafana = commands.add_parser(
        "grafana-datasource",
        help=f"write Grafana's provisioning file for the warehouse data source from {WAREHOUSE_ENV_VAR} "
        "(set it to a read-only user's URL)",
    )
    grafana.add_argument("--output", default=GRAFANA_DATASOURCE_PATH, help=f"default {GRAFANA_DATASOURCE_PATH}")
    grafana.set_defaults(handler=cmd_grafana_datasource)
    replay = commands.add_parser(
        "backtest",
        help="replay the chain's history with synthetic ramps, steps and drops injected into each real store: "
        "detection delays, false flags per store-month, smallest slide caught within 14 days",
    )
    replay.add_argument("--rule-sets", default="default,seed", help="comma-separated: default, seed")
    replay.add_argument(
        "--onset-after-days",
        type=int,
        default=150,
        help="days after a store's first day the injected change starts (default 150: past the "
        "warm-up and the anchor window)",
    )
    replay.set_defaults(handler=_handle_user_errors(cmd_backtest))

    report = commands.add_parser("report", help="build the HTML reports and print where they are")
    report.add_argument("--open", action="store_true", help="open the executive summary in a browser")
    report.add_argument("--dir", help="folder to write (default: STORE_ANOMALY_REPORTS_DIR, else ./reports)")
    report.set_defaults(handler=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except CliError as error:
        print(f"store-anomaly {args.command}: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - the last line of defence: one clear line, not a traceback
        from store_anomaly.mysql import DatabaseUnavailableError, MySQLUrlError

        # These messages already start with the database they are about (a source or the warehouse).
        named = isinstance(error, DatabaseUnavailableError | MySQLUrlError)
        prefix = "" if named else f"{type(error).__name__}: "
        print(f"store-anomaly {args.command}: {prefix}{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
