"""Backtest: what the rules catch on *your* stores (pure, no Dagster, no I/O).

The chain's real `store_daily_metrics` history is replayed with a synthetic change injected into one real store
at a time (the other stores untouched, so the chain effect is the real one), and the rule sets are scored:

- **scenarios**: ramps of -30% and -50% over 30 and 90 days, steps of -15% and -25%, a one-day drop of -50%,
  applied to the store's traffic (orders, revenue, items, drinks produced, orders per labour hour; the ticket is
  unchanged) from an onset `onset_after_days` after the store's first day;
- **delay**: days from the onset to the first WARNING-or-worse flag on an affected KPI (None: not within
  `horizon_days`);
- **false flags per store-month**: the WARNING-or-worse flags of the store's untouched history (every KPI,
  every rule), per 30.4375 scored days;
- **smallest slide within 14 days**: the slowest slide (a fall of `slide_grid` per day, of the level before it)
  flagged within 14 days of its onset.

Each injected run scores only the KPIs the change moves that the rule set tests (default: orders and orders per
labour hour; its cost is a small fraction of a full run), over the rows the result needs (the rule set's lookback
before the onset, the horizon after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

import polars as pl

from store_anomaly.spc.config import SpcConfig
from store_anomaly.spc.engine import compute_spc

TRAFFIC_KPIS = ("revenue", "order_count", "items_sold", "production_count", "orders_per_labor_hour")
SERIOUS = ("WARNING", "CRITICAL")


@dataclass(frozen=True)
class Injection:
    name: str
    kind: str  # ramp | step | drop
    size: float  # relative change reached (ramp: after `days`)
    days: int = 1


SCENARIOS: tuple[Injection, ...] = (
    Injection("ramp -30% / 30 d", "ramp", -0.30, 30),
    Injection("ramp -30% / 90 d", "ramp", -0.30, 90),
    Injection("ramp -50% / 30 d", "ramp", -0.50, 30),
    Injection("ramp -50% / 90 d", "ramp", -0.50, 90),
    Injection("step -15%", "step", -0.15),
    Injection("step -25%", "step", -0.25),
    Injection("one-day drop -50%", "drop", -0.50),
)


def inject(metrics: pl.DataFrame, shop_no: str, onset: date, change: Injection) -> pl.DataFrame:
    """`metrics` with `change` applied to `shop_no`'s traffic KPIs from `onset` (closed days stay closed)."""
    t = (pl.col("metric_date") - pl.lit(onset)).dt.total_days()
    if change.kind == "ramp":
        factor = 1.0 + change.size * ((t + 1) / change.days).clip(0.0, 1.0)
    elif change.kind == "step":
        factor = pl.lit(1.0 + change.size)
    else:
        factor = pl.when(t == 0).then(pl.lit(1.0 + change.size)).otherwise(pl.lit(1.0))
    hit = (pl.col("shop_no") == shop_no) & (t >= 0)
    counts = {"order_count", "items_sold", "production_count"}
    return metrics.with_columns(
        pl.when(hit)
        .then((pl.col(m) * factor).round(0) if m in counts else pl.col(m) * factor)
        .otherwise(pl.col(m))
        .alias(m)
        for m in TRAFFIC_KPIS
        if m in metrics.columns
    )


def _detection_delay(
    window: pl.DataFrame, shop_no: str, onset: date, horizon_days: int, config: SpcConfig, change: Injection
) -> int | None:
    """Days from `onset` to the first WARNING-or-worse flag of `shop_no` once `change` is injected there."""
    flags = compute_spc(
        inject(window, shop_no, onset, change), onset, onset + timedelta(days=horizon_days), config
    ).flags
    return _first_flag(flags, shop_no, onset, horizon_days)


def _first_flag(flags: pl.DataFrame, shop_no: str, onset: date, horizon: int) -> int | None:
    hit = flags.filter(
        (pl.col("shop_no") == shop_no)
        & pl.col("severity").is_in(SERIOUS)
        & pl.col("metric_name").is_in(TRAFFIC_KPIS)
        & pl.col("metric_date").is_between(onset, onset + timedelta(days=horizon))
    )
    return None if hit.is_empty() else (hit["metric_date"].min() - onset).days


def backtest(
    metrics: pl.DataFrame,
    configs: dict[str, SpcConfig],
    *,
    onset_after_days: int = 150,
    horizon_days: int = 60,
    slide_grid: tuple[float, ...] = (0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03),
) -> pl.DataFrame:
    """One row per store x rule set: shop_no, rule_set, onset, false_flags_per_store_month, scored_months, one
    delay column per scenario (days, null = not flagged within the horizon) and smallest_slide_14d (the slowest
    slide of `slide_grid`, a fall per day, flagged within 14 days; null = none). Stores with too little
    history for an onset (`onset_after_days` plus the horizon) are left out."""
    metrics = metrics.with_columns(pl.col("metric_date").cast(pl.Date), pl.col("shop_no").cast(pl.String))
    first_day, last_day = metrics["metric_date"].min(), metrics["metric_date"].max()
    spans = metrics.group_by("shop_no").agg(pl.col("metric_date").min().alias("first")).sort("shop_no")
    rows = []
    for name, config in configs.items():
        untouched = compute_spc(metrics, first_day, last_day, config)
        serious = untouched.flags.filter(pl.col("severity").is_in(SERIOUS))
        scored = untouched.limits.select("shop_no", "metric_date").unique()
        # the injected runs score the traffic KPIs the rules test, over the rows the result depends on
        tested = [
            m
            for m in config.metrics
            if m in TRAFFIC_KPIS and (config.rule_set == "seed" or config.metric_specs[m].tested)
        ]
        traffic = config.replace(metrics=tuple(tested))
        for shop_no, first in spans.iter_rows():
            onset = first + timedelta(days=onset_after_days)
            if onset + timedelta(days=horizon_days) > last_day:
                continue
            months = scored.filter(pl.col("shop_no") == shop_no).height / 30.4375
            row: dict[str, object] = {
                "shop_no": shop_no,
                "rule_set": name,
                "onset": onset,
                "scored_months": round(months, 1),
                "false_flags_per_store_month": (
                    round(serious.filter(pl.col("shop_no") == shop_no).height / months, 3) if months else None
                ),
            }
            window = metrics.filter(
                pl.col("metric_date").is_between(
                    onset - timedelta(days=traffic.lookback_days), onset + timedelta(days=horizon_days)
                )
            )

            delay = partial(_detection_delay, window, shop_no, onset, horizon_days, traffic)
            for change in SCENARIOS:
                row[change.name] = delay(change)
            row["smallest_slide_14d"] = None
            for per_day in sorted(slide_grid):  # a linear slide of per_day a day (of the level before it)
                caught = delay(Injection("slide", "ramp", -per_day * 60, 60))
                if caught is not None and caught <= 14:
                    row["smallest_slide_14d"] = per_day
                    break
            rows.append(row)
    schema = {
        "shop_no": pl.String,
        "rule_set": pl.String,
        "onset": pl.Date,
        "scored_months": pl.Float64,
        "false_flags_per_store_month": pl.Float64,
        **{c.name: pl.Int64 for c in SCENARIOS},
        "smallest_slide_14d": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def format_backtest(table: pl.DataFrame) -> str:
    """The backtest as a Markdown table (delays in days after the onset, '-' = not flagged in the horizon)."""
    names = [c.name for c in SCENARIOS]
    header = [
        "store",
        "rule set",
        "onset",
        *names,
        "slowest slide caught within 14 d (per day)",
        "false WARNING+ flags per store-month (untouched history)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.iter_rows(named=True):
        slide = row["smallest_slide_14d"]
        cells = [
            row["shop_no"],
            row["rule_set"],
            str(row["onset"]),
            *["-" if row[n] is None else str(row[n]) for n in names],
            "-" if slide is None else f"-{slide * 100:.2g}%",
            "-" if row["false_flags_per_store_month"] is None else f"{row['false_flags_per_store_month']:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
