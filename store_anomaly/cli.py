"""`store-anomaly`: the command line of the platform.

    store-anomaly demo-data [--stores N] [--start DATE] [--end DATE] [--seed S]
    store-anomaly backfill --start DATE --end DATE
    store-anomaly summary

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

from store_anomaly.config import DEMO_END, DEMO_START, SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR, source_urls_from_env


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
        raise CliError(
            f"{', '.join(missing)} not set: export the mysql:// URL of each (see README, 'Configuration')"
        )


def cmd_demo_data(args: argparse.Namespace) -> None:
    from store_anomaly.sources.demo_data import generate_demo_sources

    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    if args.stores < 1:
        raise CliError("--stores must be at least 1")
    summary = generate_demo_sources(
        source_urls_from_env(demo_defaults=True), start=args.start, end=args.end, stores=args.stores, seed=args.seed
    )
    print(summary)


def cmd_backfill(args: argparse.Namespace) -> None:
    from dagster import DagsterInstance

    from store_anomaly.runner import run_backfill

    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    _require_env(*SOURCE_ENV_VARS.values(), WAREHOUSE_ENV_VAR)
    if not os.environ.get("DAGSTER_HOME"):
        raise CliError("DAGSTER_HOME is not set: it names the Dagster instance the run is recorded in")
    os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
    started = time.perf_counter()
    result = run_backfill(args.start, args.end, instance=DagsterInstance.get(), raise_on_error=False)
    seconds = time.perf_counter() - started
    if not result.success:
        raise CliError(f"backfill run {result.run_id} failed:\n" + "\n".join(f"  {m}" for m in _root_causes(result)))
    checks = result.get_asset_check_evaluations()
    failed_checks = [f"{e.asset_key.to_user_string()}.{e.check_name}" for e in checks if not e.passed]
    print(f"backfill {args.start}..{args.end}: run {result.run_id} succeeded in {seconds:.1f} s; "
          f"{len(checks)} asset checks, {len(failed_checks)} not passed {failed_checks if failed_checks else ''}")


def _root_causes(result) -> list[str]:
    """The innermost error message of every failure event of a run, deduplicated: what the user must fix."""
    messages: list[str] = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and (error.cause or error.context):
            error = error.cause or error.context
        if error is not None:
            message = error.message.strip()
            if message not in messages:
                messages.append(message)
    return messages


def cmd_summary(args: argparse.Namespace) -> None:
    from store_anomaly.reports.summary import warehouse_summary

    _require_env(WAREHOUSE_ENV_VAR)
    print(warehouse_summary(os.environ[WAREHOUSE_ENV_VAR]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="store-anomaly", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo-data", help="write the five demo source databases")
    demo.add_argument("--stores", type=int, default=10, help="rows of t_shop (default 10: the chain's list)")
    demo.add_argument("--start", type=_date, default=date.fromisoformat(DEMO_START))
    demo.add_argument("--end", type=_date, default=date.fromisoformat(DEMO_END))
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(handler=cmd_demo_data)

    backfill = commands.add_parser("backfill", help="materialize every asset for a range of dates as one run")
    backfill.add_argument("--start", type=_date, required=True, help="first business date, YYYY-MM-DD")
    backfill.add_argument("--end", type=_date, required=True, help="last business date, YYYY-MM-DD")
    backfill.set_defaults(handler=cmd_backfill)

    summary = commands.add_parser("summary", help="what the warehouse holds")
    summary.set_defaults(handler=cmd_summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except CliError as error:
        print(f"store-anomaly {args.command}: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # the last line of defence: one clear line, not a traceback
        from store_anomaly.resources import SourceUnavailableError

        kind = "source" if isinstance(error, SourceUnavailableError) else type(error).__name__
        print(f"store-anomaly {args.command}: {kind}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
