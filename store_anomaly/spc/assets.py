"""SPC assets: `store_spc_control_limits` and `store_anomaly_flags`, computed in one pass over a date range.

The maths is in the pure modules of this package; this module only wires it to the warehouse. The input
lookback (`SpcConfig.lookback_days`) makes the result of a day independent of the run's range, so a backfill
and a daily run agree byte for byte. Operators' "new normal" acknowledgements restart baselines.
"""

import itertools
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    Output,
    TimeWindowPartitionMapping,
    multi_asset,
)

from store_anomaly.ack_log import ACKS_TABLE
from store_anomaly.date_ranges import date_ranges_text
from store_anomaly.io_managers.mysql import SECONDARY_INDEXES_KEY, FrameParts
from store_anomaly.kpis.completeness import first_in_scope_days, missing_dates
from store_anomaly.mysql import load_folder
from store_anomaly.partitions import (
    SKIPPED_DATES_KEY,
    MissingInputsError,
    business_dates,
    daily_partitions,
    first_partition_date,
    require_materialized,
    single_run,
)
from store_anomaly.resources import SourceDatabase, Warehouse
from store_anomaly.settings import CLOSED_DAYS_ENV_VAR, DEFAULT_RULE_SET, RULE_SET_ENV_VAR
from store_anomaly.sources.extracts import first_trades_params, first_trades_sql
from store_anomaly.spc import (
    FLAGS_KEY,
    FLAGS_SCHEMA,
    LIMITS_CHART_INDEX,
    LIMITS_KEY,
    LIMITS_SCHEMA,
    SpcConfig,
    SpcResult,
    compute_spc_by_metric,
)
from store_anomaly.spc.checks import flags_in_warmup, flags_without_baseline, invalid_flags, malformed_limits
from store_anomaly.spc.resets import load_baseline_resets
from store_anomaly.table_schemas import table_schema_from_polars

GROUP = "spc"


def spc_config() -> SpcConfig:
    """The rule set in force: `default` unless STORE_ANOMALY_RULE_SET says `seed`."""
    rule_set = os.environ.get(RULE_SET_ENV_VAR, DEFAULT_RULE_SET)
    if rule_set not in ("default", "seed"):
        raise ValueError(f"{RULE_SET_ENV_VAR}={rule_set!r}: expected 'default' or 'seed'")
    return SpcConfig.default() if rule_set == "default" else SpcConfig.seed()


CONFIG = spc_config()

_DESCRIPTIONS = {
    "metric_date": "store-local business date",
    "shop_no": "store number",
    "metric_name": "KPI column of store_daily_metrics",
    "center_line": "expected value for the day (KPI units)",
    "sigma": "one standard deviation around the centre (KPI units, approximate on transformed scales)",
    "ucl": "upper control limit",
    "lcl": "lower control limit",
    "baseline_days": "earlier days the limits were computed from",
    "rule_set": "rule set that produced the row (default or seed)",
    "rule": "rule that fired",
    "observed_value": "the day's value",
    "expected_value": "the centre line it was compared with",
    "z_score": "standardized deviation from the centre",
    "severity": "INFO, WARNING or CRITICAL",
    "direction": "up or down",
    "detail": "what the rule saw, in words",
    "chain_effect": "the chain's movement that day (other stores' median residual, transformed scale)",
    "chain_adjusted_center": "centre line moved by the chain's same-day movement: what the flags compare with",
}
_STRING_TYPES = {
    "shop_no": "VARCHAR(16)",
    "metric_name": "VARCHAR(32)",
    "rule": "VARCHAR(32)",
    "severity": "VARCHAR(8)",
    "direction": "VARCHAR(4)",
    "rule_set": "VARCHAR(16)",
    "scale": "VARCHAR(8)",
    "detail": "TEXT",
}


def _table(schema: dict[str, pl.DataType], key: tuple[str, ...]):
    return table_schema_from_polars(schema, key, _DESCRIPTIONS, _STRING_TYPES)


# What compute_spc and the asset's checks read of store_daily_metrics (`prepare.clean_wide`): the key, the
# scored KPIs, closures (explicit, else no orders) and holidays.
SPC_INPUT_COLUMNS = tuple(
    dict.fromkeys(("metric_date", "shop_no", *CONFIG.metrics, "order_count", "is_closed", "holiday_name"))
)

LIMITS_TABLE = _table(LIMITS_SCHEMA, LIMITS_KEY)
FLAGS_TABLE = _table(FLAGS_SCHEMA, FLAGS_KEY)


def _out(table, key, description: str, indexes: dict[str, list[str]] | None = None) -> AssetOut:
    return AssetOut(
        description=description,
        group_name=GROUP,
        kinds={"mysql", "polars"},
        metadata={
            "partition_expr": "metric_date",
            "dagster/column_schema": table,
            "primary_key": list(key),
            **({SECONDARY_INDEXES_KEY: indexes} if indexes else {}),
        },
    )


def store_first_days(warehouse: Warehouse, sales_order_source: SourceDatabase, start, end) -> pl.DataFrame:
    """First in-scope day of each store in scope during [start, end] (see `kpis.completeness`)."""
    stores = warehouse.fetch_frame(
        "SELECT DISTINCT shop_no, dept_id, time_zone, open_date FROM source_opshop_daily "
        "WHERE business_date BETWEEN %s AND %s AND in_scope",
        (start, end),
        {"shop_no": pl.String, "dept_id": pl.Int64, "time_zone": pl.String, "open_date": pl.Date},
    )
    if stores.is_empty():
        return first_in_scope_days(stores, pl.DataFrame())
    # every department's first trade (one loose index scan), the stores' kept by the join
    first_trades = sales_order_source.fetch_frame(
        first_trades_sql(),
        first_trades_params(first_partition_date()),
        {"dept_id": pl.Int64, "first_trade": pl.Datetime("us")},
    )
    return first_in_scope_days(stores, first_trades)


# rows of the limits handed to the IO manager at a time (~350 MB): a range of stores, every KPI and day of it.
# A year of 1,000 stores (3.3M rows) in parts of 1.2M rows took 44-49 s to write, of 0.5M 61-65 s, at once 41-53 s
# (benchmarks/limits_write.py).
LIMITS_WRITE_PART_ROWS = 1_200_000


def regrouped_by_stores(parts: Iterator[pl.DataFrame], rows_per_part: int | None = None) -> Iterator[pl.DataFrame]:
    """The rows of `parts` (each one KPI's limits of every store, as scored) as parts that each hold every KPI of a
    range of stores (about `rows_per_part` rows; sorted by store, KPI and day).

    Why: the limits table's key is (metric_date, shop_no, metric_name). Written KPI by KPI, each KPI would insert
    among every earlier KPI's rows of every day, and InnoDB re-reads and splits the whole table's pages once per
    KPI: a year of 1,000 stores took 90-104 s to write so, 44-49 s by ranges of stores. The KPI parts are spilled to
    Parquet files as they come, so their rows are not held beside the scoring's working columns, and read back a
    range of stores at a time (row-group statistics skip the other stores). Default `rows_per_part`:
    LIMITS_WRITE_PART_ROWS."""
    rows_per_part = rows_per_part or LIMITS_WRITE_PART_ROWS
    # in this process's bulk-load folder (`mysql.load_folder`): private to it, and removed by the next writer
    # should the process be killed, like the load files themselves
    with tempfile.TemporaryDirectory(prefix="spc-limits-", dir=load_folder()) as folder:
        paths: list[str] = []
        stores: set[str] = set()
        rows = 0
        for part in parts:
            paths.append(os.path.join(folder, f"{len(paths)}.parquet"))
            part.write_parquet(paths[-1], row_group_size=max(1, rows_per_part // 20))
            stores.update(part["shop_no"].unique().to_list())
            rows += part.height
            del part
        ordered = sorted(stores)  # (code-point order: the order polars compares strings in)
        step = max(1, rows_per_part * len(ordered) // max(rows, 1))
        for first in range(0, len(ordered), step):
            lo, hi = ordered[first], ordered[min(first + step, len(ordered)) - 1]
            yield (
                pl.scan_parquet(paths)
                .filter(pl.col("shop_no").is_between(pl.lit(lo), pl.lit(hi)))
                .collect()
                .sort("shop_no", "metric_name", "metric_date")
            )


def _scored_while_waiting(parts: Iterator[SpcResult], pending: Future) -> list[SpcResult]:
    """The parts scored until `pending` is done (at least one, unless there is none)."""
    scored = []
    for part in parts:
        scored.append(part)
        if pending.done():
            break
    return scored


def _taken(items: list) -> Iterator:
    """The items of `items`, each removed from the list as it is handed on (the list holds none once passed)."""
    while items:
        yield items.pop(0)


@multi_asset(
    outs={
        "store_spc_control_limits": _out(
            LIMITS_TABLE,
            LIMITS_KEY,
            "Control limits in force for each store, KPI and day, computed from earlier days only: centre line, "
            "sigma, WARNING limits (ucl/lcl), baseline days, and the chain's same-day movement.",
            {LIMITS_CHART_INDEX[0]: list(LIMITS_CHART_INDEX[1])},
        ),
        "store_anomaly_flags": _out(
            FLAGS_TABLE,
            FLAGS_KEY,
            "Statistical signals: one row per store, day, KPI and rule that fired, with the observed and expected "
            "values, z-score, severity (INFO, WARNING, CRITICAL) and direction.",
        ),
    },
    ins={
        # the columns the maths reads only: the lookback is every store's history (~590 days)
        "store_daily_metrics": AssetIn(
            partition_mapping=TimeWindowPartitionMapping(start_offset=-CONFIG.lookback_days),
            metadata={"columns": list(SPC_INPUT_COLUMNS)},
        )
    },
    # Operators' new-normal acknowledgements restart baselines: the feedback loop from the alerts.
    deps=[ACKS_TABLE],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    check_specs=[
        AssetCheckSpec(
            "limits_well_formed",
            asset="store_spc_control_limits",
            description="lcl <= center_line <= ucl, sigma >= 0 on every row",
        ),
        AssetCheckSpec(
            "no_flag_without_baseline",
            asset="store_anomaly_flags",
            description="every flag has control limits for its store, metric and day",
        ),
        AssetCheckSpec(
            "no_flag_in_first_28_days",
            asset="store_anomaly_flags",
            description=f"no flag inside a store's first {CONFIG.warmup_days} in-scope days",
        ),
        AssetCheckSpec(
            "flags_well_formed",
            asset="store_anomaly_flags",
            description="known severities and directions, unique per store, day, metric and rule",
        ),
    ],
)
def spc(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    sales_order_source: SourceDatabase,
    store_daily_metrics: pl.DataFrame,
):
    """Control limits in force for each store, metric and day (from earlier days only) and the flags they raise.

    Never from a window with holes: a lookback day with no stored metrics (from the first store's first
    in-scope day on) is an error naming the days and the backfill that fills them; a day of the run itself
    without metrics (a late feed, not written) is skipped with every later day of the run, whose baselines
    would include it, and left as it was."""
    require_materialized(context, "store_daily_metrics")
    start, end = business_dates(context.partition_time_window)
    window_start = max(start - timedelta(days=CONFIG.lookback_days), first_partition_date())
    with warehouse.connect() as connection:
        resets = load_baseline_resets(connection)
    # Written one KPI at a time (`compute_spc_by_metric`): a year of 1,000 stores' limits is 3.3M rows, which
    # held whole beside the scoring's working columns made the backfill's peak. The stores' first days come from
    # the sales source (a query per run, one loose index scan): KPIs are scored while it runs, and kept unless a
    # day of the range turns out to have no metrics (then the shorter range is scored instead; a lookback hole is
    # an error either way).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spc-first-days") as pool:
        first_days = pool.submit(store_first_days, warehouse, sales_order_source, start, end)
        parts = compute_spc_by_metric(store_daily_metrics, start, end, CONFIG, resets)
        scored = _scored_while_waiting(parts, first_days)
        missing = missing_dates(
            store_daily_metrics["metric_date"].unique().to_list(), first_days.result(), window_start, end
        )
    lookback_missing = [day for day in missing if day < start]
    if lookback_missing:
        raise MissingInputsError(
            f"store_daily_metrics holds no rows for {len(lookback_missing)} lookback days the SPC limits of "
            f"{start}..{end} are computed from: {date_ranges_text(lookback_missing)}. Materialize them first: "
            f"store-anomaly backfill --start {lookback_missing[0]} --end {end} (a day the whole chain was closed "
            f"goes in {CLOSED_DAYS_ENV_VAR})"
        )
    skipped = [missing[0] + timedelta(days=n) for n in range((end - missing[0]).days + 1)] if missing else []
    if skipped:
        context.log.warning(
            f"store_daily_metrics has no rows for {date_ranges_text(missing)} (a late feed is not written): SPC "
            f"skips {date_ranges_text(skipped)}, whose baselines would include them, and leaves those days as they were"
        )
        scored.clear()
        parts.close()
        parts = compute_spc_by_metric(store_daily_metrics, start, missing[0] - timedelta(days=1), CONFIG, resets)
    skipped_metadata = {SKIPPED_DATES_KEY: [day.isoformat() for day in skipped]}

    # What the checks need of the limits is tallied part by part as they are written; the flags (a few rows a
    # store-month) are kept for their own output.
    flags_parts: list[pl.DataFrame] = []
    tally = {"malformed": 0, "orphans": 0}

    def limits_by_kpi():
        for part in itertools.chain(_taken(scored), parts):
            tally["malformed"] += malformed_limits(part.limits).height
            tally["orphans"] += flags_without_baseline(part.flags, part.limits).height
            flags_parts.append(part.flags)
            limits = part.limits
            del part
            yield limits
            del limits

    limits_parts = limits_by_kpi()
    yield Output(
        FrameParts(regrouped_by_stores(limits_parts)),
        output_name="store_spc_control_limits",
        metadata={"rule_set": CONFIG.rule_set, "lookback_days": CONFIG.lookback_days, **skipped_metadata},
    )
    # The IO manager has taken every part by now; should it not have, the KPIs left are scored here, so the flags
    # and the checks' tallies are never those of some KPIs only.
    for _ in limits_parts:
        pass
    flags = (pl.concat(flags_parts) if flags_parts else pl.DataFrame(schema=FLAGS_SCHEMA)).sort(
        "shop_no", "metric_date", "metric_name", "rule"
    )
    serious = flags.filter(pl.col("severity") != "INFO")
    yield Output(
        flags,
        output_name="store_anomaly_flags",
        metadata={
            "rule_set": CONFIG.rule_set,
            "warning_or_worse": serious.height,
            "stores_flagged": serious["shop_no"].n_unique(),
            "baseline_resets": 0 if resets is None else resets.height,
            **skipped_metadata,
        },
    )

    yield AssetCheckResult(
        check_name="limits_well_formed",
        asset_key="store_spc_control_limits",
        passed=tally["malformed"] == 0,
        metadata={"malformed_rows": tally["malformed"]},
    )
    yield AssetCheckResult(
        check_name="no_flag_without_baseline",
        asset_key="store_anomaly_flags",
        passed=tally["orphans"] == 0,
        metadata={"flags_without_baseline": tally["orphans"]},
    )
    first_days = store_daily_metrics.group_by("shop_no").agg(first_date=pl.col("metric_date").min())
    early = flags_in_warmup(flags, first_days, CONFIG.warmup_days)
    yield AssetCheckResult(
        check_name="no_flag_in_first_28_days",
        asset_key="store_anomaly_flags",
        passed=early.is_empty(),
        metadata={"early_flags": early.height},
    )
    invalid = invalid_flags(flags)
    yield AssetCheckResult(
        check_name="flags_well_formed",
        asset_key="store_anomaly_flags",
        passed=invalid.is_empty(),
        metadata={"invalid_flags": invalid.height},
    )


SPC_ASSETS = [spc]
