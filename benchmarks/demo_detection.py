"""Demo check: the default rule set on the demo warehouse's `store_daily_metrics`.

Run from the repository root, with the demo loaded into the warehouse:

    .venv/bin/python benchmarks/demo_detection.py
    STORE_ANOMALY_WAREHOUSE_URL=mysql://user:pass@host:3306/store_anomaly .venv/bin/python benchmarks/demo_detection.py

Reads `store_daily_metrics` (read-only) from the warehouse named by STORE_ANOMALY_WAREHOUSE_URL (default
mysql://root@127.0.0.1:3306/store_anomaly), scores the whole demo range with the default rule set (and,
with --rule-sets, others: default-nochain is the default rule set without the chain adjustment) and prints:

- the flagship's (US00001) first WARNING-or-worse flag on revenue / order_count after the start of its slide
  (2025-10-03), with the rule and the days from the start;
- the stable stores' WARNING-or-worse flags per store-month (every scored store except the flagship and
  US00004, which gains part of the flagship's customers; a store-month is 30.4375 store-days with control limits,
  i.e. after warm-up), their CRITICAL flags, and their split by rule, store and month.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

import polars as pl

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import DEMO_SERVER, DEMO_WAREHOUSE_DATABASE, WAREHOUSE_ENV_VAR
from store_anomaly.spc import METRICS, SpcConfig, compute_spc

DEFAULT_URL = f"{DEMO_SERVER}/{DEMO_WAREHOUSE_DATABASE}"
FLAGSHIP = "US00001"
DESTINATION = "US00004"  # gains part of the flagship's customers: not a stable store
SLIDE_START = date(2025, 10, 3)
SERIOUS = ("WARNING", "CRITICAL")


def load_metrics(url: str) -> pl.DataFrame:
    columns = ["metric_date", "shop_no", "shop_name", *METRICS, "is_closed", "holiday_name"]
    conn = MySQLUrl.parse(url, name=WAREHOUSE_ENV_VAR).connect(read_only=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(columns)} FROM store_daily_metrics")
            rows = cur.fetchall()
    finally:
        conn.close()
    schema = {
        "metric_date": pl.Date,
        "shop_no": pl.String,
        "shop_name": pl.String,
        **{m: pl.Float64 for m in METRICS},
        "is_closed": pl.Boolean,
        "holiday_name": pl.String,
    }
    records = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]
    frame = pl.DataFrame(records, schema=list(columns), orient="row", infer_schema_length=None)
    return frame.with_columns(
        pl.col("metric_date").cast(pl.Date),
        pl.col("shop_no").cast(pl.String),
        pl.col("shop_name").cast(pl.String),
        *[pl.col(m).cast(pl.Float64) for m in METRICS],
        pl.col("is_closed").cast(pl.Boolean),
        pl.col("holiday_name").cast(pl.String),
    ).select(list(schema))


def report(metrics: pl.DataFrame, config: SpcConfig, name: str) -> dict:
    start, end = metrics["metric_date"].min(), metrics["metric_date"].max()
    t0 = time.perf_counter()
    result = compute_spc(metrics, start, end, config)
    seconds = time.perf_counter() - t0
    flags, limits = result.flags, result.limits
    serious = flags.filter(pl.col("severity").is_in(SERIOUS))
    print(
        f"\n### rule set {name}: {start} .. {end}, {flags.height} flags ({serious.height} WARNING+) in {seconds:.1f} s"
    )

    # the flagship's slide
    fl = serious.filter(
        (pl.col("shop_no") == FLAGSHIP)
        & pl.col("metric_name").is_in(["revenue", "order_count"])
        & (pl.col("metric_date") >= SLIDE_START)
    ).sort("metric_date", "metric_name", "rule")
    first = fl.row(0, named=True) if fl.height else None
    before = serious.filter((pl.col("shop_no") == FLAGSHIP) & (pl.col("metric_date") < SLIDE_START)).height
    if first:
        print(
            f"flagship {FLAGSHIP}: first WARNING+ on revenue/order_count after the slide's start {SLIDE_START}: "
            f"{first['metric_date']} (+{(first['metric_date'] - SLIDE_START).days} days; {first['metric_name']} "
            f"{first['rule']} {first['severity']} {first['direction']}: {first['detail']})"
        )
        per_metric = fl.group_by("metric_name").agg(pl.col("metric_date").min().alias("first")).sort("metric_name")
        for row in per_metric.iter_rows(named=True):
            print(f"    {row['metric_name']}: first {row['first']} (+{(row['first'] - SLIDE_START).days} days)")
    else:
        print(f"flagship {FLAGSHIP}: no WARNING+ flag on revenue/order_count after {SLIDE_START}")
    print(f"flagship {FLAGSHIP}: WARNING+ flags before the slide (any metric): {before}")

    # stable stores: scored store-months = days with limits (any metric) per store
    scored = limits.select("shop_no", "metric_date").unique()
    stable_shops = sorted(s for s in scored["shop_no"].unique().to_list() if s not in (FLAGSHIP, DESTINATION))
    st_days = scored.filter(pl.col("shop_no").is_in(stable_shops))
    months = st_days.height / 30.4375
    st = serious.filter(pl.col("shop_no").is_in(stable_shops))
    rate = st.height / months if months else float("nan")
    print(
        f"stable stores {', '.join(stable_shops)}: {months:.1f} scored store-months, {st.height} WARNING+ flags "
        f"= {rate:.3f} per store-month; {st.select('shop_no', 'metric_date').unique().height} store-days flagged; "
        f"CRITICAL: {st.filter(pl.col('severity') == 'CRITICAL').height}"
    )
    if st.height:
        by_rule = st.group_by("rule").len().sort("len", descending=True)
        print("    by rule: " + ", ".join(f"{r['rule']}={r['len']}" for r in by_rule.iter_rows(named=True)))
        by_shop = st.group_by("shop_no").len().sort("shop_no")
        print("    by store: " + ", ".join(f"{r['shop_no']}={r['len']}" for r in by_shop.iter_rows(named=True)))
        by_month = st.group_by(pl.col("metric_date").dt.strftime("%Y-%m").alias("month")).len().sort("month")
        print("    by month: " + ", ".join(f"{r['month']}={r['len']}" for r in by_month.iter_rows(named=True)))
    if name == "default":
        report_flagship_alert_and_health(metrics, result)
    return {"first": first, "rate": rate, "critical": st.filter(pl.col("severity") == "CRITICAL").height}


def report_flagship_alert_and_health(metrics: pl.DataFrame, result) -> None:
    """The flagship's sales alert (sized against the anchored reference) and its health on the last day, with
    the figures the alert should match: the change of the weekday-adjusted 28-day mean revenue from the 28
    days before the slide to the last 28 days."""
    from datetime import timedelta

    from store_anomaly.alerts import AlertConfig, build_alerts
    from store_anomaly.alerts.sizing import ANCHOR_COLUMNS
    from store_anomaly.reports import compute_health_scores

    end = metrics["metric_date"].max()
    alerts = build_alerts(
        result.flags,
        metrics,
        None,
        AlertConfig(),
        as_of=end,
        anchors=result.limits.select(ANCHOR_COLUMNS).filter(pl.col("anchor_value").is_not_null()),
    )
    slide = alerts.filter(
        (pl.col("shop_no") == FLAGSHIP) & (pl.col("episode_key") == "sales") & (pl.col("last_seen_on") >= SLIDE_START)
    ).sort("opened_on")
    store = metrics.filter((pl.col("shop_no") == FLAGSHIP) & ~pl.col("is_closed").fill_null(False))

    def weekday_adjusted_mean(first: date) -> float:
        # the mean of the 4 same-weekday means over 28 days (each weekday 4 times)
        window = store.filter(pl.col("metric_date").is_between(first, first + timedelta(days=27)))
        return window.group_by(pl.col("metric_date").dt.weekday()).agg(pl.col("revenue").mean())["revenue"].mean()

    truth = 100 * (
        weekday_adjusted_mean(end - timedelta(days=27)) / weekday_adjusted_mean(SLIDE_START - timedelta(days=28)) - 1
    )
    for alert in slide.iter_rows(named=True):
        print(
            f"flagship alert {alert['alert_id']}: {alert['metric_name']} {alert['severity']}, opened "
            f"{alert['opened_on']} (+{(alert['opened_on'] - SLIDE_START).days} days), change_started_on "
            f"{alert['change_started_on']} ({(alert['change_started_on'] - SLIDE_START).days:+d} days), "
            f"change_pct {alert['change_pct']:.1f} (28-day weekday-adjusted means: {truth:.1f}), baseline "
            f"{alert['baseline_value']:.0f}, current {alert['current_value']:.0f}, estimated_loss "
            f"{alert['estimated_loss'] or 0:,.0f}"
        )
        print(f"    {alert['description'][:400]}")
    health = compute_health_scores(metrics, result.limits).filter(
        (pl.col("shop_no") == FLAGSHIP) & (pl.col("metric_date") >= end - timedelta(days=2))
    )
    for row in health.iter_rows(named=True):
        print(
            f"flagship health {row['metric_date']}: {row['health_score']} grade {row['grade']} (sales "
            f"{row['sales_score']})"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rule-sets",
        default="default",
        help="comma-separated: default, default-nochain (without the chain adjustment), seed",
    )
    args = parser.parse_args(argv)
    url = os.environ.get(WAREHOUSE_ENV_VAR, DEFAULT_URL)
    t0 = time.perf_counter()
    metrics = load_metrics(url)
    print(
        f"store_daily_metrics: {metrics.height} rows, {metrics['shop_no'].n_unique()} stores, "
        f"{metrics['metric_date'].min()} .. {metrics['metric_date'].max()} (loaded in "
        f"{time.perf_counter() - t0:.1f} s from {MySQLUrl.parse(url, name=WAREHOUSE_ENV_VAR).redacted()})"
    )
    configs = {
        "default": SpcConfig.default(),
        "default-nochain": SpcConfig.default(chain_relative=False),
        "seed": SpcConfig.seed(),
    }
    for name in args.rule_sets.split(","):
        if name not in configs:
            raise SystemExit(f"unknown rule set {name!r}; expected one of {', '.join(configs)}")
        report(metrics, configs[name], name)


if __name__ == "__main__":
    main()
