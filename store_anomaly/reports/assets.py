"""Report assets: daily `store_health_scores` and weekly `store_peer_comparison`.

Peer comparison rows belong to the business date that completes their week (Sunday, `week_end`), so they
share the daily partitions and backfills of every other asset: a range materializes the weeks that end in it.
"""

import hashlib
from datetime import timedelta
from pathlib import Path

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetSpec,
    AutomationCondition,
    BackfillPolicy,
    DagsterInstance,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    multi_asset,
)

from store_anomaly.date_ranges import date_ranges_text
from store_anomaly.partitions import business_dates, daily_table_asset, dates_materialized_after, require_materialized
from store_anomaly.reports.data import WINDOW_TABLES
from store_anomaly.reports.health import HEALTH_LIMIT_COLUMNS, HealthConfig, compute_health_scores
from store_anomaly.reports.peers import PEER_SCHEMA, compute_peer_comparison
from store_anomaly.reports.site import write_reports
from store_anomaly.reports.window_cache import ReportWindowCache
from store_anomaly.resources import Warehouse
from store_anomaly.table_schemas import table_schema_from_polars

GROUP = "reports"
HEALTH_CONFIG = HealthConfig()

HEALTH_SCHEMA = {
    "metric_date": pl.Date(),
    "shop_no": pl.String(),
    "shop_name": pl.String(),
    "health_score": pl.Float64(),
    "grade": pl.String(),
    "sales_score": pl.Float64(),
    "operations_score": pl.Float64(),
    "staffing_score": pl.Float64(),
    "quality_score": pl.Float64(),
    "dimensions_scored": pl.Int64(),
    "missing_dimensions": pl.String(),
    "weights_used": pl.String(),
    "worst_metric": pl.String(),
    "worst_metric_score": pl.Float64(),
}
HEALTH_TABLE = table_schema_from_polars(
    HEALTH_SCHEMA,
    key=("metric_date", "shop_no"),
    descriptions={
        "health_score": "0-100, weighted mean of the dimension scores present",
        "grade": "A >= 90, B >= 80, C >= 70, D >= 60, else F",
        "sales_score": "0-100 from revenue, orders and AOV against their baselines",
        "operations_score": "0-100 from production time, production count and waste",
        "staffing_score": "0-100 from staff hours, headcount and orders per labour hour",
        "quality_score": "0-100 from the latest inspection score",
        "missing_dimensions": "dimensions without data that day; their weight went to the others",
        "weights_used": "the weights actually applied",
    },
    string_types={
        "shop_no": "VARCHAR(16)",
        "shop_name": "VARCHAR(128)",
        "grade": "VARCHAR(2)",
        "missing_dimensions": "VARCHAR(128)",
        "weights_used": "VARCHAR(255)",
        "worst_metric": "VARCHAR(32)",
    },
)


@daily_table_asset(
    group_name=GROUP,
    partition_expr="metric_date",
    table=HEALTH_TABLE,
    primary_key=["metric_date", "shop_no"],
    ins={
        # inspections are sparse: a score stays valid for qc_carry_days
        "store_daily_metrics": AssetIn(
            partition_mapping=TimeWindowPartitionMapping(start_offset=-HEALTH_CONFIG.qc_carry_days)
        ),
        # the columns the scores read only: a year of 1,000 stores is 3.3M limit rows
        "store_spc_control_limits": AssetIn(
            partition_mapping=TimeWindowPartitionMapping(start_offset=-HEALTH_CONFIG.qc_carry_days),
            metadata={"columns": list(HEALTH_LIMIT_COLUMNS)},
        ),
    },
)
def store_health_scores(
    context: AssetExecutionContext, store_daily_metrics: pl.DataFrame, store_spc_control_limits: pl.DataFrame
) -> pl.DataFrame:
    """A daily 0-100 health score and grade per store, from how far each dimension sits from its baselines."""
    require_materialized(context, "store_daily_metrics", "store_spc_control_limits")
    start, end = business_dates(context.partition_time_window)
    scores = compute_health_scores(store_daily_metrics, store_spc_control_limits, HEALTH_CONFIG)
    scores = scores.filter(pl.col("metric_date").is_between(start, end)).select(list(HEALTH_SCHEMA))
    # Each partition's own grades; the latest one also lists every store's grade (worst first).
    latest_day = scores["metric_date"].max()
    for (day,), scored in scores.partition_by("metric_date", as_dict=True).items():
        metadata = {
            "stores_scored": scored.height,
            "grades": {grade or "none": n for grade, n in scored.group_by("grade").len().sort("grade").iter_rows()},
        }
        if day == latest_day:
            metadata["grade_per_store"] = MetadataValue.md(health_markdown(scored))
        context.add_asset_metadata(metadata, partition_key=day.isoformat())
    return scores


PEERS_SCHEMA = {**PEER_SCHEMA, "week_end": pl.Date()}
PEERS_TABLE = table_schema_from_polars(
    PEERS_SCHEMA,
    key=("week_end", "week_start", "shop_no", "metric_name"),
    descriptions={
        "week_start": "Monday of the week",
        "week_end": "Sunday of the week: the business date whose partition holds the row",
        "value": "the store's weekly value (sums; ratios recomputed from sums; means for headcount and QC)",
        "peer_median": "median of the in-scope stores' values that week",
        "rank": "1 = best among the stores (direction-aware)",
        "percentile": "0-100, higher is better",
        "days_in_week": "open days the value covers",
    },
    string_types={
        "shop_no": "VARCHAR(16)",
        "shop_name": "VARCHAR(128)",
        "metric_name": "VARCHAR(32)",
        "better_when": "VARCHAR(8)",
    },
)


@daily_table_asset(
    group_name=GROUP,
    partition_expr="week_end",
    table=PEERS_TABLE,
    primary_key=["week_end", "shop_no", "metric_name"],
    ins={"store_daily_metrics": AssetIn(partition_mapping=TimeWindowPartitionMapping(start_offset=-6))},
)
def store_peer_comparison(context: AssetExecutionContext, store_daily_metrics: pl.DataFrame) -> pl.DataFrame:
    """Per Monday-based week and KPI: each store's value, the peer median, its rank and percentile."""
    require_materialized(context, "store_daily_metrics")
    start, end = business_dates(context.partition_time_window)
    first_sunday = start + timedelta(days=(6 - start.weekday()) % 7)
    if first_sunday > end:
        return pl.DataFrame(schema=PEERS_SCHEMA)
    last_sunday = end - timedelta(days=(end.weekday() + 1) % 7)
    peers = compute_peer_comparison(
        store_daily_metrics, first_sunday - timedelta(days=6), last_sunday - timedelta(days=6)
    ).with_columns(week_end=pl.col("week_start") + pl.duration(days=6))
    context.add_output_metadata({"weeks": peers["week_start"].n_unique(), "rows": peers.height})
    return peers.select(list(PEERS_SCHEMA))


def health_markdown(latest: pl.DataFrame) -> str:
    """One day's grade per store, worst first, as a markdown table for the asset page."""
    if latest.is_empty():
        return "No store scored."
    lines = ["| store | health | grade | weakest KPI |", "|---|---|---|---|"]
    for row in latest.sort("health_score", "shop_no", nulls_last=True).iter_rows(named=True):
        score = "-" if row["health_score"] is None else f"{row['health_score']:.1f}"
        lines.append(
            f"| {row['shop_no']} {row['shop_name'] or ''} | {score} | {row['grade'] or '-'} | {row['worst_metric'] or '-'} |"
        )
    return "\n".join(lines)


REPORT_PAGE_ASSETS = {
    "report_executive_summary": "index.html: the chain's revenue and orders, open alerts, today's alert activity, "
    "the latest week's ranking and the stores x weeks health grid",
    "report_store_pages": "stores/<shop_no>.html: one page per in-scope store, a control chart per KPI with "
    "flags and alert episodes, health, peer percentile and excluded rows",
    "report_spc_gallery": "spc.html: the worst stores' revenue and orders control charts, every other store as a searchable row",
}
# Everything the pages draw; they are rebuilt after any of it changes, once per run, whatever its range.
_REPORT_DEPS = [
    "store_daily_metrics",
    "store_spc_control_limits",
    "store_anomaly_flags",
    "store_health_scores",
    "store_peer_comparison",
    "store_anomaly_alerts",
]


@multi_asset(
    specs=[
        AssetSpec(
            key,
            description=description,
            group_name=GROUP,
            kinds={"html", "plotly"},
            deps=_REPORT_DEPS,
            automation_condition=AutomationCondition.eager().without(~AutomationCondition.any_deps_missing()),
        )
        for key, description in REPORT_PAGE_ASSETS.items()
    ],
    backfill_policy=BackfillPolicy.single_run(),
)
def report_pages(context: AssetExecutionContext, warehouse: Warehouse):
    """Static HTML reports of the latest 13 months (STORE_ANOMALY_REPORTS_DIR, default ./reports), in
    STORE_ANOMALY_LANGUAGE (en, zh)."""
    cache = report_window_cache(context.instance, warehouse, context.run_id)
    with warehouse.connect() as connection:
        site = write_reports(connection, cache=cache)
    dates = f"{site.first} .. {site.last}" if site.last else "none"
    if cache.reread is None:
        window_read = "every day, from the warehouse"
    else:
        days = set().union(*cache.reread.values())
        window_read = f"{date_ranges_text(days) or 'no day'} from the warehouse, the rest from the previous build"
    common = {
        "business_dates": dates,
        "built_at": f"{site.built_at:%Y-%m-%d %H:%M} UTC",
        "language": site.language,
        "window_read": window_read,
    }
    yield MaterializeResult(
        asset_key="report_executive_summary",
        metadata={
            **common,
            "path": MetadataValue.path(str(site.index)),
            "url": MetadataValue.url(site.index.as_uri()),
            "headline": site.headline,
        },
    )
    worst = site.stores.get(site.worst_store) if site.worst_store else None
    yield MaterializeResult(
        asset_key="report_store_pages",
        metadata={
            **common,
            "pages": len(site.stores),
            "folder": MetadataValue.path(str(site.directory / "stores")),
            **({"worst_store_page": MetadataValue.url(worst.as_uri())} if worst else {}),
        },
    )
    yield MaterializeResult(
        asset_key="report_spc_gallery",
        metadata={**common, "path": MetadataValue.path(str(site.spc)), "url": MetadataValue.url(site.spc.as_uri())},
    )
    context.log.info(f"reports of {dates} written to {site.directory} ({site.pages} pages)")


def report_window_cache(instance: DagsterInstance, warehouse: Warehouse, run_id: str) -> ReportWindowCache:
    """The reports' window cache of this warehouse, in the instance's local storage, told which days changed since
    its last build: the partitions of the tables the pages read that the instance recorded as materialized since
    (every write of the platform's assets is one). The marker is taken before the warehouse is read, so a write
    that lands while the pages are built is read again by the next build; the run that built it must still be in
    the instance (a wiped or replaced instance's numbering says nothing of this cache)."""
    identity = warehouse.parsed_url.redacted()
    folder = Path(instance.storage_directory()) / "report_window" / hashlib.sha256(identity.encode()).hexdigest()[:16]
    cache = ReportWindowCache.open(folder, identity)
    cache.marker, cache.builder = instance.event_log_storage.get_maximum_record_id() or 0, run_id
    built_through = cache.built_through
    if built_through is not None and built_through <= cache.marker and instance.has_run(cache.built_by or ""):
        fields = {AssetKey(spec.table): name for name, spec in WINDOW_TABLES.items()}
        changed = dates_materialized_after(instance, list(fields), built_through)
        cache.changed = {
            fields[key]: {day - timedelta(days=WINDOW_TABLES[fields[key]].partition_offset_days) for day in days}
            for key, days in changed.items()
        }
    return cache


REPORT_ASSETS = [store_health_scores, store_peer_comparison, report_pages]
