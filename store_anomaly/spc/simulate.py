"""Synthetic `store_daily_metrics` for benchmarks and tests: realistic coffee stores with known anomalies.

Each store: Poisson order counts (300-800 a day) with a weekday profile, gamma day-to-day over-dispersion
(weather, events), a mild annual seasonality, public-holiday closures (New Year's Day, Thanksgiving, Christmas)
and dips (other US/NY holidays, Christmas Eve, New Year's Eve); tickets with a per-store average (AOV ~$5-9);
items per order ~1.5; production times averaged over the day's drinks and slower on busy days; a weekday
staffing schedule of 8-12 people with call-outs and variable shift lengths; 1-2 QC inspections a week;
Poisson waste counts. Everything is vectorised over stores x days (numpy), seeded, reproducible.

`Chain` adds what every store of the chain shares (off by default): an annual cycle common to all stores (peak
on a given day of the year), a common day-to-day wobble (the city's weather) and chain-wide event days (a
snowstorm, a heat wave, a city-wide event) that multiply every store's traffic on that day. None of these is a
store anomaly: a chain-relative rule set should flag none of them.

`Anomaly` describes what is injected from `onset` on: a multiplicative effect on one driver (traffic, ticket,
production time, staffing), either a step (`kind="step"`), a one-day spike (`"spike"`), a linear ramp to
`size` over `ramp_days` (`"ramp"`), or a full-day outage (`"outage"`: no orders, flagged `is_closed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from store_anomaly.holiday_calendar import public_holidays
from store_anomaly.spc.config import METRICS

WEEKDAY_PROFILE = np.array([0.93, 0.95, 0.97, 1.00, 1.07, 1.16, 0.92])  # Mon..Sun
CLOSED_HOLIDAYS = {"New Year's Day", "Thanksgiving Day", "Christmas Day"}
DIP_DAYS = {"12-24": 0.75, "12-31": 0.8}

AFFECTED: dict[str, tuple[str, ...]] = {
    "traffic": ("revenue", "order_count", "items_sold", "production_count", "orders_per_labor_hour"),
    "ticket": ("aov", "revenue"),
    "production": ("avg_production_seconds",),
    "staffing": ("staff_hours", "headcount", "orders_per_labor_hour"),
    "outage": ("revenue", "order_count", "items_sold", "production_count", "orders_per_labor_hour"),
}


@dataclass(frozen=True)
class Anomaly:
    driver: str  # traffic | ticket | production | staffing | outage
    kind: str  # step | spike | ramp | outage
    size: float  # relative change, e.g. -0.2 (ramp: the change reached after ramp_days)
    onset: date
    ramp_days: int = 100

    @property
    def affected_metrics(self) -> tuple[str, ...]:
        return AFFECTED[self.driver]


@dataclass(frozen=True)
class Chain:
    """Traffic movements shared by every store (multiplicative, on top of each store's own).

    seasonality: amplitude of the common annual cycle (0.06 = +-6%), peaking on `peak_day_of_year`.
    noise: standard deviation of the common log-normal day-to-day wobble (weather), e.g. 0.02.
    events: (day, traffic multiplier) pairs, e.g. (date(2025, 2, 6), 0.65) for a snowstorm.
    """

    seasonality: float = 0.0
    peak_day_of_year: int = 15
    noise: float = 0.0
    events: tuple[tuple[date, float], ...] = ()

    def traffic(self, days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The chain's traffic multiplier per day (`days`: an array of dates)."""
        doy = np.array([d.timetuple().tm_yday for d in days])
        mult = 1 + self.seasonality * np.cos(2 * np.pi * (doy - self.peak_day_of_year) / 365.25)
        if self.noise > 0:
            mult = mult * rng.lognormal(-(self.noise**2) / 2, self.noise, len(days))
        index = {d: i for i, d in enumerate(days)}
        for day, factor in self.events:
            if day in index:
                mult[index[day]] *= factor
        return mult


def random_chain(
    start: date, end: date, seed: int, seasonality: float = 0.06, noise: float = 0.02, events_per_year: float = 8.0
) -> Chain:
    """A chain with a random seasonal peak and random weather/event days: mostly dips of 15-40% (storms, heat),
    about one in five a rise of 10-25% (a city-wide event)."""
    rng = np.random.default_rng([seed, 2024])
    n_days = (end - start).days + 1
    count = round(events_per_year * n_days / 365.25)
    offsets = np.sort(rng.choice(n_days, size=count, replace=False)) if count else np.array([], dtype=int)
    factors = np.where(rng.random(count) < 0.8, rng.uniform(0.60, 0.85, count), rng.uniform(1.10, 1.25, count))
    events = tuple((start + timedelta(days=int(o)), float(round(f, 3))) for o, f in zip(offsets, factors))
    return Chain(seasonality=seasonality, peak_day_of_year=int(rng.integers(1, 366)), noise=noise, events=events)


@dataclass(frozen=True)
class StoreSpec:
    shop_no: str
    first_day: date | None = None  # None: the start of the series
    anomaly: Anomaly | None = None
    base_orders: float | None = None  # mean orders a day (None: drawn between 300 and 800)
    overdispersion: float | None = None  # day-to-day traffic CV beyond Poisson (None: drawn between 3% and 6%)


def simulate_stores(
    stores: list[StoreSpec],
    start: date,
    end: date,
    seed: int = 0,
    seasonality: float = 0.04,
    chain: Chain | None = None,
) -> pl.DataFrame:
    """The wide `store_daily_metrics` frame of `stores` between start and end (one row per open-for-business
    day from each store's first day; closed days are explicit rows with ``is_closed``). `seasonality`: the
    maximum amplitude of each store's own annual cycle (random amplitude and phase per store); `chain`: movements
    shared by every store (none by default)."""
    rng = np.random.default_rng(seed)
    n_days = (end - start).days + 1
    n = len(stores)
    days = np.array([start + timedelta(days=i) for i in range(n_days)])
    wd = np.array([d.weekday() for d in days])
    hol = public_holidays(start, end)
    holiday_name = np.array([hol.get(d) for d in days], dtype=object)
    closed_hol = np.array([hol.get(d) in CLOSED_HOLIDAYS for d in days])
    dip = np.ones(n_days)
    for i, d in enumerate(days):
        name = hol.get(d)
        if name and name not in CLOSED_HOLIDAYS:
            dip[i] = 0.85 if name in ("Independence Day", "Memorial Day", "Labor Day") else 0.95
        md = f"{d.month:02d}-{d.day:02d}"
        if md in DIP_DAYS:
            dip[i] = DIP_DAYS[md]
    doy = np.array([d.timetuple().tm_yday for d in days])

    # ---- per-store parameters -------------------------------------------------------------------------------
    base = rng.uniform(300, 800, n)
    base = np.array([s.base_orders if s.base_orders is not None else b for s, b in zip(stores, base)])
    prof = WEEKDAY_PROFILE[None, :] * rng.uniform(0.95, 1.05, (n, 7))
    season_amp = rng.uniform(0, seasonality, n)
    season_phase = rng.uniform(0, 2 * np.pi, n)
    overdisp_cv = rng.uniform(0.03, 0.06, n)
    overdisp_cv = np.array(
        [s.overdispersion if s.overdispersion is not None else c for s, c in zip(stores, overdisp_cv)]
    )
    aov0 = rng.uniform(5.0, 9.0, n)
    ticket_cv = 0.5
    prod0 = rng.uniform(150, 240, n)
    hc_base = rng.integers(8, 11, n)
    hc_weekend = rng.integers(1, 3, n)
    qc0 = rng.uniform(86, 95, n)
    waste0 = rng.uniform(1.0, 5.0, n)

    # ---- anomaly effects (multipliers per driver) --------------------------------------------------------------
    eff = {k: np.ones((n, n_days)) for k in ("traffic", "ticket", "production", "staffing")}
    outage = np.zeros((n, n_days), dtype=bool)
    alive = np.ones((n, n_days), dtype=bool)
    for i, s in enumerate(stores):
        if s.first_day is not None:
            alive[i] = days >= s.first_day
        a = s.anomaly
        if a is None:
            continue
        t = np.array([(d - a.onset).days for d in days])
        if a.kind == "outage":
            outage[i] = t == 0
            continue
        if a.kind == "step":
            mult = np.where(t >= 0, 1 + a.size, 1.0)
        elif a.kind == "spike":
            mult = np.where(t == 0, 1 + a.size, 1.0)
        elif a.kind == "ramp":
            mult = np.where(t >= 0, 1 + a.size * np.clip((t + 1) / a.ramp_days, 0, 1), 1.0)
        else:
            raise ValueError(a.kind)
        eff[a.driver][i] = mult

    # independent random streams per driver: changing one (e.g. the chain's traffic) leaves the others' draws as
    # they were (a Poisson draw consumes a variable number of uniforms, so one stream would shift everything)
    r_traffic, r_ticket, r_prod, r_staff, r_qc, r_waste, r_chain = rng.spawn(7)
    # ---- traffic -------------------------------------------------------------------------------------------------
    season = 1 + season_amp[:, None] * np.sin(2 * np.pi * doy[None, :] / 365.25 + season_phase[:, None])
    shape = 1 / overdisp_cv**2
    day_noise = r_traffic.gamma(shape[:, None], 1 / shape[:, None], (n, n_days))
    shared = (chain or Chain()).traffic(days, r_chain)[None, :]
    lam = base[:, None] * prof[:, wd] * season * dip[None, :] * day_noise * eff["traffic"] * shared
    closed = (closed_hol[None, :] | outage) & alive
    orders = np.where(closed, 0, r_traffic.poisson(lam))
    # ---- tickets -------------------------------------------------------------------------------------------------
    aov_wd = np.where(wd >= 5, 1.04, 1.0)[None, :]
    aov_mean = aov0[:, None] * aov_wd * eff["ticket"]
    safe = np.maximum(orders, 1)
    aov = aov_mean * (1 + r_ticket.normal(0, ticket_cv / np.sqrt(safe)))
    revenue = np.where(orders > 0, np.round(aov * orders, 2), 0.0)
    aov_out = np.where(orders > 0, revenue / safe, np.nan)
    items = orders + r_prod.poisson(0.5 * orders)
    prod_count = r_prod.binomial(orders, 0.97)
    busy = lam / (base[:, None] * season)
    prod_mean = prod0[:, None] * (1 + 0.12 * (busy - 1)) * eff["production"] * r_prod.lognormal(0, 0.03, (n, n_days))
    prod_secs = np.where(
        prod_count > 0, prod_mean * (1 + r_prod.normal(0, 0.45 / np.sqrt(np.maximum(prod_count, 1)))), np.nan
    )
    # ---- staffing ------------------------------------------------------------------------------------------------
    sched = hc_base[:, None] + np.where(wd >= 5, hc_weekend[:, None], 0)
    sched = np.round(sched * eff["staffing"]).astype(int)
    callouts = r_staff.binomial(sched, 0.005)
    extra = r_staff.binomial(1, 0.03, (n, n_days))
    headcount = np.where(closed, 0, sched - callouts + extra)
    shift_mean = 7.5
    staff_hours = np.where(
        headcount > 0,
        np.round(headcount * shift_mean + r_staff.normal(0, 0.9 * np.sqrt(np.maximum(headcount, 1))), 2),
        0.0,
    )
    staff_hours = np.maximum(staff_hours, 0.0)
    oplh = np.where(staff_hours > 0, orders / np.where(staff_hours > 0, staff_hours, 1), np.nan)
    # ---- quality -------------------------------------------------------------------------------------------------
    inspected = r_qc.random((n, n_days)) < (1.5 / 7)
    qc = np.where(
        inspected & ~closed, np.clip(np.round(qc0[:, None] + r_qc.normal(0, 3, (n, n_days)), 1), 0, 100), np.nan
    )
    waste = np.where(closed, 0, r_waste.poisson(waste0[:, None] * r_waste.gamma(4, 0.25, (n, n_days))))

    values = {
        "revenue": revenue,
        "order_count": orders,
        "aov": aov_out,
        "items_sold": items,
        "avg_production_seconds": np.round(prod_secs, 1),
        "production_count": prod_count,
        "staff_hours": staff_hours,
        "headcount": headcount,
        "orders_per_labor_hour": oplh,
        "qc_score": qc,
        "expired_qty": waste,
    }
    mask = alive.ravel()
    frame = pl.DataFrame(
        {
            "metric_date": np.tile(np.array(days, dtype="datetime64[D]"), n)[mask],
            "shop_no": np.repeat([s.shop_no for s in stores], n_days)[mask],
            "dept_id": np.repeat(np.arange(1, n + 1, dtype=np.int64), n_days)[mask],
            "shop_name": np.repeat([f"Store {s.shop_no}" for s in stores], n_days)[mask],
            **{m: values[m].ravel()[mask] for m in METRICS},
            "is_closed": closed.ravel()[mask],
            "holiday_name": pl.Series(np.tile(holiday_name, n)[mask].tolist(), dtype=pl.String),
        }
    )
    ints = ["order_count", "items_sold", "production_count", "headcount", "expired_qty"]
    return frame.with_columns(
        pl.col("metric_date").cast(pl.Date),
        pl.col("holiday_name").cast(pl.String),
        *[pl.col(c).cast(pl.Int64) for c in ints],
        *[pl.col(c).fill_nan(None) for c in ("aov", "avg_production_seconds", "orders_per_labor_hour", "qc_score")],
    )
