"""Detection benchmark: both SPC rule sets on a battery of synthetic stores with anomalies of known onset.

Run from the repository root:

    .venv/bin/python benchmarks/detection.py            # the battery (seed 7)
    .venv/bin/python benchmarks/detection.py --seed 11 --replicates 20 --stable 300
    .venv/bin/python benchmarks/detection.py --chain-seasonality 0 --chain-noise 0 --chain-events 0   # no chain

Prints, per scenario and rule set, how many days pass from the onset to the first WARNING-or-worse flag on an
affected metric (0 = flagged on the onset day), and for stable stores the false WARNING-or-worse flags per
store-month (and CRITICAL ones), and the signals among them (a flag whose store, metric and rule were not
flagged the day before: a drift excursion spends several flag-days on one signal). A new store opening
mid-series is checked for silence in its first 28 days.

Every store of the battery shares the chain's movements (`store_anomaly.spc.simulate.Chain`): an annual cycle of
+-6% with a random peak, a 2% common day-to-day wobble and about eight chain-wide weather/event days a year
(dips of 15-40%, some rises of 10-25%), on top of each store's own cycle of up to +-4%. None of them is a store
anomaly; the report counts the stable stores' flags on the chain-wide event days separately.

Beside the raw figures for the steps, spikes, outages and AOV / production-time steps (the scenarios with a target
of a few days), the default rule set's row shows what its thresholds can catch on these very stores: each store's
size in sigma (the change on the transformed scale over the sigma in force, from the engine's own limits), the
probability that the point and shift rules flag it within the target given independent Gaussian day noise
(`achievable`), their sum (the expected count at these thresholds, i.e. at the false-alarm budget), and how many
of the stores the rules should catch with probability >= 0.9 were caught. Holidays are never flagged (by design:
they are not scored), so an onset on a holiday counts from the next trading day and a one-day spike on one
cannot be caught.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from store_anomaly.spc import SpcConfig, compute_anomaly_flags, compute_spc
from store_anomaly.spc.prepare import special_days
from store_anomaly.spc.simulate import (
    Anomaly,
    Chain,
    StoreSpec,
    random_chain,
    simulate_stores,
)

SERIES_START = date(2024, 1, 1)
SERIES_END = date(2025, 12, 31)
SCORE_START = date(2024, 12, 1)
ONSET_FIRST = date(2025, 2, 1)
ONSET_LAST = date(2025, 9, 1)
HORIZON = 60  # days after onset searched for the first flag
# the KPI the point and shift rules test for each driver (revenue, items and production counts move with orders
# and are published, not tested; see docs/spc.md)
TESTED_METRIC = {
    "traffic": "order_count",
    "outage": "order_count",
    "ticket": "aov",
    "production": "avg_production_seconds",
}
CLEAR = 0.9  # a store the rules catch within the target with at least this probability is a "clear" case


@dataclass(frozen=True)
class Scenario:
    name: str
    driver: str
    kind: str
    size: float
    target_days: int | None  # days from onset (0 = onset day) the default rule set should flag within
    ramp_days: int = 100
    base_orders: float | None = None  # None: a random store (300-800 orders a day)
    overdispersion: float | None = None  # None: random (3-6% beyond Poisson)
    # the statistical limit of the median delay (docs/spc.md, the ramp formula) at this false-alarm budget and the
    # scenario's noise; in brackets the figure for one false alarm per 150 days of the ramp test alone
    limit_days: str | None = None


SCENARIOS = [
    Scenario("step down 15%", "traffic", "step", -0.15, None),
    Scenario("step down 20%", "traffic", "step", -0.20, 2),
    Scenario("step down 30%", "traffic", "step", -0.30, 2),
    Scenario("step up 15%", "traffic", "step", 0.15, None),
    Scenario("step up 20%", "traffic", "step", 0.20, 2),
    Scenario("step up 30%", "traffic", "step", 0.30, 2),
    Scenario("decline 50% over 100 days", "traffic", "ramp", -0.50, 21, limit_days="12-17.5"),
    Scenario(
        "flagship-like: -51% over 92 days, 480 orders/day (noise ~5%)",
        "traffic",
        "ramp",
        -0.51,
        12,
        ramp_days=92,
        base_orders=480,
        overdispersion=0.02,
        limit_days="13-14.5 (9-10)",
    ),
    Scenario(
        "-50% over 100 days, 150 orders/day (noise ~9%)",
        "traffic",
        "ramp",
        -0.50,
        22,
        ramp_days=100,
        base_orders=150,
        overdispersion=0.03,
        limit_days="20-21.5 (15-18)",
    ),
    Scenario("decline 30% over 30 days", "traffic", "ramp", -0.30, None, ramp_days=30),
    Scenario("one-day spike +25%", "traffic", "spike", 0.25, 0),
    Scenario("one-day spike +50%", "traffic", "spike", 0.50, 0),
    Scenario("one-day drop -30%", "traffic", "spike", -0.30, 0),
    Scenario("outage (closed, not a holiday)", "outage", "outage", -1.0, 0),
    Scenario("production time +20%", "production", "step", 0.20, 0),
    Scenario("production time -20%", "production", "step", -0.20, 0),
    Scenario("AOV +20%", "ticket", "step", 0.20, 0),
    Scenario("AOV -20%", "ticket", "step", -0.20, 0),
    Scenario("staffing -20%", "staffing", "step", -0.20, 0),
    Scenario("staffing +25%", "staffing", "step", 0.25, 0),
]


def build_battery(
    replicates: int, stable: int, seed: int, scenarios: list[Scenario] | None = None
) -> tuple[list[StoreSpec], dict[str, tuple[Scenario, Anomaly]]]:
    scenarios = SCENARIOS if scenarios is None else scenarios
    rng = np.random.default_rng(seed)
    span = (ONSET_LAST - ONSET_FIRST).days
    stores: list[StoreSpec] = []
    truth: dict[str, tuple[Scenario, Anomaly]] = {}
    for si, sc in enumerate(scenarios):
        for r in range(replicates):
            onset = ONSET_FIRST + timedelta(days=int(rng.integers(0, span)))
            shop = f"A{si:02d}{r:03d}"
            anomaly = Anomaly(sc.driver, sc.kind, sc.size, onset, ramp_days=sc.ramp_days)
            stores.append(
                StoreSpec(shop, anomaly=anomaly, base_orders=sc.base_orders, overdispersion=sc.overdispersion)
            )
            truth[shop] = (sc, anomaly)
    for i in range(stable):
        stores.append(StoreSpec(f"S{i:04d}"))
    for i in range(max(4, replicates // 2)):
        stores.append(StoreSpec(f"N{i:03d}", first_day=ONSET_FIRST + timedelta(days=int(rng.integers(0, span)))))
    return stores, truth


def achievable(limits: pl.DataFrame, truth: dict, config: SpcConfig, draws: int = 20_000) -> dict[str, dict]:
    """What the point and shift rules can catch, per store of the scenarios with a target of a few days.

    For each store: the change on the transformed scale (log: log(1 + size)) over the sigma in force on each day of
    the target window (the engine's own, from `limits`), i.e. its size in sigma, and the probability that the
    rules flag it within the target if each day's Z is that size plus independent standard Gaussian noise: a day
    beyond the point rule's WARNING tier of that side, or the shift CUSUM (k, the side's h, inputs winsorised)
    started at zero on the onset. Holidays are not scored (their days are left out of the window). The figure
    ignores `anchored_drift` (which sometimes flags a step early) and a CUSUM already above zero before the onset:
    a reference for what the thresholds allow, not a prediction of every flag."""
    rng = np.random.default_rng(0)
    special = set(special_days(config, SCORE_START, SERIES_END).to_list())
    sigma = {
        (r["shop_no"], r["metric_name"], r["metric_date"]): r["sigma_transformed"]
        for r in limits.select("shop_no", "metric_name", "metric_date", "sigma_transformed").iter_rows(named=True)
    }
    out: dict[str, dict] = {}
    for shop, (sc, anomaly) in truth.items():
        metric = TESTED_METRIC.get(sc.driver)
        if metric is None or sc.target_days is None or sc.kind == "ramp":
            continue
        spec = config.metric_specs[metric]
        up = sc.size > 0
        tiers = config.severity_thresholds(metric)
        point = tiers["warning_up"] if up else tiers["warning"]
        h = spec.up_shift_h if up and spec.up_shift_h is not None else config.fast_h
        size = abs(float(np.log1p(sc.size))) if sc.kind != "outage" else np.inf
        deltas = []
        for offset in range(sc.target_days + 1):
            day = anomaly.onset + timedelta(days=offset)
            s = sigma.get((shop, metric, day))
            if day in special or s is None or not s > 0:
                continue
            effect = size if (sc.kind == "step" or offset == 0) else 0.0
            deltas.append(effect / s)
        hit = np.zeros(draws, dtype=bool)
        cusum = np.zeros(draws)
        for delta in deltas:
            z = delta + rng.standard_normal(draws)
            cusum = np.maximum(0.0, cusum + np.minimum(z, config.cusum_clip) - config.fast_k)
            hit |= (z > point) | (cusum > h)
        first = size / sigma[(shop, metric, anomaly.onset)] if (shop, metric, anomaly.onset) in sigma else None
        out[shop] = {
            "sigmas": None if first is None or not np.isfinite(first) else first,
            "p": float(hit.mean()) if deltas else 0.0,
            "holiday": anomaly.onset in special,
        }
    return out


def evaluate(
    flags: pl.DataFrame,
    stores: list[StoreSpec],
    truth: dict,
    rule_set: str,
    chain: Chain | None = None,
    limits: pl.DataFrame | None = None,
    config: SpcConfig | None = None,
) -> dict:
    serious = flags.filter(pl.col("severity").is_in(["WARNING", "CRITICAL"]))
    rows = []
    for shop, (sc, anomaly) in truth.items():
        f = serious.filter(
            (pl.col("shop_no") == shop)
            & pl.col("metric_name").is_in(list(anomaly.affected_metrics))
            & (pl.col("metric_date") >= anomaly.onset)
            & (pl.col("metric_date") <= anomaly.onset + timedelta(days=HORIZON))
        )
        delay = (f["metric_date"].min() - anomaly.onset).days if f.height else None
        rows.append({"scenario": sc.name, "shop_no": shop, "delay": delay})
    per = pl.DataFrame(rows, schema={"scenario": pl.String, "shop_no": pl.String, "delay": pl.Int64})
    reach = achievable(limits, truth, config) if limits is not None and config is not None else {}
    table = {}
    for sc in dict.fromkeys(sc for sc, _ in truth.values()):
        d = per.filter(pl.col("scenario") == sc.name)["delay"]
        found = d.drop_nulls()
        within = None if sc.target_days is None else int((found <= sc.target_days).sum())
        table[sc.name] = {
            "n": d.len(),
            "detected": found.len(),
            "median": None if found.is_empty() else float(found.median()),
            "p90": None if found.is_empty() else float(found.quantile(0.9, "higher")),
            "max": None if found.is_empty() else int(found.max()),
            "within": within,
            "target": sc.target_days,
        }
        shops = per.filter(pl.col("scenario") == sc.name)
        if reach and all(shop in reach for shop in shops["shop_no"]):
            caught = {
                r["shop_no"]: r["delay"] is not None and r["delay"] <= sc.target_days
                for r in shops.iter_rows(named=True)
            }
            sigmas = [reach[shop]["sigmas"] for shop in caught if reach[shop]["sigmas"] is not None]
            clear = [shop for shop in caught if reach[shop]["p"] >= CLEAR]
            table[sc.name]["reach"] = {
                "sigmas": (float(np.median(sigmas)), min(sigmas), max(sigmas)) if sigmas else None,
                "holidays": sum(reach[shop]["holiday"] for shop in caught),
                "expected": sum(reach[shop]["p"] for shop in caught),
                "clear": len(clear),
                "clear_caught": sum(caught[shop] for shop in clear),
            }
    stable = [s.shop_no for s in stores if s.shop_no.startswith("S")]
    scored_days = (SERIES_END - SCORE_START).days + 1
    months = len(stable) * scored_days / 30.4375
    st = serious.filter(pl.col("shop_no").is_in(stable))
    fa = {
        "store_months": months,
        "warning_plus_per_store_month": st.height / months,
        "store_days_per_store_month": st.select("shop_no", "metric_date").unique().height / months,
        "signals_per_store_month": signals(st).height / months,
        "signals_by_rule": signals(st).group_by("rule").len().sort("len", descending=True),
        "critical": st.filter(pl.col("severity") == "CRITICAL").height,
        "critical_rows": st.filter(pl.col("severity") == "CRITICAL"),
        "by_rule": st.group_by("rule").len().sort("len", descending=True),
        "by_metric": st.group_by("metric_name").len().sort("len", descending=True),
    }
    new = [s for s in stores if s.shop_no.startswith("N")]
    quiet_violations = 0
    for s in new:
        quiet_violations += flags.filter(
            (pl.col("shop_no") == s.shop_no) & (pl.col("metric_date") < s.first_day + timedelta(days=28))
        ).height
    fa["new_store_flags_first_28_days"] = quiet_violations
    fa["new_stores"] = len(new)
    event_days = [d for d, _ in (chain.events if chain else ()) if SCORE_START <= d <= SERIES_END]
    fa["event_days"] = len(event_days)
    fa["flags_on_event_days"] = st.filter(pl.col("metric_date").is_in(event_days)).height
    return {"table": table, "false_alarms": fa}


def signals(flags: pl.DataFrame) -> pl.DataFrame:
    """The flags that start a signal: a store, metric and rule flagged on a day but not on the day before (a drift
    excursion above its threshold is one signal over several flag-days; the SPC notion of a false alarm, whose
    rate is the in-control run length's inverse)."""
    key = ["shop_no", "metric_name", "rule"]
    days = flags.select(*key, "metric_date").unique()
    before = days.with_columns(pl.col("metric_date") + timedelta(days=1))
    return days.join(before, on=[*key, "metric_date"], how="anti")


def fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def print_report(results: dict[str, dict], replicates: int) -> None:
    names = list(results)
    print("\n## Days from onset to the first WARNING-or-worse flag on an affected metric")
    print(
        f"(0 = the onset day; {replicates} stores per scenario; median / 90th percentile / max; "
        f"'within' = stores flagged within the target)\n"
    )
    header = (
        "| scenario | target (days) | limit at this budget (days) | "
        + " | ".join(f"{n}: detected | {n}: median / p90 / max | {n}: within target" for n in names)
        + " |"
    )
    print(header)
    print("|" + "---|" * (3 + 3 * len(names)))
    for sc in SCENARIOS:
        if sc.name not in results[names[0]]["table"]:
            continue
        cells = [sc.name, fmt(sc.target_days), fmt(sc.limit_days)]
        for n in names:
            t = results[n]["table"][sc.name]
            cells += [
                f"{t['detected']}/{t['n']}",
                f"{fmt(t['median'])} / {fmt(t['p90'])} / {fmt(t['max'])}",
                "-" if t["within"] is None else f"{t['within']}/{t['n']}",
            ]
        print("| " + " | ".join(cells) + " |")
    for n in names:
        rows = [
            (sc, results[n]["table"][sc.name]) for sc in SCENARIOS if "reach" in results[n]["table"].get(sc.name, {})
        ]
        if not rows:
            continue
        print(f"\n## What {n}'s thresholds can catch on these stores (steps, spikes, outages; within the target)")
        print(
            f"\n(size in sigma: the change over the sigma in force on the onset day, median (min-max); expected: the "
            f"sum over the stores of the probability that the point and shift rules flag it within the target at "
            f"these thresholds, Gaussian day noise; clear: the stores flagged with probability >= {CLEAR:g}; "
            f"holidays are not scored)\n"
        )
        print(
            "| scenario | target (days) | size in sigma | onsets on a holiday | within target | expected at these "
            "thresholds | clear cases caught |"
        )
        print("|---|---|---|---|---|---|---|")
        for sc, t in rows:
            r = t["reach"]
            size = "-" if r["sigmas"] is None else "{:.1f} ({:.1f}-{:.1f})".format(*r["sigmas"])
            print(
                f"| {sc.name} | {sc.target_days} | {size} | {r['holidays']} | {t['within']}/{t['n']} | "
                f"{r['expected']:.1f}/{t['n']} | {r['clear_caught']}/{r['clear']} |"
            )
    print("\n## Stable stores: false WARNING-or-worse flags")
    print(
        "\n| rule set | store-months | flags per store-month | signals per store-month | store-days flagged per "
        "store-month | CRITICAL flags | flags on chain-wide event days | flags in a new store's first 28 days |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in names:
        fa = results[n]["false_alarms"]
        print(
            f"| {n} | {fa['store_months']:.0f} | {fa['warning_plus_per_store_month']:.3f} | "
            f"{fa['signals_per_store_month']:.3f} | {fa['store_days_per_store_month']:.3f} | {fa['critical']} | "
            f"{fa['flags_on_event_days']} ({fa['event_days']} days) | "
            f"{fa['new_store_flags_first_28_days']} ({fa['new_stores']} stores) |"
        )
    for n in names:
        fa = results[n]["false_alarms"]
        for row in fa["critical_rows"].iter_rows(named=True):
            print(
                f"{n}: stable-store CRITICAL: {row['shop_no']} {row['metric_date']} {row['metric_name']} "
                f"{row['rule']} {row['direction']} observed {row['observed_value']:.1f} expected "
                f"{row['expected_value']:.1f} z {row['z_score']:.2f}"
            )
        print(
            f"\n{n}: stable-store WARNING+ flags by rule: "
            + ", ".join(f"{r['rule']}={r['len']}" for r in fa["by_rule"].iter_rows(named=True))
        )
        print(
            f"{n}: stable-store signals (a store, metric and rule flagged, but not the day before) by rule: "
            + ", ".join(f"{r['rule']}={r['len']}" for r in fa["signals_by_rule"].iter_rows(named=True))
        )
        print(
            f"{n}: by metric: "
            + ", ".join(f"{r['metric_name']}={r['len']}" for r in fa["by_metric"].iter_rows(named=True))
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replicates", type=int, default=12)
    parser.add_argument("--stable", type=int, default=150)
    parser.add_argument(
        "--seasonality", type=float, default=0.04, help="max amplitude of each store's own annual cycle"
    )
    parser.add_argument(
        "--chain-seasonality", type=float, default=0.06, help="amplitude of the annual cycle shared by every store"
    )
    parser.add_argument("--chain-noise", type=float, default=0.02, help="shared day-to-day wobble (log sd)")
    parser.add_argument("--chain-events", type=float, default=8.0, help="chain-wide weather/event days per year")
    parser.add_argument(
        "--scenarios",
        default="",
        help="comma-separated substrings: only the scenarios whose name holds one (all by default)",
    )
    parser.add_argument(
        "--rule-sets",
        default="seed,default",
        help="comma-separated: seed, default, default-nochain (the default without the chain adjustment)",
    )
    args = parser.parse_args(argv)
    wanted = [w for w in args.scenarios.split(",") if w]
    scenarios = [sc for sc in SCENARIOS if not wanted or any(w in sc.name for w in wanted)]
    stores, truth = build_battery(args.replicates, args.stable, args.seed, scenarios)
    chain = random_chain(
        SERIES_START,
        SERIES_END,
        args.seed,
        seasonality=args.chain_seasonality,
        noise=args.chain_noise,
        events_per_year=args.chain_events,
    )
    t0 = time.perf_counter()
    metrics = simulate_stores(
        stores, SERIES_START, SERIES_END, seed=args.seed, seasonality=args.seasonality, chain=chain
    )
    print(
        f"battery: {len(stores)} stores x {(SERIES_END - SERIES_START).days + 1} days "
        f"({metrics.height} rows), generated in {time.perf_counter() - t0:.1f} s; scored "
        f"{SCORE_START} .. {SERIES_END}; seed {args.seed}; chain: +-{chain.seasonality:g} annual cycle peaking on "
        f"day {chain.peak_day_of_year}, {chain.noise:g} daily wobble, {len(chain.events)} event days"
    )
    results = {}
    for name in args.rule_sets.split(","):
        if name == "seed":
            config = SpcConfig.seed()
        elif name == "default":
            config = SpcConfig.default()
        elif name == "default-nochain":
            config = SpcConfig.default(chain_relative=False)
        else:
            raise SystemExit(f"unknown rule set {name!r}")
        t0 = time.perf_counter()
        limits = None
        if name == "seed":
            flags = compute_anomaly_flags(metrics, SCORE_START, SERIES_END, config)
        else:  # the limits give each scenario store's sigma (what its thresholds can catch)
            result = compute_spc(metrics, SCORE_START, SERIES_END, config)
            flags = result.flags
            limits = result.limits.filter(
                pl.col("shop_no").is_in(list(truth)) & pl.col("metric_name").is_in(list(set(TESTED_METRIC.values())))
            )
            del result
        print(f"{name}: {flags.height} flags in {time.perf_counter() - t0:.1f} s")
        results[name] = evaluate(flags, stores, truth, name, chain, limits, config)
        if name == "default":
            default_flags = flags
    print_report(results, args.replicates)
    if "default" in results:
        print_alert_rate(default_flags, metrics, stores)


def print_alert_rate(flags: pl.DataFrame, metrics: pl.DataFrame, stores: list[StoreSpec]) -> None:
    """Alert episodes (what a person is asked to act on) opened per stable store-month, default rule set."""
    from store_anomaly.alerts import AlertConfig, build_alerts

    stable = [store.shop_no for store in stores if store.shop_no.startswith("S")]
    t0 = time.perf_counter()
    alerts = build_alerts(
        flags.filter(pl.col("shop_no").is_in(stable)),
        metrics.filter(pl.col("shop_no").is_in(stable)),
        None,
        AlertConfig(),
        as_of=SERIES_END,
    )
    months = len(stable) * ((SERIES_END - SCORE_START).days + 1) / 30.4375
    print(
        f"\nalert episodes opened on stable stores (default rule set): {alerts.height} in {months:.0f} "
        f"store-months = {alerts.height / months:.3f} per store-month "
        f"({alerts.filter(pl.col('severity') == 'CRITICAL').height} CRITICAL; built in "
        f"{time.perf_counter() - t0:.1f} s)"
    )


if __name__ == "__main__":
    main()
