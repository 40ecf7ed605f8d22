"""Pure KPI assembly: the daily KPI table, and the rows left out of it.

No Dagster here: plain functions over polars frames, so the source contract's definitions are unit-tested on
hand-built frames. The source extracts (`store_anomaly.sources.extracts`) arrive already aggregated per
department and business date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import polars as pl

from store_anomaly.kpis.catalog import DQ_COLUMNS, EXCLUDED_ROW_COLUMNS, KPI_COLUMNS
from store_anomaly.sources.feeds import DAILY_SOURCES


def build_store_daily_metrics(
    scope_days: pl.DataFrame,
    extracts: Mapping[str, pl.DataFrame],
    holidays_frame: pl.DataFrame,
    source_gaps: Mapping[str, Iterable[date]] | None = None,
) -> pl.DataFrame:
    """One row per in-scope store x business date with every KPI of the source contract.

    `extracts` maps "sales", "production", "attendance", "quality" to the per-department daily extracts.
    Days without any source row are explicit (counts 0, ratios NULL) and marked `is_closed` when the store
    took no order. `source_gaps` maps a daily source of `sources.feeds.DAILY_SOURCES` to the dates it
    delivered nothing: its KPIs are NULL those days (unknown, not zero), and `source_gaps` names it.
    """
    keys = ["dept_id", "business_date"]
    frame = scope_days.filter(pl.col("in_scope")).select("business_date", "shop_no", "dept_id", "shop_name")
    for name in ("sales", "production", "attendance", "quality"):
        frame = frame.join(extracts[name], on=keys, how="left")
    counts = [
        "revenue",
        "order_count",
        "items_sold",
        "production_count",
        "production_seconds_sum",
        "staff_hours",
        "headcount",
        "shift_count",
        "expired_qty",
        "qc_inspections",
        *DQ_COLUMNS,
    ]
    # A store-day without source rows has counts of 0 (the extracts' schemas carry every count).
    frame = frame.with_columns(pl.col(counts).fill_null(0))
    return (
        frame.join(holidays_frame, on="business_date", how="left")
        .with_columns(
            aov=pl.when(pl.col("order_count") > 0).then(pl.col("revenue") / pl.col("order_count")),
            avg_production_seconds=pl.when(pl.col("production_count") > 0).then(
                pl.col("production_seconds_sum") / pl.col("production_count")
            ),
            orders_per_labor_hour=pl.when(pl.col("staff_hours") > 0).then(
                pl.col("order_count") / pl.col("staff_hours")
            ),
            is_closed=pl.col("order_count") == 0,
            dq_excluded_rows=pl.sum_horizontal(*EXCLUDED_ROW_COLUMNS),
        )
        .with_columns(*_gap_columns(source_gaps or {}))
        .rename({"business_date": "metric_date"})
        .select(
            "metric_date",
            "shop_no",
            "dept_id",
            "shop_name",
            *KPI_COLUMNS,
            "is_closed",
            "holiday_name",
            "qc_inspections",
            "shift_count",
            *DQ_COLUMNS,
            "dq_excluded_rows",
            "source_gaps",
        )
        .sort("metric_date", "shop_no")
    )


def _gap_columns(source_gaps: Mapping[str, Iterable[date]]) -> list[pl.Expr]:
    """NULL for the KPIs of a source on its gap dates, and the `source_gaps` column naming the sources."""
    gap_dates = {source: sorted(set(source_gaps.get(source, ()))) for source in DAILY_SOURCES}
    nulled: dict[str, pl.Expr] = {}
    for source, kpis in DAILY_SOURCES.items():
        in_gap = pl.col("business_date").is_in(gap_dates[source])
        for kpi in kpis:
            nulled[kpi] = pl.when(in_gap).then(None).otherwise(nulled.get(kpi, pl.col(kpi)))
    named = [pl.when(pl.col("business_date").is_in(dates)).then(pl.lit(source)) for source, dates in gap_dates.items()]
    return [
        *(expr.alias(kpi) for kpi, expr in nulled.items()),
        pl.concat_str(named, separator=",", ignore_nulls=True).replace("", None).alias("source_gaps"),
    ]


def excluded_source_rows(scope_days: pl.DataFrame, source_rows: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Source rows that no in-scope store owns, per business date, source, department and reason.

    `source_rows` maps a source name to a frame of dept_id, business_date, row_count, amount (revenue for
    sales, else 0). Departments unknown to the store master are `orphan_dept`.
    """
    owners = scope_days.select("business_date", "dept_id", "shop_no", "scope_reason").filter(
        pl.col("dept_id").is_not_null()
    )
    frames = [
        rows.with_columns(source=pl.lit(source)).select("business_date", "source", "dept_id", "row_count", "amount")
        for source, rows in source_rows.items()
    ]
    combined = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(
            schema={
                "business_date": pl.Date,
                "source": pl.String,
                "dept_id": pl.Int64,
                "row_count": pl.Int64,
                "amount": pl.Float64,
            }
        )
    )
    return (
        combined.join(owners, on=["business_date", "dept_id"], how="left")
        .with_columns(reason=pl.col("scope_reason").fill_null("orphan_dept"))
        .filter(pl.col("reason") != "in_scope")
        .select("business_date", "source", "dept_id", "shop_no", "reason", "row_count", "amount")
        .sort("business_date", "source", "dept_id")
    )
