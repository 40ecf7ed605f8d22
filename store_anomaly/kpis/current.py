"""Whether the KPIs are current with their sources: freshness that means data, not the time of the last run.

`data_is_current` reads the sources' observation (`sources.observations`: aggregate queries, nothing else) over
the `OBSERVED_DAYS` business dates up to the latest complete one and applies the source contract's rules
(`sources.feeds`): a late feed fails it with severity ERROR, naming the source and the dates; a daily source gap,
or a warehouse that lacks the latest business date with trades, fails it with severity WARN. It runs with every
observation of the sources (`observe_sources_schedule`), so the KPI asset's page shows a late feed in red
whether or not a run has happened since.
"""

from datetime import date, timedelta

import polars as pl
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check

from store_anomaly.date_ranges import date_ranges_text
from store_anomaly.holiday_calendar import holiday_frame
from store_anomaly.kpis.assets import store_daily_metrics
from store_anomaly.partitions import daily_partitions, first_partition_date
from store_anomaly.resources import PlatformSettings, SourceDatabase, Warehouse
from store_anomaly.sources.assets import SHOPS_SCHEMA, SHOPS_SQL, date_scope
from store_anomaly.sources.feeds import LATE_FEED_REASON, late_feed_dates, source_gap_dates, trading_dates
from store_anomaly.sources.observations import OBSERVED_DAYS, daily_rows, observe_source
from store_anomaly.sources.scope import store_scope_days

LATE_FEED_SOURCE = "sales_order"
# Daily sources whose silence on a trading day is a gap (sources.feeds), with the table that counts their rows.
GAP_TABLES = {"opproduction": "t_production_order", "opempefficiency": "t_attendance"}


def latest_complete_business_date() -> date:
    return date.fromisoformat(daily_partitions.get_last_partition_key())


def warehouse_latest_date(warehouse: Warehouse) -> date | None:
    """The latest business date store_daily_metrics holds (None before its first run)."""
    exists = warehouse.fetch_frame(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
        "AND table_name = 'store_daily_metrics'",
        None,
        {"n": pl.Int64},
    ).item()
    if not exists:
        return None
    return warehouse.fetch_frame("SELECT MAX(metric_date) FROM store_daily_metrics", None, {"d": pl.Date}).item()


def currency(
    sources: dict[str, SourceDatabase], warehouse: Warehouse, settings: PlatformSettings, last: date
) -> AssetCheckResult:
    """The check's verdict for the observed business dates ending at `last`."""
    start = max(first_partition_date(), last - timedelta(days=OBSERVED_DAYS - 1))
    shops = sources["opshop"].fetch_frame(SHOPS_SQL, None, SHOPS_SCHEMA)
    scope = date_scope(start, last, shops, settings)
    scope_days = store_scope_days(shops, start, last, settings.excluded_shop_numbers)
    sales = daily_rows(observe_source(sources["sales_order"], "sales_order", scope), "t_trade")
    calendar = holiday_frame(start, last, settings.holiday_country, settings.holiday_subdivision)
    late = late_feed_dates(scope_days, sales, calendar["business_date"].to_list(), settings.closed_dates)
    gaps = {
        source: date_ranges_text(
            source_gap_dates(
                scope_days, sales, daily_rows(observe_source(sources[source], source, scope), table), "source_rows"
            )
        )
        for source, table in GAP_TABLES.items()
    }
    gaps = {source: text for source, text in gaps.items() if text}
    trading = trading_dates(scope_days, sales)
    latest_with_trades = max(trading) if trading else None
    stored = warehouse_latest_date(warehouse)
    behind = latest_with_trades is not None and (stored is None or stored < latest_with_trades)
    problems = []
    if late:
        problems.append(f"late feed: {LATE_FEED_SOURCE} on {date_ranges_text(late)} ({LATE_FEED_REASON})")
    if gaps:
        problems.append("source gap: " + "; ".join(f"{source} on {text}" for source, text in gaps.items()))
    if behind:
        problems.append(
            f"the warehouse ends on {stored or 'no date'}, the sales source has trades on {latest_with_trades}"
        )
    return AssetCheckResult(
        passed=not problems,
        severity=AssetCheckSeverity.ERROR if late else AssetCheckSeverity.WARN,
        description="; ".join(problems) or f"sources delivered every business date of {start} .. {last}",
        metadata={
            "observed_dates": f"{start} .. {last}",
            "late_feed_source": LATE_FEED_SOURCE if late else "none",
            "late_feed_dates": date_ranges_text(late) or "none",
            "source_gap_dates": gaps,
            "latest_business_date_with_trades": str(latest_with_trades or "none"),
            "warehouse_latest_business_date": str(stored or "none"),
            "to_fix": (
                f"once {LATE_FEED_SOURCE} has caught up: store-anomaly backfill --start {late[0]} --end {late[-1]}"
                if late
                else (f"store-anomaly backfill --start {stored or start} --end {latest_with_trades}" if behind else "")
            ),
        },
    )


@asset_check(
    asset=store_daily_metrics,
    description=(
        f"The KPIs are current with their sources, over the {OBSERVED_DAYS} business dates up to the latest "
        "complete one: no late feed (ERROR: the sales source holds no trade for any in-scope store on a trading "
        "day), no daily source gap and the warehouse holds the latest business date with trades (WARN). Read "
        "from the sources' observation, so it says what the data is, not when a run happened."
    ),
)
def data_is_current(
    context: AssetCheckExecutionContext,
    opshop_source: SourceDatabase,
    sales_order_source: SourceDatabase,
    opproduction_source: SourceDatabase,
    opempefficiency_source: SourceDatabase,
    warehouse: Warehouse,
    settings: PlatformSettings,
) -> AssetCheckResult:
    sources = {
        "opshop": opshop_source,
        "sales_order": sales_order_source,
        "opproduction": opproduction_source,
        "opempefficiency": opempefficiency_source,
    }
    return currency(sources, warehouse, settings, latest_complete_business_date())
