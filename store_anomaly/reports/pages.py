"""The static HTML reports: executive summary, one page per store, SPC gallery (pure: no Dagster, no I/O).

`iter_pages(data, built_at, language="en")` yields each page as (path relative to the reports folder, HTML), one
at a time (`index.html` first, `stores/<shop_no>.html`, `spc.html` last; `build_pages` collects them in a dict), in
`language` (every text from the catalog `store_anomaly.texts`, the alerts' own texts in that language, the same figures in either). Every page references the one copy of
plotly.js in the reports folder (`PLOTLY_JS`, written by `store_anomaly.reports.site`), so nothing is fetched
from the network when a page is viewed. Stores are listed worst first everywhere: open alerts by severity,
then the latest health score (lowest first). The gallery draws the charts of the worst `GALLERY_STORES` stores
only (drawn when scrolled near, IntersectionObserver) and lists every other store as a searchable table row, so
its size and cost stay bounded at any store count. The store pages' chart series are written as JSON by polars
for a chunk of `SERIES_CHUNK_STORES` stores at once (`store_series`; the next chunk's in a thread while this
chunk's pages are assembled), the same text json.dumps would write for them.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from store_anomaly.alerts.config import SEVERITY_RANK
from store_anomaly.alerts.describe import text_columns
from store_anomaly.alerts.listing import headline
from store_anomaly.kpis.catalog import KPI_COLUMNS, kpi_label
from store_anomaly.reports.charts import (
    CONTROL_COLUMNS,
    GRADE_COLOURS,
    EveryDay,
    FlagTrace,
    JSONArray,
    chain_chart,
    control_chart,
    excluded_rows_chart,
    figure_json,
    flag_traces,
    health_chart,
    json_arrays,
    percentile_chart,
)
from store_anomaly.reports.data import PEER_KPIS, ReportData
from store_anomaly.reports.health import grade_expr
from store_anomaly.texts import Texts, texts_for

PLOTLY_JS = "plotly.min.js"


@functools.cache
def plotly_template() -> str:
    """plotly's "plotly_white" theme, once per page: every chart of the page uses it. (plotly is imported here,
    when a page is first written, not with the code location.)"""
    import plotly.io

    return json.dumps(plotly.io.templates["plotly_white"].to_plotly_json(), separators=(",", ":"))


# The KPIs every store shows first (and the only ones in the gallery): what customers and sales do.
HEADLINE_KPIS: tuple[str, ...] = ("revenue", "order_count")
HEALTH_GRID_WEEKS = 26
# Stores whose charts the gallery draws (worst first); the others are table rows linking to their page.
GALLERY_STORES = 40
# Stores whose chart series are joined and written as JSON at once (bounds the pages' memory at any store count).
SERIES_CHUNK_STORES = 100

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#2c3e50;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}
header .meta{font-size:13px;opacity:.85;margin-top:4px}header a{color:#fff}
main{padding:12px 24px;max-width:1400px}section{background:#fff;border-radius:6px;padding:12px 16px;margin:12px 0;
box-shadow:0 1px 2px rgba(0,0,0,.08)}h2{font-size:17px;margin:4px 0 10px}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}th{position:sticky;top:0;background:#fafafa}td.num,th.num{text-align:right}
.scroll{max-height:480px;overflow:auto}.sev{font-weight:600;padding:1px 6px;border-radius:3px;color:#fff}
.sev-CRITICAL{background:#c0392b}.sev-WARNING{background:#e67e22}.sev-INFO{background:#95a5a6}
.headline{font-size:18px;margin:0 0 8px}.grade{display:inline-block;min-width:18px;text-align:center;
border-radius:3px;font-weight:600}.grid td{padding:1px;border:1px solid #fff;font-size:10px;text-align:center}
.grid td.store{text-align:left;font-size:12px;white-space:nowrap;padding:1px 6px}
input.search{font-size:14px;padding:5px 8px;width:320px;margin-bottom:8px}.muted{color:#777}
.chart{min-height:120px}td.id{white-space:nowrap;font-family:monospace}summary{cursor:pointer}.card{border-top:1px solid #ddd;padding-top:6px}.cards2{display:grid;
grid-template-columns:1fr 1fr;gap:8px}.kpis{display:flex;gap:18px;flex-wrap:wrap}.kpi b{font-size:20px;display:block}
"""

_JS = """
function draw(el){if(el.dataset.drawn)return;el.dataset.drawn='1';
 var spec=JSON.parse(document.getElementById(el.dataset.spec).textContent);
 spec.layout.template=TEMPLATE;Plotly.newPlot(el,spec.data,spec.layout,{responsive:true,displaylogo:false});}
var lazy='IntersectionObserver' in window?new IntersectionObserver(function(es){es.forEach(function(e){
 if(e.isIntersecting){lazy.unobserve(e.target);draw(e.target);}});},{rootMargin:'800px'}):null;
document.querySelectorAll('.chart').forEach(function(el){
 if(el.classList.contains('lazy')&&lazy){lazy.observe(el);}else{draw(el);}});
document.querySelectorAll('input.search').forEach(function(box){box.addEventListener('input',function(){
 var q=box.value.trim().toLowerCase();
 document.querySelectorAll(box.dataset.target+' [data-search]').forEach(function(row){
  row.style.display=!q||row.dataset.search.indexOf(q)>=0?'':'none';});});});
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.0f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _severity(severity: str | None) -> str:
    return f'<span class="sev sev-{_e(severity)}">{_e(severity)}</span>'


def _grade(grade: str | None) -> str:
    if grade is None:
        return '<span class="muted">-</span>'
    return f'<span class="grade" style="background:{GRADE_COLOURS.get(grade, "#ccc")}">{_e(grade)}</span>'


def _chart(figure: dict, chart_id: str, *, lazy: bool = False) -> str:
    spec = figure_json(figure).replace("</", "<\\/")
    classes = "chart lazy" if lazy else "chart"
    height = figure["layout"].get("height", 300)
    return (
        f'<div class="{classes}" id="chart-{chart_id}" data-spec="spec-{chart_id}" style="height:{height}px"></div>'
        f'<script type="application/json" id="spec-{chart_id}">{spec}</script>'
    )


def _page(t: Texts, title: str, subtitle: str, body: str, *, depth: int = 0) -> str:
    prefix = "../" * depth
    return (
        f'<!doctype html>\n<html lang="{t.html_lang}"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style>'
        f'<script src="{prefix}{PLOTLY_JS}"></script></head><body>'
        f'<header><h1>{_e(title)}</h1><div class="meta">{subtitle}</div></header><main>{body}</main>'
        f"<script>var TEMPLATE={plotly_template()};{_JS}</script></body></html>\n"
    )


def _provenance(t: Texts, data: ReportData, built_at: datetime, *, depth: int) -> str:
    prefix = "../" * depth
    dates = t("report.dates", first=data.first, last=data.last) if data.last else t("report.no_dates")
    return (
        f"{_e(t('report.built', built_at=f'{built_at:%Y-%m-%d %H:%M}', dates=dates))} &middot; "
        f'<a href="{prefix}index.html">{_e(t("report.link.summary"))}</a> &middot; '
        f'<a href="{prefix}spc.html">{_e(t("report.link.gallery"))}</a>'
    )


def with_headlines(alerts: pl.DataFrame, language: str = "en") -> pl.DataFrame:
    """Alerts with a numeric `severity_rank` and their texts in `language`: `description` and
    `recommended_action` are that language's (the English ones where a row has none yet), `headline` the first
    sentence."""
    description, action = text_columns(language)
    if description != "description":
        alerts = alerts.with_columns(
            pl.coalesce(description, "description").alias("description"),
            pl.coalesce(action, "recommended_action").alias("recommended_action"),
        )
    return alerts.with_columns(
        pl.struct("description", "shop_name")
        .map_elements(lambda row: headline(row["description"], row["shop_name"]), return_dtype=pl.String)
        .fill_null("")
        .alias("headline"),
        pl.col("severity").replace_strict(SEVERITY_RANK, default=-1, return_dtype=pl.Int64).alias("severity_rank"),
    )


def store_order(data: ReportData) -> pl.DataFrame:
    """In-scope stores worst first: shop_no, shop_name, health_score, grade, worst_metric, open_alerts,
    worst_open_severity (rank, -1 when none)."""
    latest_health = data.health.filter(pl.col("metric_date") == data.last).select(
        "shop_no", "health_score", "grade", "worst_metric"
    )
    open_alerts = (
        with_headlines(data.alerts)
        .filter(pl.col("status") == "open")
        .group_by("shop_no")
        .agg(pl.len().alias("open_alerts"), pl.col("severity_rank").max().alias("worst_open_severity"))
    )
    return (
        data.stores.join(latest_health, on="shop_no", how="left")
        .join(open_alerts, on="shop_no", how="left")
        .with_columns(pl.col("open_alerts").fill_null(0), pl.col("worst_open_severity").fill_null(-1))
        .sort(["worst_open_severity", "health_score", "shop_no"], descending=[True, False, False], nulls_last=True)
    )


def alert_activity(data: ReportData, resolve_after_quiet_days: int, language: str = "en") -> dict[str, pl.DataFrame]:
    """Alerts opened, escalated and resolved on the latest business date.

    Escalated: an open alert whose severity is above its opening severity and whose first flag at that
    severity (on one of its KPIs) is on the latest date. Resolved: `last_seen_on` + the quiet days = latest."""
    alerts = with_headlines(data.alerts, language)
    if data.last is None or alerts.is_empty():
        return {"opened": alerts.head(0), "escalated": alerts.head(0), "resolved": alerts.head(0)}
    opened = alerts.filter(pl.col("opened_on") == data.last)
    candidates = alerts.filter((pl.col("status") == "open") & (pl.col("severity") != pl.col("first_severity")))
    first_at_severity = (
        candidates.select(
            "alert_id", "shop_no", "severity", "opened_on", metric_name=pl.col("metric_names").str.split(",")
        )
        .explode("metric_name")
        .join(
            data.flags.select("shop_no", "metric_name", "severity", "metric_date"),
            on=["shop_no", "metric_name", "severity"],
        )
        .filter(pl.col("metric_date") >= pl.col("opened_on"))
        .group_by("alert_id")
        .agg(pl.col("metric_date").min().alias("escalated_on"))
    )
    escalated = candidates.join(first_at_severity, on="alert_id").filter(pl.col("escalated_on") == data.last)
    resolved = alerts.filter(
        (pl.col("status") == "resolved")
        & (pl.col("last_seen_on") + pl.duration(days=resolve_after_quiet_days) == pl.lit(data.last))
    )
    return {"opened": opened, "escalated": escalated.drop("escalated_on"), "resolved": resolved}


def latest_complete_week(last: date) -> date:
    """The Monday of the latest Monday-Sunday week that ends on or before `last`."""
    monday = last - timedelta(days=last.weekday())
    return monday if last.weekday() == 6 else monday - timedelta(days=7)


def _th(t: Texts, *keys: str, num: tuple[str, ...] = ()) -> str:
    return "".join(
        f"<th class='num'>{_e(t(f'report.col.{key}'))}</th>" if key in num else f"<th>{_e(t(f'report.col.{key}'))}</th>"
        for key in keys
    )


def _status(t: Texts, status: str) -> str:
    return t(f"status.{status}") if t.has(f"status.{status}") else status


def _alerts_table(
    t: Texts, alerts: pl.DataFrame, *, depth: int, with_store: bool = True, full_text: bool = False
) -> str:
    if alerts.is_empty():
        return f'<p class="muted">{_e(t("report.none"))}</p>'
    prefix = "../" * depth
    head = (
        "<tr>"
        + _th(
            t,
            "severity",
            *(("store",) if with_store else ()),
            "kpi",
            "since",
            "last_seen",
            "status",
            "change",
            num=("change",),
        )
        + _th(t, "headline_details" if full_text else "headline", "alert")
        + "</tr>"
    )
    rows = []
    for alert in alerts.iter_rows(named=True):
        store = (
            f'<td><a href="{prefix}stores/{_e(alert["shop_no"])}.html">{_e(alert["shop_no"])}</a> '
            f"{_e(alert.get('shop_name'))}</td>"
            if with_store
            else ""
        )
        text = _e(alert["headline"])
        if full_text:
            text = (
                f"<details><summary>{text}</summary><p>{_e(alert.get('description'))}</p>"
                f"<p><i>{_e(alert.get('recommended_action'))}</i></p></details>"
            )
        ack = t("report.acknowledged") if alert.get("acknowledged") else ""
        rows.append(
            f'<tr data-search="{_e(alert["shop_no"]).lower()} {_e(alert.get("shop_name")).lower()}">'
            f"<td>{_severity(alert['severity'])}</td>{store}<td>{_e(kpi_label(alert['metric_name'], t.language))}</td>"
            f"<td>{_e(alert.get('change_started_on') or alert['opened_on'])}</td><td>{_e(alert['last_seen_on'])}</td>"
            f"<td>{_e(_status(t, alert['status']) + ack)}</td><td class='num'>{_pct(alert.get('change_pct'))}</td>"
            f"<td>{text}</td><td class='id'>{_e(alert['alert_id'])}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _sorted_alerts(alerts: pl.DataFrame) -> pl.DataFrame:
    """Most severe first, then oldest; ties (two alerts opened the same day) by KPI and id, so the order is one
    whether a store's alerts are sorted alone or with every store's."""
    return alerts.sort(
        ["severity_rank", "opened_on", "shop_no", "metric_name", "alert_id"],
        descending=[True, False, False, False, False],
    )


def _by_severity(t: Texts, open_alerts: pl.DataFrame) -> str:
    counts = dict(open_alerts.group_by("severity").len().iter_rows())
    return t.join(
        t("report.severity_count", count=counts[s], severity=s) for s in ("CRITICAL", "WARNING", "INFO") if s in counts
    )


def summary_headline(data: ReportData, language: str = "en") -> str:
    """One line: how many alerts are open, by severity, and the most serious one's headline."""
    t = texts_for(language)
    open_alerts = _sorted_alerts(with_headlines(data.alerts, language).filter(pl.col("status") == "open"))
    if open_alerts.is_empty():
        return t("report.no_open_alert")
    top = open_alerts.row(0, named=True)
    store = f"{top['shop_no']} {top.get('shop_name') or ''}".strip()
    most_serious = t("report.most_serious", severity=top["severity"], store=store, headline=top["headline"])
    return t(
        "report.sentence_end",
        text=t.plural(
            "report.open_alerts", open_alerts.height, by_severity=_by_severity(t, open_alerts), top=most_serious
        ),
    )


def executive_summary(
    data: ReportData, built_at: datetime, *, resolve_after_quiet_days: int, language: str = "en"
) -> str:
    """index.html; see the module docstring."""
    t = texts_for(language)
    alerts = with_headlines(data.alerts, language)
    stores = store_order(data)
    open_alerts = _sorted_alerts(alerts.filter(pl.col("status") == "open")).join(
        data.stores.select("shop_no", pl.col("shop_name").alias("store_name")), on="shop_no", how="left"
    )
    if open_alerts.height:
        top = open_alerts.row(0, named=True)
        store = f'<a href="stores/{_e(top["shop_no"])}.html">{_e(top["shop_no"])} {_e(top.get("shop_name"))}</a>'
        # the catalog's sentence around HTML pieces: filled with markers, escaped, then the markers replaced
        most_serious = t("report.most_serious", severity="\x00", store="\x01", headline=top["headline"])
        text = t(
            "report.sentence_end",
            text=t.plural(
                "report.open_alerts", open_alerts.height, by_severity=_by_severity(t, open_alerts), top=most_serious
            ),
        )
        lead = (
            '<p class="headline">'
            + _e(text).replace("\x00", _severity(top["severity"])).replace("\x01", store)
            + "</p>"
        )
    else:
        lead = f'<p class="headline">{_e(t("report.no_open_alert"))}</p>'
    sections = [
        f"<section><h2>{_e(t('report.summary.open_alerts'))}</h2>{lead}{_alerts_table(t, open_alerts, depth=0)}</section>"
    ]

    activity = alert_activity(data, resolve_after_quiet_days, language)
    parts = []
    for name in ("opened", "escalated", "resolved"):
        frame = _sorted_alerts(activity[name])
        parts.append(
            f"<h3>{_e(t(f'report.summary.{name}', count=frame.height))}</h3>{_alerts_table(t, frame, depth=0)}"
        )
    sections.append(f"<section><h2>{_e(t('report.summary.activity', day=data.last))}</h2>{''.join(parts)}</section>")

    chain = (
        data.metrics.group_by("metric_date")
        .agg(pl.col("revenue").sum(), pl.col("order_count").sum())
        .sort("metric_date")
    )
    sections.append(f"<section>{_chart(chain_chart(chain, language=language), 'chain')}</section>")

    if data.last is not None:
        week = latest_complete_week(data.last)
        ranking = (
            data.peers.filter((pl.col("week_start") == week) & (pl.col("metric_name") == "revenue"))
            .join(stores.select("shop_no", "shop_name", "grade", "open_alerts"), on="shop_no", how="inner")
            .sort("rank", descending=True)
        )
        rows = "".join(
            f'<tr data-search="{_e(r["shop_no"]).lower()} {_e(r["shop_name"]).lower()}"><td class="num">{r["rank"]}'
            f'</td><td><a href="stores/{_e(r["shop_no"])}.html">{_e(r["shop_no"])}</a> {_e(r["shop_name"])}</td>'
            f"<td class='num'>{_money(r['value'])}</td><td class='num'>{_pct(r['vs_median_pct'])}</td>"
            f"<td class='num'>{_num(r['percentile'], 0)}</td><td>{_grade(r['grade'])}</td>"
            f"<td class='num'>{r['open_alerts']}</td></tr>"
            for r in ranking.iter_rows(named=True)
        )
        columns = ("rank", "store", "revenue", "vs_median", "percentile", "grade_today", "open_alerts")
        head = _th(t, *columns, num=("rank", "revenue", "vs_median", "percentile", "open_alerts"))
        ranking_title = t("report.summary.ranking", start=week, end=week + timedelta(days=6))
        sections.append(
            f"<section><h2>{_e(ranking_title)}</h2>"
            f'<input class="search" data-target="#ranking" placeholder="{_e(t("report.search"))}">'
            f'<div class="scroll" id="ranking"><table><tr>{head}</tr>{rows}</table></div></section>'
        )
        sections.append(_health_grid(t, data, stores))

    subtitle = (
        _provenance(t, data, built_at, depth=0)
        + f" &middot; {_e(t('report.summary.stores_in_scope', count=stores.height))}"
    )
    return _page(t, t("report.summary.title"), subtitle, "".join(sections))


def _health_grid(t: Texts, data: ReportData, stores: pl.DataFrame) -> str:
    weekly = (
        data.health.with_columns(pl.col("metric_date").dt.truncate("1w").alias("week_start"))
        .group_by("shop_no", "week_start")
        .agg(pl.col("health_score").mean())
        .with_columns(grade_expr(pl.col("health_score")).alias("grade"))
    )
    weeks = sorted(weekly["week_start"].unique().to_list())[-HEALTH_GRID_WEEKS:]
    cells = {
        (r["shop_no"], r["week_start"]): r
        for r in weekly.filter(pl.col("week_start").is_in(weeks)).iter_rows(named=True)
    }
    head = (
        f"<tr>{_th(t, 'store', 'today')}"
        + "".join(f"<th title='{_e(t('report.week_of', week=w))}'>{w:%m-%d}</th>" for w in weeks)
        + "</tr>"
    )
    rows = []
    for store in stores.iter_rows(named=True):
        tds = []
        for week in weeks:
            cell = cells.get((store["shop_no"], week))
            if cell is None or cell["grade"] is None:
                tds.append("<td></td>")
            else:
                score = t("report.week_score", week=week, score=f"{cell['health_score']:.1f}")
                tds.append(
                    f"<td style='background:{GRADE_COLOURS[cell['grade']]}' title='{_e(score)}'>{cell['grade']}</td>"
                )
        rows.append(
            f'<tr data-search="{_e(store["shop_no"]).lower()} {_e(store["shop_name"]).lower()}">'
            f'<td class="store"><a href="stores/{_e(store["shop_no"])}.html">{_e(store["shop_no"])}</a> '
            f"{_e(store['shop_name'])}</td><td>{_grade(store['grade'])}</td>{''.join(tds)}</tr>"
        )
    return (
        f"<section><h2>{_e(t('report.health_grid'))}</h2>"
        f'<input class="search" data-target="#health-grid" placeholder="{_e(t("report.search"))}">'
        f'<div class="scroll" id="health-grid"><table class="grid">{head}{"".join(rows)}</table></div></section>'
    )


def _control_series(data: ReportData, shops: pl.Series) -> pl.DataFrame:
    """metric_date, shop_no, metric_name, value, center_line, ucl, lcl, anchor_value for every KPI of the
    stores `shops`, the rows of each store and KPI in date order."""
    in_chunk = pl.col("shop_no").is_in(shops.implode())
    # the days sorted before they are split by KPI, and the limits joined keeping that order: a sort of the
    # joined rows (every KPI x day) cost as much as the join
    values = (
        data.metrics.filter(in_chunk)
        .select("metric_date", "shop_no", *KPI_COLUMNS)
        .sort("shop_no", "metric_date", maintain_order=True)
        .unpivot(index=["metric_date", "shop_no"], variable_name="metric_name", value_name="value")
    )
    limits = data.limits.filter(in_chunk)
    return values.join(limits, on=["metric_date", "shop_no", "metric_name"], how="left", maintain_order="left")


@dataclass(frozen=True)
class StoreSeries:
    """One store's chart series, each column a JSON array (`charts.json_arrays`) or, for texts, a list:
    control: by KPI, metric_date (`charts.EveryDay` when no day is missing) and `CONTROL_COLUMNS`;
    anchored: by KPI, whether it has an anchored reference;
    flags: by KPI, its flags' traces (`charts.flag_traces`);
    health: metric_date, health_score, grade; percentile: by KPI of `PEER_KPIS`, week_start and percentile;
    excluded: metric_date, dq_excluded_rows; dq_totals: the sum of each dq_ counter over the window."""

    control: dict[str, dict[str, JSONArray | EveryDay]]
    anchored: dict[str, bool]
    flags: dict[str, list[FlagTrace]]
    health: dict[str, JSONArray | list]
    percentile: dict[str, dict[str, JSONArray]]
    excluded: dict[str, JSONArray]
    dq_totals: dict[str, int]


def _arrays(row: dict, columns: Sequence[str]) -> dict[str, JSONArray]:
    return {column: JSONArray(row[column]) for column in columns}


def store_series(data: ReportData, shops: pl.Series) -> dict[str, StoreSeries]:
    """The chart series of the stores `shops` by shop_no, every store's written as JSON in one polars pass per
    table (not a few queries per chart and page); a store without rows in a table gets empty series."""
    in_chunk = pl.col("shop_no").is_in(shops.implode())
    control: dict[str, dict] = {shop: {} for shop in shops}
    anchored: dict[str, dict] = {shop: {} for shop in shops}
    series = _control_series(data, shops)
    by = ("shop_no", "metric_name")
    day_span = (pl.col("metric_date").max() - pl.col("metric_date").min()).dt.total_days() + 1
    written = json_arrays(
        series,
        by,
        CONTROL_COLUMNS,
        also=[
            pl.col("anchor_value").is_not_null().any().alias("anchored"),
            pl.col("metric_date").min().alias("first_day"),
            (day_span == pl.len()).alias("every_day"),
        ],
    )
    # a KPI with a day missing (rare) gets its dates written out; the others are every day from the first
    gaps = written.filter(~pl.col("every_day")).select(by)
    dates_of = {}
    if gaps.height:
        for row in json_arrays(series.join(gaps, on=by, how="semi"), by, dates=("metric_date",)).iter_rows():
            dates_of[row[:2]] = JSONArray(row[2])
    for row in written.iter_rows(named=True):
        shop, metric = row["shop_no"], row["metric_name"]
        days = EveryDay(row["first_day"]) if row["every_day"] else dates_of[(shop, metric)]
        control[shop][metric] = {"metric_date": days, **_arrays(row, CONTROL_COLUMNS)}
        anchored[shop][metric] = row["anchored"]

    flags: dict[str, dict] = {shop: {} for shop in shops}
    for row in flag_traces(data.flags.filter(in_chunk), ("shop_no", "metric_name")).iter_rows(named=True):
        trace = FlagTrace(
            row["severity"], row["rule"], JSONArray(row["metric_date"]), JSONArray(row["observed_value"]), row["texts"]
        )
        flags[row["shop_no"]].setdefault(row["metric_name"], []).append(trace)

    empty = JSONArray("[]")
    health = {shop: {"metric_date": empty, "health_score": empty, "grade": []} for shop in shops}
    days = data.health.filter(in_chunk).sort("shop_no", "metric_date", maintain_order=True)
    for row in json_arrays(
        days, ("shop_no",), ("health_score",), dates=("metric_date",), also=[pl.col("grade")]
    ).iter_rows(named=True):
        health[row["shop_no"]] = {**_arrays(row, ("metric_date", "health_score")), "grade": row["grade"]}

    percentile: dict[str, dict] = {shop: {} for shop in shops}
    weeks = data.peers.filter(in_chunk & pl.col("metric_name").is_in(PEER_KPIS)).sort(
        "shop_no", "metric_name", "week_start", maintain_order=True
    )
    for row in json_arrays(weeks, ("shop_no", "metric_name"), ("percentile",), dates=("week_start",)).iter_rows(
        named=True
    ):
        percentile[row["shop_no"]][row["metric_name"]] = _arrays(row, ("week_start", "percentile"))

    counters = [c for c in data.metrics.columns if c.startswith("dq_")]
    excluded = {shop: {"metric_date": empty, "dq_excluded_rows": empty} for shop in shops}
    dq_totals = {shop: dict.fromkeys(counters, 0) for shop in shops}
    metrics = data.metrics.filter(in_chunk).sort("shop_no", "metric_date", maintain_order=True)
    for row in json_arrays(
        metrics,
        ("shop_no",),
        ("dq_excluded_rows",),
        dates=("metric_date",),
        also=[pl.col(c).sum().alias(f"total_{c}") for c in counters],
    ).iter_rows(named=True):
        excluded[row["shop_no"]] = _arrays(row, ("metric_date", "dq_excluded_rows"))
        dq_totals[row["shop_no"]] = {c: row[f"total_{c}"] for c in counters}

    return {
        shop: StoreSeries(
            control[shop], anchored[shop], flags[shop], health[shop], percentile[shop], excluded[shop], dq_totals[shop]
        )
        for shop in shops
    }


def _episodes_by_store_and_metric(alerts: pl.DataFrame) -> dict[tuple[str, str], pl.DataFrame]:
    """The alerts by store and each KPI they name (`metric_names`, else `metric_name`), in their order: one polars
    pass for every store, not a filter per KPI chart (those were half the pages' time at 1,000 stores)."""
    if alerts.is_empty():
        return {}
    listed = alerts.with_columns(
        pl.col("metric_names").fill_null(pl.col("metric_name")).str.split(",").alias("_charted_metric")
    ).explode("_charted_metric")
    return {
        (shop, metric): part.drop("_charted_metric")
        for (shop, metric), part in listed.partition_by(
            "shop_no", "_charted_metric", as_dict=True, maintain_order=True
        ).items()
    }


def _by_store(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {key[0]: part for key, part in frame.partition_by("shop_no", as_dict=True).items()}


def store_page(
    store: dict,
    data: ReportData,
    built_at: datetime,
    *,
    series: StoreSeries,
    alerts: pl.DataFrame,
    charts: dict[str, str] | None = None,
    language: str = "en",
    episodes_by_metric: Mapping[str, pl.DataFrame] | None = None,
    alerts_sorted: bool = False,
) -> str:
    """stores/<shop_no>.html in `language` (`store` a row of `store_order`, `alerts` as `with_headlines` gave
    them in that language, `series` as `store_series` wrote them); `charts`, when given, receives the HTML of its
    headline KPIs' control charts (for the gallery). `episodes_by_metric`: its alerts by KPI charted, when the caller split
    every store's at once; `alerts_sorted`: `alerts` are in `_sorted_alerts` order already."""
    t = texts_for(language)
    shop = store["shop_no"]
    weakest = kpi_label(store["worst_metric"], language) if store["worst_metric"] else "-"
    kpis = (
        f"<div class='kpis'><div class='kpi'>{_e(t('report.store.health_today'))}"
        f"<b>{_num(store['health_score'])} {_grade(store['grade'])}</b></div>"
        f"<div class='kpi'>{_e(t('report.store.open_alerts'))}<b>{store['open_alerts']}</b></div>"
        f"<div class='kpi'>{_e(t('report.store.weakest_kpi'))}<b>{_e(weakest)}</b></div></div>"
    )
    # most stores have no alert: no query on their empty frame (small queries wait behind the series thread's)
    listed = _sorted_alerts(alerts) if alerts.height and not alerts_sorted else alerts
    episodes = _alerts_table(t, listed, depth=1, with_store=False, full_text=True)
    sections = [
        f"<section>{kpis}</section>",
        f"<section><h2>{_e(t('report.store.episodes'))}</h2>{episodes}</section>",
    ]
    order = [*HEADLINE_KPIS, *(m for m in KPI_COLUMNS if m not in HEADLINE_KPIS)]
    if episodes_by_metric is None:
        episodes_by_metric = {metric: part for (_, metric), part in _episodes_by_store_and_metric(alerts).items()}
    no_episodes = alerts.head(0)
    control = []
    for metric in order:
        columns = series.control.get(metric)
        if columns is None:
            continue
        figure = control_chart(
            columns,
            series.flags.get(metric, []),
            episodes_by_metric.get(metric, no_episodes),
            metric,
            anchored=series.anchored[metric],
            language=language,
        )
        control.append(_chart(figure, f"control-{metric}"))
        if charts is not None and metric in HEADLINE_KPIS:
            charts[metric] = _chart(figure, f"{shop}-{metric}", lazy=True)
    sections.append(
        f"<section><h2>{_e(t('report.store.control_charts'))}</h2>"
        f"<p class='muted'>{_e(t('report.store.control_explained'))}</p>" + "".join(control) + "</section>"
    )
    sections.append(
        "<section class='cards2'>"
        f"<div>{_chart(health_chart(series.health, language=language), 'health')}</div>"
        f"<div>{_chart(percentile_chart(series.percentile, PEER_KPIS, language=language), 'percentile')}</div>"
        "</section>"
    )
    totals = series.dq_totals
    breakdown = t.join(
        t("report.store.counter", counter=name.removeprefix("dq_").replace("_", " "), count=f"{n:,}")
        for name, n in totals.items()
        if n and name != "dq_excluded_rows"
    )
    excluded = t("report.store.excluded", count=f"{totals.get('dq_excluded_rows') or 0:,}")
    if breakdown:
        excluded += t("report.store.counters", counters=breakdown)
    sections.append(
        f"<section>{_chart(excluded_rows_chart(series.excluded, language=language), 'excluded')}"
        f"<p>{_e(t('report.sentence_end', text=excluded))}</p></section>"
    )
    title = f"{shop} {store['shop_name'] or ''}"
    return _page(t, title, _provenance(t, data, built_at, depth=1), "".join(sections), depth=1)


def spc_gallery(
    data: ReportData,
    built_at: datetime,
    stores: pl.DataFrame,
    charts: dict[str, dict[str, str]],
    language: str = "en",
) -> str:
    """spc.html: the headline KPIs' control charts of the stores in `charts` (the worst ones), worst first, drawn
    when scrolled near; every other store as a table row (grade, open alerts, link to its page)."""
    t = texts_for(language)
    cards, rows = [], []
    for store in stores.iter_rows(named=True):
        shop = store["shop_no"]
        search = f"{_e(shop).lower()} {_e(store['shop_name']).lower()}"
        link = f'<a href="stores/{_e(shop)}.html">{_e(shop)} {_e(store["shop_name"])}</a>'
        if shop in charts:
            cards.append(
                f'<div class="card" data-search="{search}"><h2>{link} {_grade(store["grade"])} '
                f"<span class='muted'>{_e(t('report.gallery.open_alerts', count=store['open_alerts']))}</span></h2>"
                "<div class='cards2'>"
                + "".join(f"<div>{charts[shop][m]}</div>" for m in HEADLINE_KPIS if m in charts[shop])
                + "</div></div>"
            )
        else:
            rows.append(
                f'<tr data-search="{search}"><td>{link}</td><td>{_grade(store["grade"])}</td>'
                f"<td class='num'>{_num(store['health_score'])}</td><td class='num'>{store['open_alerts']}</td></tr>"
            )
    others = ""
    if rows:
        head = _th(t, "store", "grade_today", "health_today", "open_alerts", num=("health_today", "open_alerts"))
        others = (
            f"<h2>{_e(t('report.gallery.others', count=len(rows)))}</h2>"
            f"<div class='scroll'><table id='gallery-others'><tr>{head}</tr>{''.join(rows)}</table></div>"
        )
    body = (
        f"<section><input class='search' data-target='#gallery' placeholder='{_e(t('report.search'))}'>"
        f"<div id='gallery'>{''.join(cards)}{others}</div></section>"
    )
    title = t("report.gallery.title_worst", count=len(cards)) if rows else t("report.gallery.title")
    return _page(t, title, _provenance(t, data, built_at, depth=0), body)


def iter_pages(
    data: ReportData,
    built_at: datetime,
    *,
    resolve_after_quiet_days: int = 7,
    gallery_stores: int = GALLERY_STORES,
    language: str = "en",
) -> Iterator[tuple[str, str]]:
    """Every page of the reports as (relative path, HTML), one at a time (the gallery last), in `language`; the
    gallery charts the worst `gallery_stores` stores. A caller that writes each page as it comes holds one page,
    not a thousand, in memory."""
    stores = store_order(data)
    alerts = with_headlines(data.alerts, language).join(
        data.stores.select("shop_no", pl.col("shop_name").alias("store_name")), on="shop_no", how="left"
    )
    # every store's alerts sorted for its table and split by KPI for its charts at once: per store, those small
    # polars passes waited behind the series thread's
    alerts_by_store, no_alert = _by_store(_sorted_alerts(alerts)), alerts.head(0)
    episodes_by_store: dict[str, dict[str, pl.DataFrame]] = {}
    for (shop, metric), part in _episodes_by_store_and_metric(alerts).items():
        episodes_by_store.setdefault(shop, {})[metric] = part
    yield (
        "index.html",
        executive_summary(data, built_at, resolve_after_quiet_days=resolve_after_quiet_days, language=language),
    )
    gallery_charts: dict[str, dict[str, str]] = {}
    # The chart series (every KPI x day of a store, with its limits) of a chunk of stores at a time: a year of
    # 1,000 stores' joined at once was most of the reports' peak memory. The next chunk's are built by polars
    # in a thread (it releases the GIL) while this chunk's pages are assembled in Python: the second core.
    chunks = [
        stores["shop_no"].slice(start, SERIES_CHUNK_STORES) for start in range(0, stores.height, SERIES_CHUNK_STORES)
    ]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-series") as ahead:
        upcoming = ahead.submit(store_series, data, chunks[0]) if chunks else None
        for position, store in enumerate(stores.iter_rows(named=True)):
            if position % SERIES_CHUNK_STORES == 0:
                series = upcoming.result()
                following = position // SERIES_CHUNK_STORES + 1
                upcoming = ahead.submit(store_series, data, chunks[following]) if following < len(chunks) else None
            shop = store["shop_no"]
            if position < gallery_stores:
                gallery_charts[shop] = {}
            page = store_page(
                store,
                data,
                built_at,
                charts=gallery_charts.get(shop),
                language=language,
                series=series.pop(shop),
                alerts=alerts_by_store.pop(shop, no_alert),
                episodes_by_metric=episodes_by_store.pop(shop, {}),
                alerts_sorted=True,
            )
            yield f"stores/{shop}.html", page
    yield "spc.html", spc_gallery(data, built_at, stores, gallery_charts, language)


def build_pages(
    data: ReportData,
    built_at: datetime,
    *,
    resolve_after_quiet_days: int = 7,
    gallery_stores: int = GALLERY_STORES,
    language: str = "en",
) -> dict[str, str]:
    """Every page of the reports by its relative path (`iter_pages`, all held at once)."""
    return dict(
        iter_pages(
            data,
            built_at,
            resolve_after_quiet_days=resolve_after_quiet_days,
            gallery_stores=gallery_stores,
            language=language,
        )
    )
