"""Demo data for the five source databases: a Manhattan coffee chain whose flagship slowly loses customers.

The story the data tells, and that the platform should find:

* Eight retail stores and two test kitchens (New Jersey and Shanghai). US00007 is not open yet, US00008
  opens mid-series (2025-05-12).
* Every store follows its own weekday pattern, an hour-of-day curve in store-local time (morning rush,
  lunch bump, closed overnight), US holidays (closed on Thanksgiving and Christmas, quieter on the others)
  and a mild seasonality, plus noise. Nothing else moves.
* Except the flagship US00001 "8th & Broadway": from early October 2025 its revenue slides from about $106K
  a month to about $52K in January 2026, mostly through fewer orders and a little through smaller baskets,
  and part of those customers turn up at US00004 "37th & Broadway".
* A small share of dirty rows of every kind the source contract excludes: NULL and negative pay_money,
  refunds and cancellations, open and over-long shifts, unfinished and time-travelling production orders,
  orphan dept_ids, missing QC scores, and test-kitchen rows.

Everything is drawn with numpy, vectorized over rows, from random streams derived from one seed, so a seed
always yields the same table contents. Timestamps are drawn in store-local time and converted to UTC with
the time-zone database, so daylight saving time shifts the UTC hours as it does for real stores.
"""

from __future__ import annotations

import itertools
import logging
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import holidays
import numpy as np
import polars as pl

from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import DEMO_SOURCE_ENV_VARS, SOURCE_ENV_VARS
from store_anomaly.sources import demo_loading
from store_anomaly.sources.schema import SOURCE_DDL, table_name_of

log = logging.getLogger(__name__)

# source -> table -> rows, in contract column order.
DemoTables = dict[str, dict[str, pl.DataFrame]]

# --------------------------------------------------------------------------------------------------------
# The chain
# --------------------------------------------------------------------------------------------------------

ACTIVE = 1
NOT_YET_OPEN = 2
RETAIL = 1
TEST_KITCHEN = 9
NEW_YORK = "America/New_York"
SHANGHAI = "Asia/Shanghai"

# Relative traffic by weekday, Monday first. Commuter stores empty out on weekends, the Financial District
# even more; neighborhood stores barely notice. Mondays and Fridays are a bit lighter (hybrid work).
COMMUTER_WEEK = (0.97, 1.00, 1.02, 1.00, 0.93, 0.62, 0.52)
FINANCIAL_DISTRICT_WEEK = (0.96, 1.02, 1.03, 1.00, 0.90, 0.42, 0.36)
NEIGHBORHOOD_WEEK = (0.95, 0.97, 0.98, 0.98, 1.00, 0.93, 0.87)
WORKWEEK_ONLY = (1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0)
# Store-local opening hours as minutes of the day: retail 06:00-21:00, test kitchens 09:00-17:00.
RETAIL_HOURS = (6 * 60, 21 * 60)
KITCHEN_HOURS = (9 * 60, 17 * 60)


@dataclass(frozen=True)
class DemoStore:
    """One row of t_shop and t_shop_dept, with the traffic profile its rows are drawn from."""

    shop_no: str
    shop_name: str
    dept_id: int
    weekday_orders: float  # expected orders on an ordinary weekday, before holidays, season and story
    week: tuple[float, ...]  # traffic factor per weekday, Monday first
    open_date: date  # historic opening; see `resolve_open_date` for the date written to t_shop
    status: int = ACTIVE
    shop_type: int = RETAIL
    time_zone: str = NEW_YORK
    holiday_region: tuple[str, str | None] = ("US", "NY")  # country and subdivision of the calendar
    opens_mid_series: bool = False

    @property
    def is_retail(self) -> bool:
        return self.shop_type == RETAIL

    @property
    def opening_minute(self) -> int:
        """Store-local minute of the day the doors open."""
        return (RETAIL_HOURS if self.is_retail else KITCHEN_HOURS)[0]

    @property
    def closing_minute(self) -> int:
        return (RETAIL_HOURS if self.is_retail else KITCHEN_HOURS)[1]


FLAGSHIP = "US00001"
CUSTOMER_DESTINATION = "US00004"  # where part of the flagship's customers go

RETAIL_CHAIN = (
    DemoStore("US00001", "8th & Broadway", 1127, 460.0, COMMUTER_WEEK, date(2016, 9, 12)),
    DemoStore("US00002", "28th & 6th", 1128, 255.0, COMMUTER_WEEK, date(2017, 3, 6)),
    DemoStore("US00003", "100 Maiden Ln", 1140, 280.0, FINANCIAL_DISTRICT_WEEK, date(2018, 5, 14)),
    DemoStore("US00004", "37th & Broadway", 1141, 235.0, COMMUTER_WEEK, date(2018, 10, 1)),
    DemoStore("US00005", "54th & 8th", 20008, 225.0, NEIGHBORHOOD_WEEK, date(2021, 4, 19)),
    DemoStore("US00006", "102 Fulton", 20010, 245.0, FINANCIAL_DISTRICT_WEEK, date(2021, 11, 8)),
    DemoStore("US00007", "108th & Broadway", 20011, 190.0, NEIGHBORHOOD_WEEK, date(2026, 6, 1), status=NOT_YET_OPEN),
    DemoStore("US00008", "33rd & 10th", 20027, 210.0, NEIGHBORHOOD_WEEK, date(2025, 5, 12), opens_mid_series=True),
)
TEST_KITCHENS = (
    DemoStore(
        "US00000",
        "NJ Test Kitchen",
        1000,
        10.0,
        WORKWEEK_ONLY,
        date(2015, 6, 1),
        shop_type=TEST_KITCHEN,
        holiday_region=("US", "NJ"),
    ),
    DemoStore(
        "US99998",
        "Shanghai R&D Kitchen",
        99998,
        8.0,
        WORKWEEK_ONLY,
        date(2023, 3, 1),
        shop_type=TEST_KITCHEN,
        time_zone=SHANGHAI,
        holiday_region=("CN", None),
    ),
)

# Synthetic stores (beyond the real list) are named after Manhattan corners.
SYNTHETIC_STREETS = (14, 23, 42, 47, 51, 57, 59, 66, 72, 79, 86, 96, 116, 125)
SYNTHETIC_AVENUES = (
    "Lexington",
    "Park Ave",
    "3rd Ave",
    "2nd Ave",
    "Madison",
    "Amsterdam",
    "Columbus",
    "1st Ave",
)
SYNTHETIC_DEPT_BASE = 30_000
# US00007's opening, written to t_shop, lies this far after the generated range.
PLANNED_OPENING_AFTER_RANGE = timedelta(weeks=8)


def demo_stores(count: int, start: date, end: date) -> tuple[DemoStore, ...]:
    """The first `count` stores of the chain (retail list, then test kitchens, then synthetic stores),
    with the open_date each gets for a range `start`..`end`."""
    if count < 1:
        raise ValueError(f"stores must be at least 1, got {count}")
    listed = RETAIL_CHAIN + TEST_KITCHENS
    synthetic = tuple(synthetic_store(len(RETAIL_CHAIN) + 1 + k) for k in range(max(0, count - len(listed))))
    chosen = (listed + synthetic)[:count]
    return tuple(replace(store, open_date=resolve_open_date(store, start, end)) for store in chosen)


def synthetic_store(number: int) -> DemoStore:
    k = number - len(RETAIL_CHAIN) - 1
    street = SYNTHETIC_STREETS[k % len(SYNTHETIC_STREETS)]
    avenue = SYNTHETIC_AVENUES[(k // len(SYNTHETIC_STREETS)) % len(SYNTHETIC_AVENUES)]
    return DemoStore(
        shop_no=f"US{number:05d}",
        shop_name=f"{ordinal(street)} & {avenue}",
        dept_id=SYNTHETIC_DEPT_BASE + number,
        weekday_orders=180.0 + 15.0 * (k % 5),
        week=COMMUTER_WEEK if k % 2 == 0 else NEIGHBORHOOD_WEEK,
        open_date=date(2022, 1, 3),
    )


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def resolve_open_date(store: DemoStore, start: date, end: date) -> date:
    """Stores are open from `start` on, except the one opening mid-series and the one not open yet."""
    if store.status == NOT_YET_OPEN:
        return max(store.open_date, end + PLANNED_OPENING_AFTER_RANGE)
    if store.opens_mid_series:
        return store.open_date
    return min(store.open_date, start)


# --------------------------------------------------------------------------------------------------------
# Demand: expected orders per store and business day
# --------------------------------------------------------------------------------------------------------

CLOSED_HOLIDAYS = frozenset({"Thanksgiving Day", "Christmas Day"})
FEDERAL_HOLIDAY_TRAFFIC = 0.65  # offices closed: the commuters stay home
STATE_OBSERVANCE_TRAFFIC = 0.92  # New York-only days (Lincoln's Birthday, Election Day...): most offices open
SEASON_AMPLITUDE = 0.05  # busiest in mid-January, quietest in mid-July (vacations)
SEASON_PEAK_DAY_OF_YEAR = 15
DAILY_NOISE_SIGMA = 0.06  # weather, events: log-normal day-to-day wobble on top of Poisson counts

# Flagship revenue relative to its own baseline: flat until early October 2025, then a slide (interpolated
# linearly between knots, flat after the last one).
FLAGSHIP_REVENUE_KNOTS: tuple[tuple[date, float], ...] = (
    (date(2025, 10, 3), 1.00),
    (date(2025, 11, 1), 0.80),
    (date(2025, 12, 1), 0.60),
    (date(2026, 1, 1), 0.46),
    (date(2026, 1, 31), 0.40),
)
# The share of the revenue decline carried by the basket (AOV); the rest is fewer orders.
FLAGSHIP_AOV_SHARE_OF_DECLINE = 0.15
# The share of the flagship's lost orders that US00004 gains.
CUSTOMER_SHIFT_SHARE = 0.45


@dataclass(frozen=True)
class StoreDays:
    """One entry per store and business day on which the store trades (closed days are absent)."""

    store: np.ndarray  # index into the catalog
    day: np.ndarray  # datetime64[D], store-local business date
    planned_orders: np.ndarray  # what staff is scheduled for: weekday x holiday x season x story
    expected_orders: np.ndarray  # planned x the day's noise: the Poisson mean of the orders drawn
    basket_factor: np.ndarray  # multiplies the mean basket size (AOV); 1.0 except in the flagship's slide

    @property
    def weekend(self) -> np.ndarray:
        return day_of_week(self.day) >= 5

    def __len__(self) -> int:
        return len(self.store)

    def between(self, first: date, last: date) -> StoreDays:
        """The entries of business days [first, last]."""
        rows = (self.day >= np.datetime64(first)) & (self.day <= np.datetime64(last))
        return StoreDays(
            store=self.store[rows],
            day=self.day[rows],
            planned_orders=self.planned_orders[rows],
            expected_orders=self.expected_orders[rows],
            basket_factor=self.basket_factor[rows],
        )


def day_of_week(days: np.ndarray) -> np.ndarray:
    """Monday = 0 for datetime64[D] values (1970-01-01 was a Thursday)."""
    return (days.astype(np.int64) + 3) % 7


def plan_store_days(stores: Sequence[DemoStore], start: date, end: date, rng: np.random.Generator) -> StoreDays:
    days = np.arange(np.datetime64(start), np.datetime64(end) + 1, dtype="datetime64[D]")
    season = seasonality(days)
    calendars = HolidayCalendars(start.year, end.year)
    planned = np.stack(
        [
            store.weekday_orders
            * np.asarray(store.week)[day_of_week(days)]
            * calendars.traffic_factors(store, days)
            * season
            * (days >= np.datetime64(store.open_date))
            for store in stores
        ]
    )
    basket = np.ones_like(planned)
    flagship = shop_index(stores, FLAGSHIP)
    if flagship is not None:
        revenue_factor = flagship_revenue_factor(days)
        orders_factor = revenue_factor ** (1.0 - FLAGSHIP_AOV_SHARE_OF_DECLINE)
        basket[flagship] = revenue_factor**FLAGSHIP_AOV_SHARE_OF_DECLINE
        lost_orders = planned[flagship] * (1.0 - orders_factor)
        planned[flagship] -= lost_orders
        destination = shop_index(stores, CUSTOMER_DESTINATION)
        if destination is not None:
            # Only on days both stores trade: the customers follow the flagship's calendar otherwise.
            planned[destination] += CUSTOMER_SHIFT_SHARE * lost_orders * (planned[destination] > 0)
    noise = rng.lognormal(-(DAILY_NOISE_SIGMA**2) / 2, DAILY_NOISE_SIGMA, size=planned.shape)
    store_index, day_index = np.nonzero(planned > 0)
    return StoreDays(
        store=store_index,
        day=days[day_index],
        planned_orders=planned[store_index, day_index],
        expected_orders=(planned * noise)[store_index, day_index],
        basket_factor=basket[store_index, day_index],
    )


def shop_index(stores: Sequence[DemoStore], shop_no: str) -> int | None:
    return next((i for i, store in enumerate(stores) if store.shop_no == shop_no), None)


def seasonality(days: np.ndarray) -> np.ndarray:
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.int64) + 1
    return 1.0 + SEASON_AMPLITUDE * np.cos(2 * np.pi * (day_of_year - SEASON_PEAK_DAY_OF_YEAR) / 365.25)


def flagship_revenue_factor(days: np.ndarray) -> np.ndarray:
    knot_days = np.array([np.datetime64(day) for day, _ in FLAGSHIP_REVENUE_KNOTS], dtype="datetime64[D]")
    knot_values = [value for _, value in FLAGSHIP_REVENUE_KNOTS]
    return np.interp(days.astype(np.int64), knot_days.astype(np.int64), knot_values)


class HolidayCalendars:
    """Traffic factors from the `holidays` package, one calendar per region, built once."""

    def __init__(self, first_year: int, last_year: int) -> None:
        self.years = range(first_year, last_year + 1)
        self.federal = holidays.country_holidays("US", years=self.years, language="en_US")
        self.regions: dict[tuple[str, str | None], holidays.HolidayBase] = {}

    def region(self, key: tuple[str, str | None]) -> holidays.HolidayBase:
        if key not in self.regions:
            country, subdivision = key
            self.regions[key] = holidays.country_holidays(
                country, subdiv=subdivision, years=self.years, language="en_US"
            )
        return self.regions[key]

    def traffic_factors(self, store: DemoStore, days: np.ndarray) -> np.ndarray:
        """Retail closes on Thanksgiving and Christmas and is quieter on other holidays; test kitchens
        close on every public holiday of their region."""
        factors = np.ones(len(days))
        first, last = days[0].astype(date), days[-1].astype(date)
        for holiday, name in self.region(store.holiday_region).items():
            if not first <= holiday <= last:
                continue
            index = (holiday - first).days
            if not store.is_retail or name in CLOSED_HOLIDAYS:
                factors[index] = 0.0
            elif holiday in self.federal:
                factors[index] = FEDERAL_HOLIDAY_TRAFFIC
            else:
                factors[index] = STATE_OBSERVANCE_TRAFFIC
        return factors


# --------------------------------------------------------------------------------------------------------
# Time of day and time zones
# --------------------------------------------------------------------------------------------------------

MINUTES_PER_DAY = 24 * 60
# Traffic peaks as (center hour, width in hours, height) on a flat floor, store-local.
RETAIL_WEEKDAY_PEAKS = ((8.25, 0.95, 1.0), (12.5, 0.8, 0.42), (15.5, 1.0, 0.18))
RETAIL_WEEKEND_PEAKS = ((10.25, 1.6, 0.8), (13.5, 1.2, 0.35))
KITCHEN_PEAKS = ((11.0, 1.5, 0.5), (14.5, 1.5, 0.5))
TRAFFIC_FLOOR = 0.12


def minute_of_day_cdf(
    opening_minute: int, closing_minute: int, peaks: Sequence[tuple[float, float, float]]
) -> np.ndarray:
    """Cumulative distribution of the minute of the day an order is placed; zero outside opening hours."""
    hours = np.arange(MINUTES_PER_DAY) / 60.0
    weights = TRAFFIC_FLOOR + sum(
        height * np.exp(-0.5 * ((hours - center) / width) ** 2) for center, width, height in peaks
    )
    weights[:opening_minute] = 0.0
    weights[closing_minute:] = 0.0
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def draw_order_minutes(
    stores: Sequence[DemoStore], plan: StoreDays, store_day: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A store-local minute of the day per order; `store_day` indexes `plan` per order."""
    kitchen = ~store_values(stores, "is_retail")[plan.store]
    # Profile per store-day: 0 retail weekday, 1 retail weekend, 2 test kitchen.
    profile = np.where(kitchen, 2, plan.weekend.astype(np.int64))[store_day]
    cdfs = (
        minute_of_day_cdf(*RETAIL_HOURS, RETAIL_WEEKDAY_PEAKS),
        minute_of_day_cdf(*RETAIL_HOURS, RETAIL_WEEKEND_PEAKS),
        minute_of_day_cdf(*KITCHEN_HOURS, KITCHEN_PEAKS),
    )
    uniform = rng.random(len(store_day))
    minutes = np.empty(len(store_day), dtype=np.int64)
    for kind, cdf in enumerate(cdfs):
        rows = profile == kind
        minutes[rows] = np.searchsorted(cdf, uniform[rows], side="right")
    return minutes


def draw_times(
    stores: Sequence[DemoStore],
    plan: StoreDays,
    store_day: np.ndarray,
    minutes: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Store-local and UTC datetime64[s] times of rows on the business days `store_day` (indexes into `plan`),
    at `minutes` past local midnight plus a random second."""
    offsets = minutes * 60 + rng.integers(0, 60, len(store_day))
    local = plan.day[store_day].astype("datetime64[s]") + offsets.astype("timedelta64[s]")
    return local, local_to_utc(local, plan.store[store_day], stores)


def local_to_utc(local: np.ndarray, store: np.ndarray, stores: Sequence[DemoStore]) -> np.ndarray:
    """Converts store-local wall-clock times to naive UTC, each row in its store's time zone.

    The conversion uses the time-zone database per instant, so DST changes move the UTC hours. Local times
    inside a DST gap or overlap raise: the generator never places events between 01:00 and 03:00.
    """
    zone_of_store = store_values(stores, "time_zone")
    zones = zone_of_store[store]
    utc = np.empty_like(local)
    for zone in np.unique(zone_of_store):
        rows = zones == zone
        if rows.any():
            converted = (
                pl.Series(local[rows].astype("datetime64[us]"))
                .dt.replace_time_zone(str(zone))
                .dt.convert_time_zone("UTC")
                .dt.replace_time_zone(None)
            )
            utc[rows] = converted.to_numpy().astype("datetime64[s]")
    return utc


def store_values(stores: Sequence[DemoStore], attribute: str) -> np.ndarray:
    """One attribute of every store, as an array to index with per-row store indices."""
    return np.array([getattr(store, attribute) for store in stores])


def seconds(values: np.ndarray) -> np.ndarray:
    """Float seconds as timedelta64[s], to add to datetime64[s] columns."""
    return np.rint(values).astype(np.int64).astype("timedelta64[s]")


def datetimes(values: np.ndarray) -> pl.Series:
    """A polars datetime column from datetime64[s] values (NaT becomes NULL)."""
    return pl.Series(values.astype("datetime64[us]"))


# --------------------------------------------------------------------------------------------------------
# Dirty rows
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirtQuota:
    """A share of rows, with a floor so every kind of dirty row shows up even in a few days of data."""

    rate: float
    minimum: int = 2

    def count(self, candidates: int) -> int:
        return min(candidates, max(self.minimum, round(self.rate * candidates)))


REFUNDED = DirtQuota(0.015)
CANCELLED = DirtQuota(0.010)
NULL_PAY_MONEY = DirtQuota(0.0020)
NEGATIVE_PAY_MONEY = DirtQuota(0.0010)
ORPHAN_TRADES = DirtQuota(0.0020)
ORPHAN_SHIFTS = DirtQuota(0.0020)
OPEN_SHIFTS = DirtQuota(0.0040)
OVERLONG_SHIFTS = DirtQuota(0.0, minimum=2)  # "one or two" in the whole history
UNFINISHED_PRODUCTION = DirtQuota(0.0020)
FINISH_BEFORE_START = DirtQuota(0.00001, minimum=3)
MISSING_QC_SCORE = DirtQuota(0.03, minimum=1)
# A dept_id no t_shop_dept row maps: a POS terminal and a time clock registered to a retired department.
ORPHAN_DEPT_ID = 55_555


def pick_disjoint(rng: np.random.Generator, candidates: np.ndarray, *quotas: DirtQuota) -> list[np.ndarray]:
    """Disjoint random subsets of `candidates` (row indices), one per quota, each sorted."""
    counts = [quota.count(len(candidates)) for quota in quotas]
    chosen = rng.choice(candidates, size=min(len(candidates), sum(counts)), replace=False)
    return [np.sort(part) for part in np.split(chosen, np.cumsum(counts)[:-1])]


# --------------------------------------------------------------------------------------------------------
# Sales: t_trade, t_trade_item
# --------------------------------------------------------------------------------------------------------

TRADE_COMPLETED, TRADE_REFUNDED, TRADE_CANCELLED = 1, 2, 3
# (spu_id, price in USD, share of basket lines)
MENU = (
    (1001, 3.45, 0.16),  # drip coffee
    (1002, 4.25, 0.12),  # americano
    (1003, 5.45, 0.17),  # latte
    (1004, 5.25, 0.08),  # cappuccino
    (1005, 4.95, 0.11),  # cold brew
    (1006, 5.95, 0.06),  # matcha latte
    (1007, 5.85, 0.05),  # mocha
    (1008, 5.35, 0.06),  # flat white
    (2001, 3.95, 0.07),  # butter croissant
    (2002, 3.75, 0.04),  # blueberry muffin
    (2003, 6.95, 0.05),  # egg & cheese sandwich
    (2004, 8.50, 0.03),  # avocado toast
)
NYC_SALES_TAX = 0.08875
MAX_BASKET_LINES = 4
# Each of the 3 optional extra lines is bought with this probability: 1.7 lines per basket on average.
EXTRA_LINE_PROBABILITY = 0.2333
DOUBLE_QUANTITY_SHARE = 0.08


@dataclass(frozen=True)
class Sales:
    """The two sales tables plus, per trade, what production needs but the contract does not hold."""

    trades: pl.DataFrame  # t_trade columns + local_time + units
    items: pl.DataFrame


def generate_sales(stores: Sequence[DemoStore], plan: StoreDays, rng: np.random.Generator) -> Sales:
    store_day = np.repeat(np.arange(len(plan)), rng.poisson(plan.expected_orders))
    local, utc = draw_times(stores, plan, store_day, draw_order_minutes(stores, plan, store_day, rng), rng)
    store = plan.store[store_day]
    # Ids grow with time, as in the real POS database.
    order = np.lexsort((store, utc))
    store_day, store, local, utc = store_day[order], store[order], local[order], utc[order]

    lines = 1 + rng.binomial(MAX_BASKET_LINES - 1, extra_line_probability(plan.basket_factor[store_day]))
    line_trade = np.repeat(np.arange(len(store_day)), lines)
    spu_ids, prices, shares = (np.array(column) for column in zip(*MENU))
    menu_item = rng.choice(len(MENU), size=len(line_trade), p=shares / shares.sum())
    quantity = 1 + (rng.random(len(line_trade)) < DOUBLE_QUANTITY_SHARE).astype(np.int64)
    subtotal = np.bincount(line_trade, weights=prices[menu_item] * quantity, minlength=len(store_day))
    pay_money = np.round(subtotal * (1 + NYC_SALES_TAX), 2)

    trade_count = len(store_day)
    status = np.full(trade_count, TRADE_COMPLETED)
    refunded, cancelled = pick_disjoint(rng, np.arange(trade_count), REFUNDED, CANCELLED)
    status[refunded], status[cancelled] = TRADE_REFUNDED, TRADE_CANCELLED
    completed = np.flatnonzero(status == TRADE_COMPLETED)
    null_pay, negative_pay = pick_disjoint(rng, completed, NULL_PAY_MONEY, NEGATIVE_PAY_MONEY)
    pay_money[negative_pay] = -pay_money[negative_pay]  # a reversal booked as a completed sale
    pay_money[null_pay] = np.nan
    dept_id = store_values(stores, "dept_id")[store]
    (orphans,) = pick_disjoint(rng, np.arange(trade_count), ORPHAN_TRADES)
    dept_id[orphans] = ORPHAN_DEPT_ID

    trade_ids = np.arange(1, trade_count + 1)
    trades = pl.DataFrame(
        {
            "id": trade_ids,
            "dept_id": dept_id,
            "pay_money": pl.Series(pay_money, nan_to_null=True),
            "trade_status": status,
            "create_time": datetimes(utc),
            "local_time": datetimes(local),
            "units": np.bincount(line_trade, weights=quantity, minlength=trade_count).astype(np.int64),
        }
    ).with_columns(
        # '1127-20251001-00042': department, local business date, sequence of the day.
        trade_no=pl.concat_str(
            pl.col("dept_id"),
            pl.col("local_time").dt.strftime("%Y%m%d"),
            (pl.int_range(1, pl.len() + 1).over("dept_id", pl.col("local_time").dt.date()))
            .cast(pl.String)
            .str.zfill(5),
            separator="-",
        )
    )
    items = pl.DataFrame(
        {
            "id": np.arange(1, len(line_trade) + 1),
            "trade_id": trade_ids[line_trade],
            "spu_id": spu_ids[menu_item].astype(np.int64),
            "quantity": quantity,
        }
    )
    return Sales(trades=trades, items=items)


def extra_line_probability(basket_factor: np.ndarray) -> np.ndarray:
    """Scales the mean basket (1 + 3p lines) by `basket_factor`: smaller baskets mean a lower AOV."""
    mean_lines = (1 + (MAX_BASKET_LINES - 1) * EXTRA_LINE_PROBABILITY) * basket_factor
    return np.clip((mean_lines - 1) / (MAX_BASKET_LINES - 1), 0.0, 1.0)


# --------------------------------------------------------------------------------------------------------
# Production: t_production_order
# --------------------------------------------------------------------------------------------------------

RUSH_HOURS = (7, 10)  # store-local [start, end) hour of the morning rush
REMAKE_SHARE = 0.008  # drinks made again (spilled, wrong milk): production orders with no trade_no


def generate_production(trades: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    # Cancelled orders never reach the bar.
    made = trades.filter(pl.col("trade_status") != TRADE_CANCELLED)
    count = made.height
    rush = made["local_time"].dt.hour().is_between(*RUSH_HOURS, closed="left").to_numpy()
    units = made["units"].to_numpy()
    ordered = made["create_time"].to_numpy().astype("datetime64[s]")
    # A few seconds from the till to the bar, longer when the queue is long.
    start = ordered + seconds(2 + rng.gamma(1.5, 3.0, count) + rush * rng.uniform(0, 25, count))
    finish = start + seconds(production_seconds(units, rush, rng))

    remade = np.sort(rng.choice(count, size=round(REMAKE_SHARE * count), replace=False))
    remake_start = finish[remade] + seconds(rng.uniform(30, 240, len(remade)))
    single_item = np.ones(len(remade), np.int64)
    remake_finish = remake_start + seconds(production_seconds(single_item, rush[remade], rng))

    dept_id = np.concatenate([made["dept_id"].to_numpy(), made["dept_id"].to_numpy()[remade]])
    trade_no = pl.concat([made["trade_no"], pl.Series([None] * len(remade), dtype=pl.String)])
    item_count = np.concatenate([units, single_item])
    start = np.concatenate([start, remake_start])
    finish = np.concatenate([finish, remake_finish])

    unfinished, time_travel = pick_disjoint(rng, np.arange(len(start)), UNFINISHED_PRODUCTION, FINISH_BEFORE_START)
    # A kitchen display whose clock ran behind stamps a finish before the start.
    finish[time_travel] = start[time_travel] - seconds(rng.uniform(5, 90, len(time_travel)))
    finish[unfinished] = np.datetime64("NaT")

    order = np.argsort(start, kind="stable")
    return pl.DataFrame(
        {
            "id": np.arange(1, len(start) + 1),
            "dept_id": dept_id[order],
            "trade_no": trade_no.gather(order),
            "item_count": item_count[order],
            "start_time": datetimes(start[order]),
            "finish_time": datetimes(finish[order]),
        }
    )


def production_seconds(units: np.ndarray, rush: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """About 60-240 s: a base, each item, the morning rush, and a skewed tail."""
    return 40 + 28 * np.minimum(units, 6) + 45 * rush + rng.gamma(2.0, 10.0, len(units))


# --------------------------------------------------------------------------------------------------------
# Staff: t_attendance
# --------------------------------------------------------------------------------------------------------

ORDERS_PER_CREW_MEMBER = 40  # staffing rule of thumb: one more person per 40 planned orders
RETAIL_CREW = (4, 12)
KITCHEN_CREW = (2, 3)
STAFF_POOL_SURPLUS = 4  # employees on the books beyond the biggest crew, so crews vary day to day
EMPLOYEES_PER_DEPT = 1000  # employee_id = dept_id * 1000 + n: stable, unique ids per store
SHIFT_HOURS = (4.0, 9.0)
OVERLONG_SHIFT_HOURS = (16.5, 23.0)  # a forgotten clock-out closed the next morning


def generate_attendance(stores: Sequence[DemoStore], plan: StoreDays, rng: np.random.Generator) -> pl.DataFrame:
    retail = store_values(stores, "is_retail")[plan.store]
    smallest = np.where(retail, RETAIL_CREW[0], KITCHEN_CREW[0])
    largest = np.where(retail, RETAIL_CREW[1], KITCHEN_CREW[1])
    wanted = np.rint(plan.planned_orders / ORDERS_PER_CREW_MEMBER) + 2
    crew_of_day = np.clip(wanted, smallest, largest).astype(np.int64)
    # Each day's crew is the first `crew` of a random permutation of the store's staff pool; draws beyond
    # a store's pool are pushed to the end so they are never picked.
    pool = largest + STAFF_POOL_SURPLUS
    widest_pool = max(RETAIL_CREW[1], KITCHEN_CREW[1]) + STAFF_POOL_SURPLUS
    draws = rng.random((len(plan), widest_pool))
    draws[np.arange(widest_pool) >= pool[:, None]] = np.inf
    roster = np.argsort(draws, axis=1)
    store_day, rank = np.nonzero(np.arange(widest_pool) < crew_of_day[:, None])
    crew = crew_of_day[store_day]
    count = len(store_day)

    store = plan.store[store_day]
    opening = store_values(stores, "opening_minute")[store]
    closing = store_values(stores, "closing_minute")[store]
    # Starts staggered from half an hour before opening to six hours before closing, on quarter hours,
    # clocked a few minutes early or late.
    earliest, latest = opening - 30, closing - 6 * 60
    quarter_hours = np.rint(rank / np.maximum(crew - 1, 1) * (latest - earliest) / 15).astype(np.int64)
    scheduled = earliest + 15 * quarter_hours
    _, clock_in = draw_times(stores, plan, store_day, scheduled + rng.integers(-7, 9, count), rng)
    shift = 15 * 60 * np.rint(rng.uniform(*SHIFT_HOURS, count) * 4) + rng.uniform(-300, 600, count)
    clock_out = clock_in + seconds(shift)

    dept_id = store_values(stores, "dept_id")[store]
    employee_id = dept_id * EMPLOYEES_PER_DEPT + 1 + roster[store_day, rank]
    open_shifts, overlong, orphans = pick_disjoint(rng, np.arange(count), OPEN_SHIFTS, OVERLONG_SHIFTS, ORPHAN_SHIFTS)
    clock_out[overlong] = clock_in[overlong] + seconds(3600 * rng.uniform(*OVERLONG_SHIFT_HOURS, len(overlong)))
    clock_out[open_shifts] = np.datetime64("NaT")
    dept_id[orphans] = ORPHAN_DEPT_ID

    order = np.argsort(clock_in, kind="stable")
    return pl.DataFrame(
        {
            "id": np.arange(1, count + 1),
            "dept_id": dept_id[order],
            "employee_id": employee_id[order],
            "clock_in": datetimes(clock_in[order]),
            "clock_out": datetimes(clock_out[order]),
        }
    )


# --------------------------------------------------------------------------------------------------------
# Quality control: t_task_form, t_expiry_management
# --------------------------------------------------------------------------------------------------------

INSPECTIONS_PER_WEEK = 1.5
QC_SCORE_MEAN, QC_SCORE_SD, QC_SCORE_RANGE = 89.0, 4.5, (70.0, 100.0)
EXPIRY_RECORDS_PER_DAY = 3.0  # one per product group checked at closing
EXPIRED_QTY_MEAN = 1.3


def generate_inspections(stores: Sequence[DemoStore], plan: StoreDays, rng: np.random.Generator) -> pl.DataFrame:
    store_day = np.flatnonzero(rng.random(len(plan)) < INSPECTIONS_PER_WEEK / 7)
    store = plan.store[store_day]
    # Inspectors come during the day, not in the first or last two hours.
    earliest = store_values(stores, "opening_minute")[store] + 120
    latest = store_values(stores, "closing_minute")[store] - 120
    _, task_time = draw_times(stores, plan, store_day, rng.integers(earliest, latest), rng)
    # Scores in half points, as the inspection form allows.
    score = np.clip(np.rint(rng.normal(QC_SCORE_MEAN, QC_SCORE_SD, len(store_day)) * 2) / 2, *QC_SCORE_RANGE)
    (missing,) = pick_disjoint(rng, np.arange(len(store_day)), MISSING_QC_SCORE)
    score[missing] = np.nan
    order = np.argsort(task_time, kind="stable")
    return pl.DataFrame(
        {
            "id": np.arange(1, len(store_day) + 1),
            "dept_id": store_values(stores, "dept_id")[store][order],
            "task_time": datetimes(task_time[order]),
            "score": pl.Series(score[order], nan_to_null=True),
        }
    )


def generate_expiry_records(stores: Sequence[DemoStore], plan: StoreDays, rng: np.random.Generator) -> pl.DataFrame:
    store_day = np.repeat(np.arange(len(plan)), 1 + rng.poisson(EXPIRY_RECORDS_PER_DAY - 1, len(plan)))
    store = plan.store[store_day]
    # Logged while closing down, within 40 minutes after the doors close.
    minutes = store_values(stores, "closing_minute")[store] + rng.integers(0, 40, len(store_day))
    _, record_time = draw_times(stores, plan, store_day, minutes, rng)
    order = np.argsort(record_time, kind="stable")
    return pl.DataFrame(
        {
            "id": np.arange(1, len(store_day) + 1),
            "dept_id": store_values(stores, "dept_id")[store][order],
            "record_time": datetimes(record_time[order]),
            "expired_qty": rng.poisson(EXPIRED_QTY_MEAN, len(store_day)),
        }
    )


# --------------------------------------------------------------------------------------------------------
# Store master: t_shop, t_shop_dept
# --------------------------------------------------------------------------------------------------------


def shop_tables(stores: Sequence[DemoStore]) -> dict[str, pl.DataFrame]:
    return {
        "t_shop": pl.DataFrame(
            {
                "id": range(1, len(stores) + 1),
                "shop_no": [s.shop_no for s in stores],
                "shop_name": [s.shop_name for s in stores],
                "status": [s.status for s in stores],
                "shop_type": [s.shop_type for s in stores],
                "time_zone": [s.time_zone for s in stores],
                "open_date": [s.open_date for s in stores],
            }
        ),
        "t_shop_dept": pl.DataFrame({"dept_id": [s.dept_id for s in stores], "shop_no": [s.shop_no for s in stores]}),
    }


# --------------------------------------------------------------------------------------------------------
# Putting it together
# --------------------------------------------------------------------------------------------------------


def random_stream(seed: int, topic: str) -> np.random.Generator:
    """An independent random stream per topic: changing how one table is drawn leaves the others alone."""
    return np.random.default_rng([seed, zlib.crc32(topic.encode())])


def build_demo_tables(start: date, end: date, *, stores: int = 10, seed: int = 42) -> DemoTables:
    """All demo rows, per source and table, in contract column order; deterministic for a seed."""
    return next(iter_demo_tables(start, end, stores=stores, seed=seed))


def iter_demo_tables(
    start: date, end: date, *, stores: int = 10, seed: int = 42, chunk_days: int | None = None
) -> Iterator[DemoTables]:
    """The demo rows in consecutive parts of `chunk_days` business days (all at once without it), so a large
    chain's history never sits in memory whole. Each part's ids continue the previous part's; the store
    master comes with the first part only. Demand (the story included) is planned over the whole range; the
    rows of each part are drawn from random streams of their own, so a seed and a `chunk_days` always yield
    the same rows (other `chunk_days`, other rows)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if chunk_days is not None and chunk_days < 1:
        raise ValueError(f"chunk_days must be at least 1, got {chunk_days}")
    catalog = demo_stores(stores, start, end)
    whole_plan = plan_store_days(catalog, start, end, random_stream(seed, "demand"))
    next_ids: dict[str, int] = {}
    first = start
    while first <= end:
        last = end if chunk_days is None else min(end, first + timedelta(days=chunk_days - 1))
        plan = whole_plan if chunk_days is None else whole_plan.between(first, last)
        suffix = "" if chunk_days is None else f" {first.isoformat()}"

        def stream(topic: str, suffix: str = suffix) -> np.random.Generator:
            return random_stream(seed, topic + suffix)

        sales = generate_sales(catalog, plan, stream("sales"))
        trade_columns = ("id", "trade_no", "dept_id", "pay_money", "trade_status", "create_time")
        tables = {
            "opshop": shop_tables(catalog) if first == start else {},
            "sales_order": {"t_trade": sales.trades.select(trade_columns), "t_trade_item": sales.items},
            "opproduction": {"t_production_order": generate_production(sales.trades, stream("production"))},
            "opqualitycontrol": {
                "t_task_form": generate_inspections(catalog, plan, stream("inspections")),
                "t_expiry_management": generate_expiry_records(catalog, plan, stream("expiry")),
            },
            "opempefficiency": {"t_attendance": generate_attendance(catalog, plan, stream("attendance"))},
        }
        yield continue_ids(tables, next_ids)
        first = last + timedelta(days=1)


def continue_ids(tables: DemoTables, next_ids: dict[str, int]) -> DemoTables:
    """Shifts each dated table's ids (and the items' trade ids) past the rows of earlier parts; updates
    `next_ids` (table -> rows so far). The first part is left as drawn."""
    shifted: DemoTables = {}
    for source, frames in tables.items():
        shifted[source] = {}
        for table, frame in frames.items():
            offset = next_ids.get(table, 0)
            if offset and table not in ("t_shop", "t_shop_dept"):
                frame = frame.with_columns(pl.col("id") + offset)
                if table == "t_trade_item":
                    frame = frame.with_columns(pl.col("trade_id") + next_ids.get("t_trade", 0))
            shifted[source][table] = frame
    for frames in tables.values():
        for table, frame in frames.items():
            next_ids[table] = next_ids.get(table, 0) + frame.height
    return shifted


@dataclass(frozen=True)
class DemoSummary:
    """What `generate_demo_sources` loaded."""

    start: date
    end: date
    shop_nos: tuple[str, ...]  # t_shop rows, in id order
    row_counts: Mapping[str, int]  # table name -> rows loaded
    elapsed_seconds: float  # wall time of generating and loading

    @property
    def stores(self) -> int:
        return len(self.shop_nos)

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def lines(self) -> list[str]:
        lines = [
            (
                f"Demo sources for {self.stores} stores, business dates {self.start} to {self.end} "
                f"({self.total_rows:,} rows in {self.elapsed_seconds:.1f} s):"
            )
        ]
        for source, statements in SOURCE_DDL.items():
            for table in map(table_name_of, statements):
                lines.append(f"  {source:<17} {table:<20} {self.row_counts.get(table, 0):>10,}")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def generate_demo_sources(
    source_urls: Mapping[str, str],
    *,
    start: date,
    end: date,
    stores: int = 10,
    seed: int = 42,
    recreate: bool = True,
    chunk_days: int | None = None,
) -> DemoSummary:
    """Generates the demo history and loads it into the five source databases.

    `source_urls` maps each source name of `SOURCE_ENV_VARS` to its mysql:// URL; missing databases are
    created. Only databases the generator created (or found empty) are written: one holding any table it
    did not make raises `NotADemoDatabaseError` before anything is written anywhere. With `recreate` the
    contract tables are dropped and created anew; without it they must be empty (or absent). `start` and
    `end` are inclusive store-local business dates. `chunk_days`: drawn and loaded that many business days
    at a time (see `iter_demo_tables`), the tables' secondary indexes built once after the last part.
    """
    missing = [source for source in SOURCE_ENV_VARS if source not in source_urls]
    if missing:
        raise ValueError(f"source_urls lacks {', '.join(missing)}; expected keys {', '.join(SOURCE_ENV_VARS)}")
    began = time.perf_counter()
    parts = iter_demo_tables(start, end, stores=stores, seed=seed, chunk_days=chunk_days)
    first_part = next(parts)  # argument errors surface before any database is touched
    urls = {source: MySQLUrl.parse(source_urls[source], name=source) for source in first_part}
    refusals = [
        f"  {source}: database `{url.database}` ({DEMO_SOURCE_ENV_VARS[source]}) holds {', '.join(foreign)}"
        for source, url in urls.items()
        if (foreign := demo_loading.foreign_tables(url, source))
    ]
    if refusals:
        raise demo_loading.NotADemoDatabaseError(
            "refusing to write demo data into databases holding tables the demo generator did not create:\n"
            + "\n".join(refusals)
            + "\nNothing was written. Point those variables at new or empty databases (unset, they name the "
            "demo_* databases on the local server); a demo database made before this safeguard is dropped "
            "with DROP DATABASE and made anew."
        )
    # Every source is made ready before any is loaded, so a refusal (tables not empty) leaves no half demo.
    for source, url in urls.items():
        demo_loading.claim_demo_database(url, source)
        with url.connect() as connection:
            demo_loading.prepare_tables(connection, source, recreate=recreate)
    row_counts: dict[str, int] = {}
    shop_nos = tuple(first_part["opshop"]["t_shop"]["shop_no"])
    indexes: dict[tuple[str, str], list[str]] = {}
    for number, tables in enumerate(itertools.chain([first_part], parts)):
        for source, frames in tables.items():
            with urls[source].connect(local_infile=True) as connection:  # the demo writes its own sources
                for table, frame in frames.items():
                    if chunk_days is not None and number == 0:
                        indexes[source, table] = demo_loading.drop_secondary_indexes(connection, table)
                    demo_loading.load_frame(connection, table, frame)
                    row_counts[table] = row_counts.get(table, 0) + frame.height
            log.info("demo %s part %d loaded into %s", source, number + 1, urls[source].redacted())
    for (source, table), clauses in indexes.items():
        with urls[source].connect() as connection:
            demo_loading.add_indexes(connection, table, clauses)
    return DemoSummary(
        start=start,
        end=end,
        shop_nos=shop_nos,
        row_counts=row_counts,
        elapsed_seconds=time.perf_counter() - began,
    )
