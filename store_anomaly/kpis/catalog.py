"""The catalog of KPIs and data-quality counters of `store_daily_metrics`: one record per column, read by every
stage (the warehouse table, SPC models, alert texts, health scores, peer comparison) instead of copies.

Labels and units are in both working languages (`label`, `label_zh`; `kpi_label(column, language)`). Add a
field to `Kpi` or `DqCounter` and every reader can use it; add a KPI by adding a
record (and its SQL in `sources/extracts.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Scale = Literal["log", "sqrt", "linear"]
Directions = Literal["both", "up", "down"]


@dataclass(frozen=True)
class MetricSpec:
    """How the default rule set models one KPI.

    scale: the variance-stabilising transform the statistics are computed on. ``log`` (value + offset) for
        proportional effects (a 20% drop weighs the same in a small and a big store), ``sqrt`` (Anscombe,
        value + 3/8) for small Poisson-like counts, ``linear`` for bounded scores.
    offset: added before ``log`` so that a zero (an outage) stays finite.
    weekly: the centre line is the median of the same weekday over the last `baseline_weeks` weeks; otherwise the
        median of the last `sparse_center_days` days (sparse or weekday-free metrics).
    directions: which deviations are flagged at all (``up`` for waste, ``both`` for everything else).
    drift_directions: which side the slow ``cusum_drift`` rule watches: the adverse one (a slow *decline* of
        sales, a slow *rise* of production time or waste); sudden shifts are caught either way by the others.
    sigma_floor: minimum sigma in transformed units (log: a fraction, 0.02 = 2%); keeps near-constant series
        from turning tiny wiggles into huge Z.
    poisson_floor: sigma is never below the Poisson noise of a count at the centre line.
    unit_floor / unit_size: granular metrics: sigma is never below `unit_floor` times the step of one unit of
        `unit_size` at the centre line (headcount moves by whole people, staff hours by whole shifts of ~8 h:
        one person or one shift more or less is never, by itself, an anomaly).
    warning_z / critical_z: this metric's |Z| tiers of the ``robust_z`` rule, overriding
        `SpcConfig.point_warning_z` / `point_critical_z` (None: the config's). Lower for KPIs whose residuals are
        close to Gaussian and whose first-day shifts matter (ticket, production time); higher CRITICAL for
        granular KPIs whose sigma sits at its unit floor (a Gaussian tail says nothing about whole people).
    tested: whether the point and shift rules flag this KPI at all. Revenue, items and production counts move
        with orders (correlation ~0.9): testing them too would spend the false-alarm budget three times on one
        signal, so orders and average order value are tested and the others are published (limits, anchor) only.
    drift_test: which side the ``anchored_drift`` rule watches (``none``: not tested). Sales both ways: a
        sustained rise (a promotion, a cannibalising neighbour) explains another store's fall.
    material_change: the smallest sustained change (transformed units; log: a log ratio, 0.1625 = ~15%) the
        ``anchored_drift`` rule reports: staffing KPIs are flagged only for moves that matter operationally.
    point_material_change: the smallest one-day deviation (transformed units) the point and shift rules
        report (staffing: a day missing about a third of the rota).
    up_warning_only: upward signals of this KPI are never CRITICAL.
    drift_h: this KPI's ``anchored_drift`` threshold on its adverse side (None: `SpcConfig.anchor_h`); orders
        get the largest share of the false-alarm budget, since a slow loss of customers is what the test is for.
    anchored: publish the anchored reference of this KPI even when ``anchored_drift`` does not test it (revenue:
        the headline of a sales alert is sized against it).
    up_warning_z / up_shift_h: the ``robust_z`` WARNING tier and the ``cusum_shift`` decision interval for upward
        moves, when they differ from the downward side's (None: the same). On a log scale the two sides are not
        alike: a day's lower tail is heavier (orders: about three times as many days below -3 sigma as above +3
        on stable stores), and a rise of 20% is a smaller step in log units (0.18) than a fall of 20% (0.22).
        Orders' upward thresholds are set so that each side spends about the same share of the budget
        (`benchmarks/calibrate.py`).
    """

    scale: Scale = "log"
    offset: float = 1.0
    weekly: bool = True
    directions: Directions = "both"
    sigma_floor: float = 0.02
    poisson_floor: bool = False
    unit_floor: float = 0.0
    unit_size: float = 1.0
    drift_directions: Directions = "both"
    nonnegative: bool = True
    volume: bool = False
    warning_z: float | None = None
    critical_z: float | None = None
    tested: bool = True
    drift_test: Literal["both", "up", "down", "none"] = "none"
    material_change: float = 0.0
    point_material_change: float = 0.0
    up_warning_only: bool = False
    anchored: bool = False
    drift_h: float | None = None
    up_warning_z: float | None = None
    up_shift_h: float | None = None


# log(1/0.85): a sustained staffing change of about 15%; log(1.5): a day off the rota by about a third
STAFFING_SUSTAINED = 0.1625
STAFFING_DAY = 0.405


@dataclass(frozen=True)
class Kpi:
    """One KPI column of `store_daily_metrics` (a `metric_name` of the contract).

    direction: which way is good: +1 higher is better, -1 lower is better, 0 neither (staffing).
    value_format: how a value is written in texts (`str.format` with one argument); None: whole numbers at
        100 and above or when integral, two decimals otherwise.
    spc: how the default SPC rule set models it.
    label_zh / unit_zh: the label and unit in Chinese (`label_in`, `unit_in`: by language, see `store_anomaly.texts`).
    """

    column: str
    label: str
    unit: str
    direction: int
    mysql_type: str
    nullable: bool
    description: str
    spc: MetricSpec = field(default_factory=MetricSpec)
    value_format: str | None = None
    label_zh: str = ""
    unit_zh: str = ""

    def label_in(self, language: str) -> str:
        return self.label_zh if language == "zh" else self.label

    def unit_in(self, language: str) -> str:
        return self.unit_zh if language == "zh" else self.unit

    def format_value(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.value_format is not None:
            return self.value_format.format(value)
        return generic_format(value)


def generic_format(value: float) -> str:
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "revenue",
        "Revenue",
        "USD",
        1,
        "DECIMAL(16,4)",
        False,
        "USD of completed trades with pay_money >= 0",
        label_zh="营业额",
        unit_zh="美元",
        spc=MetricSpec(scale="log", offset=1.0, volume=True, drift_directions="down", tested=False, anchored=True),
        value_format="${:,.0f}",
    ),
    Kpi(
        "order_count",
        "Orders",
        "orders",
        1,
        "BIGINT",
        False,
        "completed trades with pay_money >= 0",
        label_zh="订单数",
        unit_zh="单",
        spc=MetricSpec(
            scale="log",
            offset=1.0,
            poisson_floor=True,
            volume=True,
            drift_directions="down",
            drift_test="both",
            up_warning_only=True,
            drift_h=3.0,
            warning_z=3.5,
            up_warning_z=3.25,
            up_shift_h=3.5,
        ),
    ),
    Kpi(
        "aov",
        "Average order value",
        "USD",
        1,
        "DOUBLE",
        True,
        "revenue / order_count (NULL without orders)",
        label_zh="客单价",
        unit_zh="美元",
        spc=MetricSpec(scale="log", offset=0.01, drift_directions="down", drift_test="both", up_warning_only=True),
        value_format="${:,.2f}",
    ),
    Kpi(
        "items_sold",
        "Items sold",
        "items",
        1,
        "BIGINT",
        False,
        "items of the counted trades",
        label_zh="售出件数",
        unit_zh="件",
        spc=MetricSpec(scale="log", offset=1.0, poisson_floor=True, volume=True, drift_directions="down", tested=False),
    ),
    Kpi(
        "avg_production_seconds",
        "Drink production time",
        "seconds",
        -1,
        "DOUBLE",
        True,
        "mean drink production time, seconds (NULL without production)",
        label_zh="饮品制作时长",
        unit_zh="秒",
        spc=MetricSpec(scale="log", offset=1.0, drift_directions="up", drift_test="up"),
        value_format="{:,.0f}s",
    ),
    Kpi(
        "production_count",
        "Drinks produced",
        "drinks",
        1,
        "BIGINT",
        True,
        "finished production orders (NULL: the production source delivered no row that trading day)",
        label_zh="饮品制作杯数",
        unit_zh="杯",
        spc=MetricSpec(scale="log", offset=1.0, poisson_floor=True, volume=True, drift_directions="down", tested=False),
    ),
    # Granular KPIs, sigma usually at its unit floor: CRITICAL only beyond 8 (three call-outs of nine people are
    # a -30% day, not an emergency); flagged only for operationally material moves (a third of the rota on a day,
    # 15% sustained).
    Kpi(
        "staff_hours",
        "Staff hours",
        "hours",
        0,
        "DOUBLE",
        True,
        "hours of closed shifts of 0-16 h (NULL: the attendance source delivered no row that trading day)",
        label_zh="员工工时",
        unit_zh="小时",
        spc=MetricSpec(
            scale="log",
            offset=1.0,
            unit_floor=0.5,
            unit_size=8.0,
            critical_z=8.0,
            drift_test="both",
            material_change=STAFFING_SUSTAINED,
            point_material_change=STAFFING_DAY,
        ),
        value_format="{:,.1f}h",
    ),
    Kpi(
        "headcount",
        "Headcount",
        "people",
        0,
        "BIGINT",
        True,
        "distinct employees who clocked in (NULL: the attendance source delivered no row that trading day)",
        label_zh="出勤人数",
        unit_zh="人",
        spc=MetricSpec(
            scale="log",
            offset=1.0,
            unit_floor=0.6,
            warning_z=3.0,
            critical_z=8.0,
            drift_test="both",
            material_change=STAFFING_SUSTAINED,
            point_material_change=STAFFING_DAY,
        ),
        value_format="{:,.1f}",
    ),
    Kpi(
        "orders_per_labor_hour",
        "Orders per labour hour",
        "orders per hour",
        1,
        "DOUBLE",
        True,
        "order_count / staff_hours (NULL without hours)",
        label_zh="每工时订单数",
        unit_zh="单/小时",
        # a day's move is its components' (orders, staff hours), each tested on its own scale: the point and
        # shift rules would report a call-out day a second time, on a ratio whose sigma knows nothing of whole
        # shifts; a sustained change of productivity (15%) is tested
        spc=MetricSpec(
            scale="log",
            offset=0.1,
            volume=True,
            drift_directions="down",
            tested=False,
            drift_test="both",
            material_change=STAFFING_SUSTAINED,
        ),
        value_format="{:,.1f}",
    ),
    Kpi(
        "qc_score",
        "QC inspection score",
        "points",
        1,
        "DOUBLE",
        True,
        "mean inspection score (NULL on days without inspection)",
        label_zh="品控检查得分",
        unit_zh="分",
        spc=MetricSpec(
            scale="linear",
            offset=0.0,
            weekly=False,
            sigma_floor=1.0,
            nonnegative=False,
            drift_directions="down",
            drift_test="down",
        ),
        value_format="{:,.1f}",
    ),
    Kpi(
        "expired_qty",
        "Expired quantity",
        "units",
        -1,
        "BIGINT",
        False,
        "expired quantity recorded",
        label_zh="过期数量",
        unit_zh="件",
        spc=MetricSpec(
            scale="sqrt",
            offset=0.375,
            weekly=False,
            directions="up",
            sigma_floor=0.5,
            poisson_floor=True,
            drift_directions="up",
            drift_test="up",
        ),
    ),
)
KPI_BY_COLUMN: dict[str, Kpi] = {kpi.column: kpi for kpi in KPIS}
KPI_COLUMNS: tuple[str, ...] = tuple(KPI_BY_COLUMN)


@dataclass(frozen=True)
class DqCounter:
    """One data-quality counter of `store_daily_metrics`: source rows excluded from a KPI, or kept but
    suspicious, per store and day.

    invalid_rows: the rows are invalid and part of `dq_excluded_rows` (the excluded-share numerator); refunds,
    cancellations, unscored or implausible inspections and items are counted in their own columns only.
    """

    column: str
    description: str
    invalid_rows: bool = False


DQ_COUNTERS: tuple[DqCounter, ...] = (
    DqCounter("dq_null_pay_money", "completed trades with NULL pay_money, excluded", invalid_rows=True),
    DqCounter("dq_negative_pay_money", "completed trades with negative pay_money, excluded", invalid_rows=True),
    DqCounter("dq_refunded_trades", "refunded trades, excluded"),
    DqCounter("dq_cancelled_trades", "cancelled trades, excluded"),
    DqCounter("dq_unknown_status_trades", "trades with an unknown or NULL status, excluded", invalid_rows=True),
    DqCounter("dq_large_pay_money", "counted trades with a suspiciously large amount (kept)"),
    DqCounter("dq_unfinished_production", "production orders with no finish_time, excluded", invalid_rows=True),
    DqCounter(
        "dq_negative_production_duration",
        "production orders finishing before they start, excluded",
        invalid_rows=True,
    ),
    DqCounter("dq_open_shifts", "shifts with no clock_out, excluded from staff_hours", invalid_rows=True),
    DqCounter("dq_overlong_shifts", "shifts over 16 h, excluded from staff_hours", invalid_rows=True),
    DqCounter(
        "dq_nonpositive_shifts", "shifts of zero or negative length, excluded from staff_hours", invalid_rows=True
    ),
    DqCounter("dq_null_qc_score", "inspections without a score, excluded from qc_score"),
    DqCounter(
        "dq_implausible_pay_money", "completed trades above STORE_ANOMALY_MAX_PAY_MONEY, excluded", invalid_rows=True
    ),
    DqCounter(
        "dq_nonpositive_item_quantity", "items of counted trades with quantity <= 0 or NULL, excluded from items_sold"
    ),
    DqCounter(
        "dq_overlong_production",
        "production orders longer than STORE_ANOMALY_MAX_PRODUCTION_SECONDS, excluded",
        invalid_rows=True,
    ),
    DqCounter(
        "dq_implausible_qc_score", "inspections scored outside STORE_ANOMALY_QC_SCORE_MIN..MAX, excluded from qc_score"
    ),
    DqCounter("dq_null_employee_id", "shifts with a NULL employee_id: hours kept in staff_hours, not in headcount"),
    DqCounter("dq_null_expired_qty", "expiry records with a NULL expired_qty, excluded from expired_qty"),
)
DQ_COLUMNS: tuple[str, ...] = tuple(counter.column for counter in DQ_COUNTERS)
# The counters of source rows the KPI rules excluded as invalid: what `dq_excluded_rows` adds up.
EXCLUDED_ROW_COLUMNS: tuple[str, ...] = tuple(counter.column for counter in DQ_COUNTERS if counter.invalid_rows)

# The total of the invalid rows among the counters: never named beside its parts (the rows would count twice).
DQ_EXCLUDED_TOTAL = DqCounter(
    "dq_excluded_rows",
    "invalid source rows the KPI rules excluded (NULL, negative, implausible or unknown-status trades, "
    "unfinished, negative or over-long production, open, over-long or zero shifts); refunds, "
    "cancellations, unscored or implausible inspections and items are counted in their own columns",
)


def dq_counter_columns(columns: Iterable[str]) -> list[str]:
    """The data-quality counters among `columns`, in their order (the total left out)."""
    return [column for column in columns if column in DQ_COLUMNS]


def kpi_label(column: str, language: str = "en") -> str:
    """The KPI's label in `language` (en, zh); any other column's name in words."""
    kpi = KPI_BY_COLUMN.get(column)
    if kpi is not None:
        return kpi.label_in(language)
    return column.replace("_", " ").capitalize() if language == "en" else column


def kpi_unit(column: str, language: str = "en") -> str:
    """The KPI's unit in `language` ('' for any other column)."""
    kpi = KPI_BY_COLUMN.get(column)
    return kpi.unit_in(language) if kpi is not None else ""


def format_value(column: str, value: float | None) -> str:
    """A value of the column as texts write it (units included)."""
    kpi = KPI_BY_COLUMN.get(column)
    if kpi is not None:
        return kpi.format_value(value)
    return "n/a" if value is None else generic_format(value)
