"""Plotly figures of the HTML reports (pure: polars frames in, `plotly.graph_objects.Figure` out).

Every chart takes `language` (en, zh): titles, axis titles and trace names come from the text catalog
(`store_anomaly.texts`, keys `report.trace.*` and `report.chart.*`), KPI labels and units from the KPI catalog.
Trace names are part of the reports' interface (the browser tests find traces by them); in English:

* control chart: `value`, `centre line`, `anchored reference` (only when the limits hold one),
  `WARNING limit (upper)`, `WARNING limit (lower)`, and one `flag <SEVERITY> <rule>` trace per severity and
  rule that fired (one point per flag); alert episodes are shaded spans (layout shapes) labelled with the alert
  id, severity, KPI and change, the whole headline on hover.
* health: `health score`; peers: `percentile <KPI>`; excluded rows: `excluded rows`;
  chain: `revenue`, `orders`.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from store_anomaly.kpis.catalog import kpi_label, kpi_unit
from store_anomaly.texts import Texts, texts_for

# Figures are plain plotly.js figure dicts ({"data": [...], "layout": {...}}): plotly.graph_objects validates
# every property on every assignment, which made a store page cost about a second; the pages draw them with
# the folder's plotly.js and one shared template (`pages.plotly_template`).
Figure = dict

SEVERITY_COLOURS = {"CRITICAL": "#c0392b", "WARNING": "#e67e22", "INFO": "#95a5a6"}
GRADE_COLOURS = {"A": "#1a9850", "B": "#91cf60", "C": "#fee08b", "D": "#fc8d59", "F": "#d73027"}
_RULE_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "triangle-down", "x", "star", "cross", "hexagon")


def _date_axis(t: Texts) -> dict:
    """A date axis whose ticks and hover dates are written in the language (plotly's default is English)."""
    axis = {"type": "date"}
    if t("report.chart.date_ticks"):
        axis |= {"tickformat": t("report.chart.date_ticks"), "hoverformat": t("report.chart.date_hover")}
    return axis


def _layout(t: Texts, title: str, height: int, **extra) -> dict:
    return {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 75, "b": 30},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0, "font": {"size": 10}},
        "hovermode": "x unified",
        "xaxis": _date_axis(t),
        **extra,
    }


def _dates(frame: pl.DataFrame, column: str = "metric_date") -> list[str]:
    return frame[column].dt.to_string("%Y-%m-%d").to_list()


def _values(frame: pl.DataFrame, column: str) -> list:
    """A column as a JSON-safe list: NaN (a 0/0 ratio) becomes null, like a missing value."""
    return _lists(frame, column)[column]


def _lists(frame: pl.DataFrame, *columns: str, dates: tuple[str, ...] = ()) -> dict[str, list]:
    """Columns as JSON-safe lists in one polars pass (a chart's columns at once, not one query per column and
    operation): floats with NaN as null and rounded to 3 decimals (`_values`), the `dates` as `_dates` writes
    them."""
    schema = frame.schema
    exprs = [pl.col(c).dt.to_string("%Y-%m-%d") for c in dates]
    exprs += [pl.col(c).fill_nan(None).round(3) if schema[c].is_float() else pl.col(c) for c in columns]
    return frame.select(exprs).to_dict(as_series=False)


@dataclass(frozen=True, slots=True)
class JSONArray:
    """An array already written as JSON text (`json_arrays`), put into a figure's JSON as is by `figure_json`."""

    text: str


# A figure's JSONArray stands in its json.dumps text as this string and an index; the random part makes it
# impossible for a text of the data to be taken for one.
_SLOT = f"\x00{secrets.token_hex(8)}:"
_SLOT_PATTERN = re.compile(re.escape(json.dumps(_SLOT)[:-1]) + r'(\d+)"')


def figure_json(figure: Figure) -> str:
    """The figure as compact JSON, the same text as `json.dumps(figure, separators=(",", ":"), allow_nan=False,
    default=str)` of the figure with plain lists in place of its `JSONArray`s."""
    arrays: list[str] = []

    def encode(value):
        if isinstance(value, JSONArray):
            arrays.append(value.text)
            return f"{_SLOT}{len(arrays) - 1}"
        return str(value)

    text = json.dumps(figure, separators=(",", ":"), allow_nan=False, default=encode)
    return _SLOT_PATTERN.sub(lambda slot: arrays[int(slot[1])], text) if arrays else text


@functools.cache
def _floats_written_as_python() -> bool:
    """Whether polars writes a float as Python's repr (json.dumps) does: shortest round-trip digits, `.0` on
    whole numbers, an exponent from 1e16 on. (Below 1e-4 they differ, 1e-05 against 0.00001, but a value
    rounded to 3 decimals is 0 or at least 0.001.)"""
    probe = [0.0, -0.0, 1.0, 0.001, 0.1, 0.30000000000000004, 123456.789, 1e15, 1234567890123456.8, 1e16, 2.5e17]
    return pl.Series(probe).cast(pl.String).to_list() == [repr(x) for x in probe]


def _element_text(column: str, dtype: pl.DataType, *, is_date: bool) -> pl.Expr:
    """Each value of `column` as json.dumps writes the value `_lists` gives for it."""
    value = pl.col(column)
    if is_date:
        text = pl.format('"{}"', value.dt.to_string("%Y-%m-%d"))
    elif dtype.is_float():
        rounded = value.fill_nan(None).round(3)
        text = (
            rounded.cast(pl.String)
            if _floats_written_as_python()
            else rounded.map_elements(repr, return_dtype=pl.String, skip_nulls=True)
        )
    elif dtype.is_integer():
        text = value.cast(pl.String)
    else:
        raise TypeError(f"{column}: {dtype} is not written as a JSON array here")
    return text.fill_null("null")


def json_arrays(
    frame: pl.DataFrame,
    by: Sequence[str],
    columns: Sequence[str] = (),
    *,
    dates: Sequence[str] = (),
    also: Sequence[pl.Expr] = (),
) -> pl.DataFrame:
    """Per group of `by` (in order of first appearance, rows in frame order): `by`, then each of `dates` and
    `columns` as the JSON text of the list `_lists` gives for the group (floats with NaN as null and rounded to
    3 decimals; dates as YYYY-MM-DD), the same text json.dumps writes for it, every group in one polars pass,
    then the aggregations `also`. An infinite float is a ValueError naming its group, as json.dumps refuses it
    (allow_nan=False)."""
    schema = frame.schema
    floats = [c for c in columns if schema[c].is_float()]
    if floats:
        infinite = frame.filter(pl.any_horizontal(pl.col(c).is_infinite() for c in floats))
        if infinite.height:
            row = infinite.select(*by).row(0, named=True)
            raise ValueError(f"Out of range float values are not JSON compliant: {row}")
    written = (*dates, *columns)
    # each value written over the whole frame at once, then joined per group (writing them within the
    # groups cost a third more)
    return (
        frame.with_columns(_element_text(c, schema[c], is_date=c in dates).alias(f"\x00{c}") for c in written)
        .group_by(*by, maintain_order=True)
        .agg(*(pl.col(f"\x00{c}").str.join(",").alias(c) for c in written), *also)
        .with_columns(pl.concat_str(pl.lit("["), c, pl.lit("]")).alias(c) for c in written)
    )


@dataclass(frozen=True, slots=True)
class EveryDay:
    """A trace's dates when they are every day from `first`, one per value: written as plotly's `x0` and `dx` (a
    day in milliseconds on a date axis) rather than as an array of dates. A store page's control charts draw 55
    daily traces over the same 13 months, whose dates were 60% of the page's bytes."""

    first: date


DAY_MILLISECONDS = 86_400_000


def _x(days: Sequence | JSONArray | EveryDay) -> dict:
    """A trace's x: an array of dates, or `x0` and `dx` for `EveryDay`."""
    if isinstance(days, EveryDay):
        return {"x0": days.first.isoformat(), "dx": DAY_MILLISECONDS}
    return {"x": days}


def rule_symbol(rule: str, rules: list[str]) -> str:
    return _RULE_SYMBOLS[rules.index(rule) % len(_RULE_SYMBOLS)] if rule in rules else "circle"


def _line(x, y, name: str, colour: str, width: float = 1.5, dash: str = "solid", **extra) -> dict:
    return {
        "type": "scatter", **_x(x), "y": y, "name": name, "mode": "lines",
        "line": {"color": colour, "width": width, "dash": dash}, **extra,
    }  # fmt: skip


def _change(pct: float | None) -> str:
    return "" if pct is None else f"{pct:+.0f}%"


# A chart's columns: lists (`_lists`) or JSON arrays (`json_arrays`) by column name.
Columns = Mapping[str, Sequence | JSONArray]
CONTROL_COLUMNS = ("value", "center_line", "anchor_value", "lcl", "ucl")


@dataclass(frozen=True, slots=True)
class FlagTrace:
    """One store and KPI's flags of one severity and rule in date order: their days and observed values (as
    `_dates` and `_values` write them) and hover texts."""

    severity: str
    rule: str
    days: Sequence | JSONArray
    observed: Sequence | JSONArray
    texts: list[str]


def flag_traces(flags: pl.DataFrame, by: Sequence[str] = ()) -> pl.DataFrame:
    """Per group of `by` and then severity and rule, in order of their first flag by date (ties in frame
    order): `by`, severity, rule, metric_date and observed_value as JSON arrays, the hover texts as a list."""
    text = pl.format(
        "{} {}: {}",
        *(pl.col(c).cast(pl.String).fill_null("None") for c in ("severity", "rule")),
        pl.col("detail").fill_null(""),
    )
    return json_arrays(
        flags.sort(*by, "metric_date", maintain_order=True),
        (*by, "severity", "rule"),
        ("observed_value",),
        dates=("metric_date",),
        also=[text.alias("texts")],
    )


def control_chart(
    columns: Columns,
    flags: Sequence[FlagTrace],
    episodes: pl.DataFrame,
    metric: str,
    *,
    anchored: bool,
    height: int = 300,
    language: str = "en",
) -> Figure:
    """One store's control chart of one KPI.

    columns: metric_date (dates, or `EveryDay`) and `CONTROL_COLUMNS` (one value per day, sorted); anchored:
    whether anchor_value holds a value on some day (the anchored reference is drawn);
    flags: this store and KPI's flags by severity and rule (`flag_traces`), in order of their first flag;
    episodes: alert_id, metric_name, opened_on, last_seen_on, severity, change_pct, headline (alerts of this
    store touching the KPI).
    """
    t = texts_for(language)
    days = columns["metric_date"]
    data = [
        _line(
            days, columns["value"], t("report.trace.value"), "#2c3e50", 1.2, mode="lines+markers",
            marker={"size": 3},
        ),
        _line(days, columns["center_line"], t("report.trace.centre_line"), "#2980b9"),
    ]  # fmt: skip
    if anchored:
        anchored = t("report.trace.anchored_reference")
        data.append(_line(days, columns["anchor_value"], anchored, "#8e44ad", 2, "dot"))
    # The WARNING band: the lower limit, then the upper one filled down to it.
    for bound, column in (("lower", "lcl"), ("upper", "ucl")):
        data.append(
            _line(
                days, columns[column], t(f"report.trace.limit_{bound}"), SEVERITY_COLOURS["WARNING"], 0.6, "dot",
                legendgroup="limits", showlegend=bound == "upper",
                **({"fill": "tonexty", "fillcolor": "rgba(230,126,34,0.10)"} if bound == "upper" else {}),
            )
        )  # fmt: skip
    rules = sorted({trace.rule for trace in flags})
    for trace in flags:
        severity, rule = trace.severity, trace.rule
        data.append(
            {
                "type": "scatter",
                "x": trace.days,
                "y": trace.observed,
                "name": t("report.trace.flag", severity=severity, rule=rule),
                "mode": "markers",
                "marker": {
                    "color": SEVERITY_COLOURS.get(severity, "#000"),
                    "size": 11 if severity == "CRITICAL" else 9 if severity == "WARNING" else 6,
                    "symbol": rule_symbol(rule, rules),
                    "line": {"color": "white", "width": 1},
                },
                "text": trace.texts,
                "hovertemplate": "%{text}<extra></extra>",
            }
        )
    shapes, annotations = [], []
    for episode in episodes.iter_rows(named=True) if episodes.height else ():  # most charts: none
        colour = SEVERITY_COLOURS.get(episode["severity"], "#999")
        start, end = episode["opened_on"].isoformat(), episode["last_seen_on"].isoformat()
        shapes.append(
            {"type": "rect", "xref": "x", "yref": "paper", "x0": start, "x1": end, "y0": 0, "y1": 1,
             "fillcolor": colour, "opacity": 0.12, "line": {"width": 0}, "layer": "below"}
        )  # fmt: skip
        # a short label that never cuts a sentence; the whole headline on hover
        text = t(
            "report.chart.episode",
            alert_id=episode["alert_id"],
            severity=episode["severity"],
            label=kpi_label(episode.get("metric_name") or metric, language),
            change=_change(episode.get("change_pct")),
        ).strip()
        annotations.append(
            {"xref": "x", "yref": "paper", "x": start, "y": 1, "xanchor": "left", "yanchor": "top",
             "showarrow": False, "font": {"size": 10, "color": colour}, "text": text,
             "hovertext": episode["headline"]}
        )  # fmt: skip
    unit = kpi_unit(metric, language)
    layout = _layout(
        t, kpi_label(metric, language), height, shapes=shapes, annotations=annotations, yaxis={"title": {"text": unit}}
    )
    return {"data": data, "layout": layout}


def health_chart(health: Columns, *, height: int = 260, language: str = "en") -> Figure:
    """health: metric_date, health_score, grade (one store, sorted); grade bands shaded behind the line."""
    t = texts_for(language)
    bands = [
        {"type": "rect", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": low, "y1": high,
         "fillcolor": GRADE_COLOURS[grade], "opacity": 0.12, "line": {"width": 0}, "layer": "below"}
        for low, high, grade in ((90, 100, "A"), (80, 90, "B"), (70, 80, "C"), (60, 70, "D"), (0, 60, "F"))
    ]  # fmt: skip
    line = _line(
        health["metric_date"], health["health_score"], t("report.trace.health"), "#2c3e50",
        text=health["grade"],
        hovertemplate="%{y:.1f} (" + t("report.chart.grade") + " %{text})<extra></extra>",
    )  # fmt: skip
    layout = _layout(t, t("report.chart.health"), height, shapes=bands, yaxis={"range": [0, 100]})
    return {"data": [line], "layout": layout}


def percentile_chart(
    peers: Mapping[str, Columns], metrics: tuple[str, ...], *, height: int = 260, language: str = "en"
) -> Figure:
    """peers: by KPI, its week_start and percentile (one store, sorted); one line per KPI of `metrics` present."""
    t = texts_for(language)
    data = []
    for metric in metrics:
        rows = peers.get(metric)
        if rows is not None:
            data.append(
                {"type": "scatter", "x": rows["week_start"], "y": rows["percentile"],
                 "name": t("report.trace.percentile", label=kpi_label(metric, language)), "mode": "lines+markers",
                 "marker": {"size": 4}}
            )  # fmt: skip
    return {"data": data, "layout": _layout(t, t("report.chart.percentile"), height, yaxis={"range": [0, 100]})}


def excluded_rows_chart(metrics: Columns, *, height: int = 220, language: str = "en") -> Figure:
    """metrics: metric_date, dq_excluded_rows (one store, sorted)."""
    t = texts_for(language)
    bars = {
        "type": "bar", "x": metrics["metric_date"], "y": metrics["dq_excluded_rows"],
        "name": t("report.trace.excluded"), "marker": {"color": "#7f8c8d"},
    }  # fmt: skip
    return {"data": [bars], "layout": _layout(t, t("report.chart.excluded"), height)}


def chain_chart(chain: pl.DataFrame, *, height: int = 320, language: str = "en") -> Figure:
    """chain: metric_date, revenue, order_count (the chain's daily totals, sorted); orders on a second axis."""
    t = texts_for(language)
    days = _dates(chain)
    data = [
        _line(days, _values(chain, "revenue"), t("report.trace.revenue"), "#2c3e50", hovertemplate="$%{y:,.0f}"),
        _line(
            days, _values(chain, "order_count"), t("report.trace.orders"), "#27ae60", 1, yaxis="y2",
            hovertemplate="%{y:,.0f}",
        ),
    ]  # fmt: skip
    layout = _layout(
        t,
        t("report.chart.chain"),
        height,
        yaxis={"title": {"text": t("report.chart.revenue_axis")}, "tickformat": "$,.0f"},
        yaxis2={
            "title": {"text": t("report.chart.orders_axis")},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
    )
    return {"data": data, "layout": layout}
