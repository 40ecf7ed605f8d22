"""Alert episodes: from many daily SPC flags to one actionable row per anomaly (pure: no Dagster, no I/O).

Public function
---------------
`build_alerts(flags, metrics, existing_alerts=None, config=AlertConfig(), as_of=None) -> pl.DataFrame`

    The WHOLE `store_anomaly_alerts` table, recomputed from all flags up to `as_of` (default: the last
    `metric_date` in `metrics`), with the human state of `existing_alerts` (the table as it is now, may be
    None or empty) carried over. Columns and types: `store_anomaly.alerts.config.ALERT_SCHEMA`.

    * flags: `store_anomaly_flags` (metric_date, shop_no, metric_name, rule, observed_value, expected_value,
      z_score, severity, direction; other columns ignored). Flags of every rule set count.
    * metrics: wide `store_daily_metrics` (metric_date, shop_no, shop_name, the KPI columns, is_closed,
      holiday_name, and any data-quality counters; see `kpis.catalog.dq_counter_columns`).

Episode rules
-------------
1. Only flags of severity >= `config.min_open_severity` (WARNING) dated <= `as_of` open or extend episodes.
2. Family: with `config.group_related_metrics` (default), the flags of all metrics of one family of
   `config.metric_groups` at one store are pooled (the sales family is revenue, order_count, items_sold, aov,
   production_count, orders_per_labor_hour: a traffic slide moves them all, and it is ONE alert). A metric in
   no family is its own family. `episode_key` is the family name.
3. A store x family x day with at least one such flag is a "flag day". Consecutive flag days belong to the
   same episode while the gap between them leaves fewer than `config.resolve_after_quiet_days` (N) quiet
   days (day - previous day <= N); a flag after N or more quiet days opens a new episode.
4. `opened_on` = first flag day, `last_seen_on` = last; `status` = 'resolved' when `as_of - last_seen_on >= N`
   (N quiet days observed), else 'open'.
5. Chain-wide days: on a day when at least `config.chain_wide_share` of the stores reporting that day (and at
   least `config.chain_wide_min_stores`) have a flag day on the same family in the same direction, every
   flag day of that family/direction counts one severity level lower (CRITICAL -> WARNING -> INFO).
   `chain_wide` is whether the opening day was chain-wide; `chain_share` the share of stores that day.
6. `severity` = highest (lowered) severity over the episode (escalation), `first_severity` = the opening
   day's. `metric_name` = headline metric: the family's first metric that flagged (revenue before orders...);
   `metric_names` = every metric that flagged, family order; `rules` = every rule that fired (WARNING+);
   `direction` = direction of the headline metric's strongest flag; `peak_z` = the z of largest |z|;
   `flag_days` = number of flag days; `first_observed` / `first_expected` = the first flagged metric's
   (`flag_metric`) first flag. A family listed in `config.family_headlines` is headed by that metric (sales:
   revenue, while orders and tickets are what is tested).
7. Sizing: `change_started_on`, `baseline_value`, `current_value`, `change_pct`, `estimated_loss` against the
   anchored reference of the headline KPI (see `sizing.py`); where none is held, `change_started_on` /
   `change_pct` come from the change-point estimate (`changepoint.py`, never after `opened_on`).
8. `cannibalization_suspect`: for a 'down' episode whose headline is in `config.cannibalization_metrics`,
   another store whose same metric, over [change_started_on, last_seen_on] vs the
   `comparison_baseline_days` before (same weekdays), rose at least `cannibalization_min_rise_pct` percent
   and that much more than the median store, or that has at least 3 WARNING+ 'up' flag days on it in that
   window and rose at least half that much more than the median store, or that opened (first day in
   `metrics`) inside the comparison window. A newly opened store wins, then the largest rise.

Modules: this one builds the episodes; `evidence.py` gathers what the descriptions cite (window changes,
cannibalization, data quality, holidays); `identity.py` keeps ids and human state across rebuilds (below);
`sizing.py` sizes an episode against the anchored reference; `describe.py` writes the texts.

Identity and human state
------------------------
`alert_id` = 'A-' + first 10 hex digits of sha1("shop_no|episode_key|opened_on"). Existing alerts are
matched to recomputed episodes of the same shop_no and episode_key whose date spans overlap (with
`config.match_tolerance_days` slack), one to one, greedily: rows with human state (an acknowledgement, a
label, a note) first, each going to the episode that overlaps it most (when re-scoring splits an acknowledged
episode, the acknowledgement follows the larger part; when it merges two, the merged episode takes the one it
overlaps most and the other is kept as stale); then rows without, by the same alert_id first, then the
largest overlap. An unmatched episode whose computed id went to another episode gets an id of its own. A
matched episode keeps the EXISTING alert_id (ids quoted in messages
stay valid when a re-run moves `opened_on`) and its human state: acknowledged, acknowledged_by,
acknowledged_at, ack_note, ack_label, notified_severity. An existing row that matches nothing is kept
(status 'resolved', `stale` True, its text unchanged) when it carries an acknowledgement, a label or a
note, and dropped otherwise. So an acknowledgement is never lost and never copied onto two alerts.
Columns of `existing_alerts` outside ALERT_SCHEMA (added by other code, e.g. a `notified_at`) are carried
over the same way and come after the schema columns. Existing values are coerced to the schema types
(TINYINT -> bool, strings -> dates, time-zone-aware -> naive UTC), as a SQL round trip may return them.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from store_anomaly.alerts.changepoint import change_points_for_episodes
from store_anomaly.alerts.config import (
    ALERT_SCHEMA,
    HUMAN_STATE_COLUMNS,
    SEVERITY_BY_RANK,
    SEVERITY_RANK,
    AlertConfig,
    empty_alerts,
)
from store_anomaly.alerts.describe import describe_episodes
from store_anomaly.alerts.evidence import cannibalization_suspects, episode_context
from store_anomaly.alerts.identity import alert_id_for, has_human_state, match_existing, normalize_existing
from store_anomaly.alerts.sizing import size_against_anchor

# intermediate columns of the episode frame that must never be mistaken for columns added to the table
_INTERNAL_COLUMNS = ("episode_uid", "computed_id", "matched_alert_id")


def _as_of(metrics: pl.DataFrame, flags: pl.DataFrame, as_of: date | None) -> date:
    if as_of is not None:
        return as_of
    for frame in (metrics, flags):
        if frame is not None and frame.height:
            return frame["metric_date"].max()
    return date.today()


def _normalize_flags(flags: pl.DataFrame, config: AlertConfig, as_of: date) -> pl.DataFrame:
    group_of = config.group_of()
    order = config.group_order()
    return (
        flags.select(
            "metric_date",
            "shop_no",
            "metric_name",
            "rule",
            pl.col("severity").str.to_uppercase(),
            pl.col("direction").str.to_lowercase(),
            "z_score",
            "observed_value",
            "expected_value",
        )
        .with_columns(
            pl.col("severity").replace_strict(SEVERITY_RANK, default=0, return_dtype=pl.Int64).alias("sev_rank"),
            pl.col("metric_name").replace_strict(group_of, default=pl.col("metric_name")).alias("episode_key"),
            pl.col("metric_name").replace_strict(order, default=99, return_dtype=pl.Int64).alias("metric_order"),
            pl.col("z_score").abs().fill_null(0.0).alias("abs_z"),
        )
        .filter((pl.col("sev_rank") >= SEVERITY_RANK[config.min_open_severity]) & (pl.col("metric_date") <= as_of))
    )


def _stores_per_day(metrics: pl.DataFrame) -> pl.DataFrame:
    open_days = metrics.filter(~pl.col("is_closed").fill_null(False))
    return open_days.group_by("metric_date").agg(pl.col("shop_no").n_unique().alias("stores_reporting"))


def _flag_days(
    flags: pl.DataFrame, metrics: pl.DataFrame, config: AlertConfig, windows: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per store x family x day with a WARNING+ flag, with its chain-wide status. `windows`
    (shop_no, rederive_from): a store's days before its date count towards the chain-wide share only."""
    days = flags.group_by("shop_no", "episode_key", "metric_date").agg(
        pl.col("sev_rank").max(),
        pl.col("direction").sort_by("sev_rank", "abs_z", descending=True).first(),
    )
    chain = (
        days.group_by("metric_date", "episode_key", "direction")
        .agg(pl.col("shop_no").n_unique().alias("stores_flagged"))
        .join(_stores_per_day(metrics), on="metric_date", how="left")
        .with_columns(
            # a day missing from `metrics`: assume every store of `metrics` was expected to report
            pl.coalesce("stores_reporting", pl.lit(metrics["shop_no"].n_unique(), dtype=pl.UInt32)).alias(
                "stores_reporting"
            )
        )
        .with_columns(
            (pl.col("stores_flagged") / pl.max_horizontal(pl.col("stores_reporting"), pl.col("stores_flagged"))).alias(
                "chain_share"
            )
        )
        .with_columns(
            (
                (pl.col("chain_share") >= config.chain_wide_share)
                & (pl.col("stores_flagged") >= config.chain_wide_min_stores)
            )
            .fill_null(False)
            .alias("chain_day")
        )
    )
    days = days.join(chain, on=["metric_date", "episode_key", "direction"], how="left").with_columns(
        (pl.col("sev_rank") - pl.col("chain_day").cast(pl.Int64)).clip(lower_bound=0).alias("adj_rank")
    )
    if windows is not None:
        days = (
            days.join(windows.select("shop_no", "rederive_from"), on="shop_no", how="inner")
            .filter(pl.col("metric_date") >= pl.col("rederive_from"))
            .drop("rederive_from")
        )
    gap = (pl.col("metric_date") - pl.col("metric_date").shift(1).over("shop_no", "episode_key")).dt.total_days()
    return (
        days.sort("shop_no", "episode_key", "metric_date")
        .with_columns((gap.is_null() | (gap > config.resolve_after_quiet_days)).alias("new_episode"))
        .with_columns(pl.col("new_episode").cast(pl.Int64).cum_sum().alias("episode_uid"))
    )


def _episodes(flags: pl.DataFrame, days: pl.DataFrame, config: AlertConfig, as_of: date) -> pl.DataFrame:
    spans = days.group_by("episode_uid").agg(
        pl.col("shop_no").first(),
        pl.col("episode_key").first(),
        pl.col("metric_date").min().alias("opened_on"),
        pl.col("metric_date").max().alias("last_seen_on"),
        pl.len().cast(pl.Int64).alias("flag_days"),
        pl.col("adj_rank").max().alias("severity_rank"),
        pl.col("adj_rank").sort_by("metric_date").first().alias("first_rank"),
        pl.col("sev_rank").sort_by("metric_date").first().alias("first_raw_rank"),
        pl.col("sev_rank").max().alias("raw_rank"),
        pl.col("metric_date").filter(pl.col("adj_rank") == pl.col("adj_rank").max()).min().alias("peak_on"),
        pl.col("chain_day").sort_by("metric_date").first().fill_null(False).alias("chain_wide"),
        pl.col("chain_share").sort_by("metric_date").first().alias("chain_share"),
        pl.col("stores_flagged").sort_by("metric_date").first().alias("chain_stores_flagged"),
        pl.col("stores_reporting").sort_by("metric_date").first().alias("chain_stores_reporting"),
        pl.col("chain_day").fill_null(False).sum().cast(pl.Int64).alias("chain_days"),
    )
    in_episode = flags.join(
        spans.select("episode_uid", "shop_no", "episode_key", "opened_on", "last_seen_on"),
        on=["shop_no", "episode_key"],
        how="inner",
    ).filter(pl.col("metric_date").is_between(pl.col("opened_on"), pl.col("last_seen_on")))
    per_metric = (
        in_episode.group_by("episode_uid", "metric_name")
        .agg(pl.col("metric_order").first(), pl.col("metric_date").n_unique().alias("metric_days"))
        .sort("episode_uid", "metric_order", "metric_name")
    )
    headline = per_metric.group_by("episode_uid", maintain_order=True).agg(
        pl.col("metric_name").first(),
        pl.col("metric_name").str.join(",").alias("metric_names"),
    )
    # the flags quoted (first and latest) are the first flagged metric's; the headline may be the family's own
    flagged_headline = headline.select("episode_uid", pl.col("metric_name").alias("flag_metric"))
    summary = in_episode.group_by("episode_uid").agg(
        pl.col("rule").unique().sort().str.join(",").alias("rules"),
        pl.col("z_score").sort_by("abs_z").last().alias("peak_z"),
    )
    headline_flags = in_episode.join(headline.select("episode_uid", "metric_name"), on=["episode_uid", "metric_name"])
    strongest = headline_flags.group_by("episode_uid").agg(
        pl.col("direction").sort_by("sev_rank", "abs_z").last().alias("direction"),
    )

    def edge_flag(latest: bool, names: tuple[str, str, str, str, str]) -> pl.DataFrame:
        """The headline metric's first (or latest) flag of each episode, its strongest on that day."""
        return (
            headline_flags.sort(  # the rule name breaks ties: the same flags in another order, the same row
                "episode_uid",
                "metric_date",
                "sev_rank",
                "abs_z",
                "rule",
                descending=[False, latest, True, True, False],
            )
            .group_by("episode_uid", maintain_order=True)
            .agg(
                pl.col(column).first().alias(name)
                for column, name in zip(
                    ("metric_date", "rule", "observed_value", "expected_value", "z_score"), names, strict=True
                )
            )
        )

    first_flag = edge_flag(False, ("first_flag_on", "first_rule", "first_observed", "first_expected", "first_z"))
    last_flag = edge_flag(True, ("last_flag_on", "last_rule", "last_observed", "last_expected", "last_z"))
    n_quiet = config.resolve_after_quiet_days
    episodes = (
        spans.join(headline, on="episode_uid", how="left")
        .join(summary, on="episode_uid", how="left")
        .join(strongest, on="episode_uid", how="left")
        .join(first_flag, on="episode_uid", how="left")
        .join(last_flag, on="episode_uid", how="left")
        .join(flagged_headline, on="episode_uid", how="left")
        .with_columns(
            pl.col("episode_key")
            .replace_strict(dict(config.family_headlines), default=pl.col("metric_name"), return_dtype=pl.String)
            .alias("metric_name"),
            pl.when((pl.lit(as_of) - pl.col("last_seen_on")).dt.total_days() >= n_quiet)
            .then(pl.lit("resolved"))
            .otherwise(pl.lit("open"))
            .alias("status"),
            pl.col("severity_rank").replace_strict(SEVERITY_BY_RANK, return_dtype=pl.String).alias("severity"),
            pl.col("first_rank").replace_strict(SEVERITY_BY_RANK, return_dtype=pl.String).alias("first_severity"),
            pl.col("raw_rank").replace_strict(SEVERITY_BY_RANK, return_dtype=pl.String).alias("raw_severity"),
            pl.col("first_raw_rank")
            .replace_strict(SEVERITY_BY_RANK, return_dtype=pl.String)
            .alias("first_raw_severity"),
        )
        .sort("shop_no", "episode_key", "opened_on")
    )
    return episodes


def build_alerts(
    flags: pl.DataFrame,
    metrics: pl.DataFrame,
    existing_alerts: pl.DataFrame | None = None,
    config: AlertConfig | None = None,
    as_of: date | None = None,
    anchors: pl.DataFrame | None = None,
    windows: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The whole alerts table; see the module docstring. `anchors`: the anchored references published in
    `store_spc_control_limits` (`store_anomaly.alerts.sizing.ANCHOR_COLUMNS`; rows without an anchor may be
    left out); None sizes episodes on the change-point estimate alone. `windows` (shop_no, rederive_from):
    derive only the episodes of these stores that open on or after their store's date (an incremental
    update, `incremental.update_alerts`); the flags of every store still count towards the chain-wide days
    and as peers' evidence. None: every episode."""
    config = config or AlertConfig()
    as_of = _as_of(metrics, flags, as_of)
    existing = normalize_existing(existing_alerts, config)
    # columns someone added to the table (not computed here) are carried over like the human state
    extras = [c for c in existing.columns if c not in ALERT_SCHEMA and c not in _INTERNAL_COLUMNS]

    normalized = _normalize_flags(flags, config, as_of) if flags is not None and flags.height else None
    days = None if normalized is None or normalized.is_empty() else _flag_days(normalized, metrics, config, windows)
    if days is None or days.is_empty():
        new_rows = empty_alerts().with_columns([pl.lit(None, dtype=existing.schema[c]).alias(c) for c in extras])
    else:
        episodes = _episodes(normalized, days, config, as_of)
        changes = change_points_for_episodes(metrics, episodes, config)
        episodes = episodes.join(changes, on="episode_uid", how="left")
        episodes = size_against_anchor(episodes, anchors, metrics).with_columns(
            pl.coalesce("change_started_on", "opened_on").alias("change_started_on")
        )
        context = episode_context(episodes, metrics, config)
        flags_up = normalized.filter(pl.col("direction") == "up").select("shop_no", "metric_name", "metric_date")
        suspects = cannibalization_suspects(
            episodes, context["long"], flags_up, metrics, config, shops=context["reporting"]
        )
        episodes = (
            episodes.join(suspects, on="episode_uid", how="left")
            .join(context["names"], on="shop_no", how="left")
            .with_columns(
                pl.struct("shop_no", "episode_key", "opened_on")
                .map_elements(
                    lambda s: alert_id_for(s["shop_no"], s["episode_key"], s["opened_on"]), return_dtype=pl.String
                )
                .alias("computed_id")
            )
        )
        matches = match_existing(episodes, existing, config)
        human = existing.select("alert_id", *HUMAN_STATE_COLUMNS, *extras)
        episodes = (
            episodes.join(matches, on="episode_uid", how="left")
            .with_columns(pl.coalesce("matched_alert_id", "computed_id").alias("alert_id"))
            .join(human, on="alert_id", how="left")
            .with_columns(pl.col("acknowledged").fill_null(False))
        )
        texts = describe_episodes(episodes, context, config)
        new_rows = (
            episodes.join(texts, on="episode_uid", how="left")
            .with_columns(pl.lit(False).alias("stale"), pl.lit(as_of).alias("evaluated_as_of"))
            .select(*[pl.col(c).cast(t) for c, t in ALERT_SCHEMA.items()], *extras)
        )

    kept = existing.filter(~pl.col("alert_id").is_in(new_rows["alert_id"].implode()) & has_human_state())
    kept = kept.with_columns(pl.lit("resolved").alias("status"), pl.lit(True).alias("stale"))
    result = pl.concat([new_rows, kept.select(*[pl.col(c).cast(t) for c, t in ALERT_SCHEMA.items()], *extras)])
    if result["alert_id"].n_unique() != result.height:
        raise RuntimeError("alert ids are not unique; this is a bug in the episode matcher")
    return result.sort("opened_on", "shop_no", "alert_id")
