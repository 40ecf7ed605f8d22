"""Which stores are scored on which business date, and in which zone each department keeps its days (pure).

The scope follows from the store master (t_shop, t_shop_dept) and the configured exclusions; it is where data
enters, so it lives with the sources and every later stage reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from store_anomaly.sources.local_time import is_valid_time_zone

SHOP_STATUS_ACTIVE, SHOP_STATUS_NOT_YET_OPEN, SHOP_STATUS_CLOSED = 1, 2, 3
SHOP_TYPE_RETAIL = 1


def store_scope_days(shops: pl.DataFrame, start: date, end: date, excluded_shops: Iterable[str] = ()) -> pl.DataFrame:
    """Every store of the master x every business date in [start, end], with whether it is scored and why not.

    `shops` has shop_no, dept_id (null without a t_shop_dept row), shop_name, status, shop_type, time_zone,
    open_date, and optionally other_dept_ids, shop_name_truncated, open_date_zero, several_shop_rows (carried through). A store
    is in scope when active, retail, mapped to a department, not excluded by
    configuration, with a valid time zone, on or after its open date.
    """
    excluded = sorted(set(excluded_shops))
    shops = shops.with_columns(
        *(
            pl.lit(default, dtype).alias(name)
            for name, dtype, default in (
                ("other_dept_ids", pl.String, None),
                ("shop_name_truncated", pl.Boolean, False),
                ("open_date_zero", pl.Boolean, False),
                ("several_shop_rows", pl.Boolean, False),
            )
            if name not in shops.columns
        )
    )
    dates = pl.DataFrame({"business_date": pl.date_range(start, end, "1d", eager=True)})
    valid_zones = {zone: is_valid_time_zone(zone) for zone in shops["time_zone"].unique().to_list()}
    reason = (
        pl.when(pl.col("shop_type") != SHOP_TYPE_RETAIL)
        .then(pl.lit("test_store"))
        .when(pl.col("status") == SHOP_STATUS_NOT_YET_OPEN)
        .then(pl.lit("not_yet_open"))
        .when(pl.col("status") == SHOP_STATUS_CLOSED)
        .then(pl.lit("closed"))
        .when(pl.col("status") != SHOP_STATUS_ACTIVE)
        .then(pl.lit("inactive_status"))
        .when(pl.col("dept_id").is_null())
        .then(pl.lit("no_dept_mapping"))
        .when(pl.col("shop_no").is_in(excluded))
        .then(pl.lit("excluded_by_config"))
        .when(~pl.col("time_zone").replace_strict(valid_zones, default=False))
        .then(pl.lit("invalid_time_zone"))
        .when(pl.col("open_date").is_not_null() & (pl.col("business_date") < pl.col("open_date")))
        .then(pl.lit("before_open_date"))
        .otherwise(pl.lit("in_scope"))
    )
    return (
        shops.join(dates, how="cross")
        .with_columns(scope_reason=reason)
        .with_columns(in_scope=pl.col("scope_reason") == "in_scope")
        .select(
            "business_date",
            "shop_no",
            "dept_id",
            "shop_name",
            "status",
            "shop_type",
            "time_zone",
            "open_date",
            "in_scope",
            "scope_reason",
            "other_dept_ids",
            "shop_name_truncated",
            "open_date_zero",
            "several_shop_rows",
        )
        .sort("business_date", "shop_no")
    )


def dept_aliases(shops: pl.DataFrame) -> dict[int, int]:
    """Further department -> the store's first department, for stores with several t_shop_dept rows."""
    if "other_dept_ids" not in shops.columns:
        return {}
    pairs = (
        shops.filter(pl.col("other_dept_ids").is_not_null() & pl.col("dept_id").is_not_null())
        .select("dept_id", alias=pl.col("other_dept_ids").str.split(","))
        .explode("alias")
        .select(pl.col("alias").str.strip_chars().cast(pl.Int64), "dept_id")
        .unique()
    )
    return dict(pairs.iter_rows())


def dept_time_zones(shops: pl.DataFrame) -> dict[int, str]:
    """Department -> IANA zone for every mapped store with a valid zone (others are dated in the default)."""
    mapped = shops.filter(pl.col("dept_id").is_not_null()).select("dept_id", "time_zone").unique()
    return {dept: zone for dept, zone in mapped.iter_rows() if is_valid_time_zone(zone)}
