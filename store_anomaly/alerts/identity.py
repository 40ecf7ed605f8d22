"""Alert identity across rebuilds (pure): stable ids, and the human state of the existing table carried over to the
recomputed episodes. See `store_anomaly.alerts.episodes` ("Identity and human state")."""

from __future__ import annotations

import hashlib
from datetime import date

import polars as pl

from store_anomaly.alerts.config import ALERT_SCHEMA, AlertConfig, empty_alerts


def alert_id_for(shop_no: str, episode_key: str, opened_on: date) -> str:
    """The stable id of an episode first seen on `opened_on`."""
    digest = hashlib.sha1(f"{shop_no}|{episode_key}|{opened_on.isoformat()}".encode()).hexdigest()
    return f"A-{digest[:10]}"


def _coerce(name: str, dtype: pl.DataType, current: pl.DataType) -> pl.Expr:
    """Cast one existing column to its schema type, tolerating what a SQL round trip may return."""
    column = pl.col(name)
    if dtype == pl.Boolean:
        return column.cast(pl.Boolean, strict=False)
    if current == pl.String and dtype == pl.Date:
        return column.str.to_date(strict=False)
    if current == pl.String and isinstance(dtype, pl.Datetime):
        return column.str.to_datetime(time_unit="us", strict=False)
    if isinstance(current, pl.Datetime) and current.time_zone is not None and isinstance(dtype, pl.Datetime):
        return column.dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(dtype)
    return column.cast(dtype, strict=False)


def normalize_existing(existing: pl.DataFrame | None, config: AlertConfig) -> pl.DataFrame:
    """The current table typed to the schema; extra columns are kept as they are. `existing` has every schema
    column (`store_anomaly.ack_log.read_declared_columns` is where it enters)."""
    if existing is None or existing.is_empty():
        extras = [] if existing is None else [c for c in existing.columns if c not in ALERT_SCHEMA]
        return empty_alerts().with_columns(
            [pl.lit(None, dtype=existing.schema[c]).alias(c) for c in extras]  # type: ignore[union-attr]
        )
    frame = existing.with_columns(
        [_coerce(name, dtype, existing.schema[name]).alias(name) for name, dtype in ALERT_SCHEMA.items()]
    ).with_columns(pl.col("acknowledged").fill_null(False), pl.col("stale").fill_null(False))
    group_of = config.group_of()
    extras = [c for c in frame.columns if c not in ALERT_SCHEMA]
    return frame.with_columns(
        pl.coalesce(
            pl.col("episode_key"),
            pl.col("metric_name").replace_strict(group_of, default=pl.col("metric_name")),
        ).alias("episode_key")
    ).select([*ALERT_SCHEMA, *extras])


def has_human_state() -> pl.Expr:
    return (
        pl.col("acknowledged").fill_null(False)
        | pl.col("ack_label").is_not_null()
        | pl.col("ack_note").is_not_null()
        | pl.col("acknowledged_by").is_not_null()
    )


def match_existing(new: pl.DataFrame, existing: pl.DataFrame, config: AlertConfig) -> pl.DataFrame:
    """Pairs (episode_uid, alert_id of an existing row), one to one; see the module docstring."""
    empty = pl.DataFrame(schema={"episode_uid": pl.Int64, "matched_alert_id": pl.String})
    if existing.is_empty() or new.is_empty():
        return empty
    old = existing.select(
        pl.col("alert_id").alias("old_id"),
        "shop_no",
        "episode_key",
        pl.col("opened_on").alias("old_opened_on"),
        pl.coalesce("last_seen_on", "opened_on").alias("old_last_seen_on"),
        has_human_state().alias("old_has_state"),
    )
    exact = new.join(old, left_on="computed_id", right_on="old_id", how="inner").select(
        "episode_uid",
        pl.col("computed_id").alias("old_id"),
        "old_has_state",
        pl.lit(True).alias("exact"),
        pl.lit(0, dtype=pl.Int64).alias("overlap_days"),
    )
    tol = pl.duration(days=config.match_tolerance_days)
    overlap = (
        new.join(old, on=["shop_no", "episode_key"], how="inner")
        .filter(
            (pl.col("opened_on") - tol <= pl.col("old_last_seen_on"))
            & (pl.col("old_opened_on") - tol <= pl.col("last_seen_on"))
        )
        .select(
            "episode_uid",
            "old_id",
            "old_has_state",
            pl.lit(False).alias("exact"),
            (pl.min_horizontal("last_seen_on", "old_last_seen_on") - pl.max_horizontal("opened_on", "old_opened_on"))
            .dt.total_days()
            .alias("overlap_days"),
        )
    )
    # an acknowledged (labelled, annotated) row follows the episode that overlaps it most, whatever their ids;
    # a row without human state keeps its id where the id still names an episode (a plain re-run), else the
    # largest overlap
    rank = (
        pl.when(pl.col("old_has_state"))
        .then(pl.col("overlap_days"))
        .otherwise(pl.col("exact").cast(pl.Int64) * 1_000_000 + pl.col("overlap_days"))
    )
    pairs = (
        pl.concat([exact, overlap])
        .with_columns(rank.alias("_rank"))
        .sort(["old_has_state", "_rank", "episode_uid"], descending=[True, True, False])
    )
    taken_new: set[int] = set()
    taken_old: set[str] = set()
    matches = []
    for uid, old_id in pairs.select("episode_uid", "old_id").iter_rows():
        if uid in taken_new or old_id in taken_old:
            continue
        taken_new.add(uid)
        taken_old.add(old_id)
        matches.append((uid, old_id))
    # an unmatched episode whose own id went to another episode (a split: the acknowledged part that overlaps
    # most took it) gets an id of its own, stable across re-runs
    for uid, computed in new.select("episode_uid", "computed_id").iter_rows():
        if uid not in taken_new and computed in taken_old:
            matches.append((uid, alert_id_for(computed, "split", date(1970, 1, 1))))
    if not matches:
        return empty
    return pl.DataFrame(matches, schema={"episode_uid": pl.Int64, "matched_alert_id": pl.String}, orient="row")
