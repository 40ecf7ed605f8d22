"""The static HTML reports: executive summary, one page per store, SPC gallery (pure: no Dagster, no I/O).

`build_pages(data, built_at) -> dict[str, str]` maps each page's path relative to the reports folder
(`index.html`, `spc.html`, `stores/<shop_no>.html`) to its HTML. Every page references the one copy of
plotly.js in the reports folder (`PLOTLY_JS`, written by `store_anomaly.reports.site`), so nothing is fetched
from the network when a page is viewed. Stores are listed worst first everywhere: open alerts by severity,
then the latest health score (lowest first). The gallery draws the charts of the worst `GALLERY_STORES` stores
only (drawn when scrolled near, IntersectionObserver) and lists every other store as a searchable table row, so
its size and cost stay bounded at any store count.
"""

from __future__ import annotations

import html
import json
from datetime import date, datetime, timedelta

import plotly.io
import polars as pl

from store_anomaly.alerts.config import SEVERITY_RANK
from store_anomaly.alerts.listing import headline
from store_anomaly.kpis.catalog import KPI_COLUMNS
from store_anomaly.kpis.catalog import kpi_label as label
from store_anomaly.reports.charts import (
    GRADE_COLOURS,
    chain_chart,
    control_chart,
    excluded_rows_chart,
    health_chart,
    percentile_chart,
)
from store_anomaly.reports.data import ReportData
from store_anomaly.reports.health import grade_expr

PLOTLY_JS = "plotly.min.js"
# plotly's "plotly_white" theme, once per page: every chart of the page uses it.
TEMPLATE = json.dumps(plotly.io.templates["plotly_white"].to_plotly_json(), separators=(",", ":"))
# The KPIs every store shows first (and the only ones in the gallery): what customers and sales do.
HEADLINE_KPIS: tuple[str, ...] = ("revenue", "order_count")
PEER_KPIS: tuple[str, ...] = ("revenue", "order_count", "aov")
HEALTH_GRID_WEEKS = 26
# Stores whose charts the gallery draws (worst first); the others are table rows linking to their page.
GALLERY_STORES = 40

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
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
    spec = json.dumps(figure, separators=(",", ":"), allow_nan=False, default=str).replace("</", "<\\/")
    classes = "chart lazy" if lazy else "chart"
    height = figure["layout"].get("height", 300)
    return (
        f'<div class="{classes}" id="chart-{chart_id}" data-spec="spec-{chart_id}" style="height:{height}px"></div>'
        f'<script type="application/json" id="spec-{chart_id}">{spec}</script>'
    )


def _page(title: str, subtitle: str, body: str, *, depth: int = 0) -> str:
    prefix = "../" * depth
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style>'
        f'<script src="{prefix}{PLOTLY_JS}"></script></head><body>'
        f'<header><h1>{_e(title)}</h1><div class="meta">{subtitle}</div></header><main>{body}</main>'
        f"<script>var TEMPLATE={TEMPLATE};{_JS}</script></body></html>\n"
    )


def _provenance(data: ReportData, built_at: datetime, *, depth: int) -> str:
    prefix = "../" * depth
    dates = f"business dates {data.first} to {data.last}" if data.last else "no business date yet"
    return (
        f"Built {built_at:%Y-%m-%d %H:%M} UTC from {dates} &middot; "
        f'<a href="{prefix}index.html">summary</a> &middot; <a href="{prefix}spc.html">SPC gallery</a>'
    )


def with_headlines(alerts: pl.DataFrame) -> pl.DataFrame:
    """Alerts with a `headline` column and a numeric `severity_rank`."""
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


def alert_activity(data: ReportData, resolve_after_quiet_days: int) -> dict[str, pl.DataFrame]:
    """Alerts opened, escalated and resolved on the latest business date.

    Escalated: an open alert whose severity is above its opening severity and whose first flag at that
    severity (on one of its KPIs) is on the latest date. Resolved: `last_seen_on` + the quiet days = latest."""
    alerts = with_headlines(data.alerts)
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


def _alerts_table(alerts: pl.DataFrame, *, depth: int, with_store: bool = True, full_text: bool = False) -> str:
    if alerts.is_empty():
        return '<p class="muted">None.</p>'
    prefix = "../" * depth
    head = (
        "<tr><th>severity</th>"
        + ("<th>store</th>" if with_store else "")
        + "<th>KPI</th><th>since</th><th>last seen</th><th>status</th><th class='num'>change</th>"
        + f"<th>{'headline (click for the description and what to do)' if full_text else 'headline'}</th>"
        + "<th>alert</th></tr>"
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
        ack = " (acknowledged)" if alert.get("acknowledged") else ""
        rows.append(
            f'<tr data-search="{_e(alert["shop_no"]).lower()} {_e(alert.get("shop_name")).lower()}">'
            f"<td>{_severity(alert['severity'])}</td>{store}<td>{_e(label(alert['metric_name']))}</td>"
            f"<td>{_e(alert.get('change_started_on') or alert['opened_on'])}</td><td>{_e(alert['last_seen_on'])}</td>"
            f"<td>{_e(alert['status'])}{ack}</td><td class='num'>{_pct(alert.get('change_pct'))}</td>"
            f"<td>{text}</td><td class='id'>{_e(alert['alert_id'])}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _sorted_alerts(alerts: pl.DataFrame) -> pl.DataFrame:
    return alerts.sort(["severity_rank", "opened_on", "shop_no"], descending=[True, False, False])


def summary_headline(data: ReportData) -> str:
    """One line: how many alerts are open, by severity, and the most serious one's headline."""
    open_alerts = _sorted_alerts(with_headlines(data.alerts).filter(pl.col("status") == "open"))
    if open_alerts.is_empty():
        return "No open alert."
    counts = dict(open_alerts.group_by("severity").len().iter_rows())
    by_severity = ", ".join(f"{counts[s]} {s}" for s in ("CRITICAL", "WARNING", "INFO") if s in counts)
    top = open_alerts.row(0, named=True)
    return (
        f"{open_alerts.height} open alert{'s' if open_alerts.height > 1 else ''} ({by_severity}). Most serious: "
        f"{top['severity']} {top['shop_no']} {top.get('shop_name') or ''}: {top['headline']}."
    )


def executive_summary(data: ReportData, built_at: datetime, *, resolve_after_quiet_days: int) -> str:
    """index.html; see the module docstring."""
    alerts = with_headlines(data.alerts)
    stores = store_order(data)
    open_alerts = _sorted_alerts(alerts.filter(pl.col("status") == "open")).join(
        data.stores.select("shop_no", pl.col("shop_name").alias("store_name")), on="shop_no", how="left"
    )
    counts = dict(open_alerts.group_by("severity").len().iter_rows())
    by_severity = ", ".join(f"{counts[s]} {s}" for s in ("CRITICAL", "WARNING", "INFO") if s in counts)
    if open_alerts.height:
        top = open_alerts.row(0, named=True)
        lead = (
            f'<p class="headline">{open_alerts.height} open alert{"s" if open_alerts.height > 1 else ""} '
            f"({by_severity}). Most serious: {_severity(top['severity'])} "
            f'<a href="stores/{_e(top["shop_no"])}.html">{_e(top["shop_no"])} {_e(top.get("shop_name"))}</a>: '
            f"{_e(top['headline'])}.</p>"
        )
    else:
        lead = '<p class="headline">No open alert.</p>'
    sections = [f"<section><h2>Open alerts</h2>{lead}{_alerts_table(open_alerts, depth=0)}</section>"]

    activity = alert_activity(data, resolve_after_quiet_days)
    parts = []
    for name in ("opened", "escalated", "resolved"):
        frame = _sorted_alerts(activity[name])
        parts.append(f"<h3>{name.capitalize()} ({frame.height})</h3>{_alerts_table(frame, depth=0)}")
    sections.append(f"<section><h2>Alert activity on {data.last}</h2>{''.join(parts)}</section>")

    chain = (
        data.metrics.group_by("metric_date")
        .agg(pl.col("revenue").sum(), pl.col("order_count").sum())
        .sort("metric_date")
    )
    sections.append(f"<section>{_chart(chain_chart(chain), 'chain')}</section>")

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
        sections.append(
            f"<section><h2>Ranking of the week {week} to {week + timedelta(days=6)} by revenue (worst first)</h2>"
            '<input class="search" data-target="#ranking" placeholder="search a store (number or name)">'
            f'<div class="scroll" id="ranking"><table><tr><th class="num">rank</th><th>store</th>'
            "<th class='num'>revenue</th><th class='num'>vs peer median</th><th class='num'>percentile</th>"
            f"<th>grade today</th><th class='num'>open alerts</th></tr>{rows}</table></div></section>"
        )
        sections.append(_health_grid(data, stores))

    title = "Store anomaly report: executive summary"
    subtitle = _provenance(data, built_at, depth=0) + f" &middot; {stores.height} stores in scope"
    return _page(title, subtitle, "".join(sections))


def _health_grid(data: ReportData, stores: pl.DataFrame) -> str:
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
        "<tr><th>store</th><th>today</th>" + "".join(f"<th title='week of {w}'>{w:%m-%d}</th>" for w in weeks) + "</tr>"
    )
    rows = []
    for store in stores.iter_rows(named=True):
        tds = []
        for week in weeks:
            cell = cells.get((store["shop_no"], week))
            if cell is None or cell["grade"] is None:
                tds.append("<td></td>")
            else:
                tds.append(
                    f"<td style='background:{GRADE_COLOURS[cell['grade']]}' title='week of {week}: "
                    f"{cell['health_score']:.1f}'>{cell['grade']}</td>"
                )
        rows.append(
            f'<tr data-search="{_e(store["shop_no"]).lower()} {_e(store["shop_name"]).lower()}">'
            f'<td class="store"><a href="stores/{_e(store["shop_no"])}.html">{_e(store["shop_no"])}</a> '
            f"{_e(store['shop_name'])}</td><td>{_grade(store['grade'])}</td>{''.join(tds)}</tr>"
        )
    return (
        f"<section><h2>Health per store and week (weekly mean score as a grade; worst first)</h2>"
        '<input class="search" data-target="#health-grid" placeholder="search a store (number or name)">'
        f'<div class="scroll" id="health-grid"><table class="grid">{head}{"".join(rows)}</table></div></section>'
    )


def _control_series(data: ReportData) -> pl.DataFrame:
    """metric_date, shop_no, metric_name, value, center_line, ucl, lcl, anchor_value for every store and KPI."""
    values = data.metrics.select("metric_date", "shop_no", *KPI_COLUMNS).unpivot(
        index=["metric_date", "shop_no"], variable_name="metric_name", value_name="value"
    )
    return values.join(data.limits, on=["metric_date", "shop_no", "metric_name"], how="left").sort(
        "shop_no", "metric_name", "metric_date"
    )


def _episodes(alerts: pl.DataFrame, metric: str) -> pl.DataFrame:
    return alerts.filter(pl.col("metric_names").fill_null(pl.col("metric_name")).str.split(",").list.contains(metric))


def _by_store(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {key[0]: part for key, part in frame.partition_by("shop_no", as_dict=True).items()}


def store_page(
    store: dict,
    data: ReportData,
    built_at: datetime,
    *,
    series: pl.DataFrame,
    flags: pl.DataFrame,
    alerts: pl.DataFrame,
    health: pl.DataFrame,
    peers: pl.DataFrame,
    metrics: pl.DataFrame,
    charts: dict[str, str] | None = None,
) -> str:
    """stores/<shop_no>.html; `charts`, when given, receives the HTML of its headline KPIs' control charts (for
    the gallery)."""
    shop = store["shop_no"]
    open_alerts = alerts.filter(pl.col("status") == "open")
    kpis = (
        f"<div class='kpis'><div class='kpi'>health today<b>{_num(store['health_score'])} {_grade(store['grade'])}</b>"
        f"</div><div class='kpi'>open alerts<b>{open_alerts.height}</b></div>"
        f"<div class='kpi'>weakest KPI today<b>{_e(label(store['worst_metric']) if store['worst_metric'] else '-')}"
        "</b></div></div>"
    )
    sections = [
        f"<section>{kpis}</section>",
        f"<section><h2>Alert episodes</h2>{_alerts_table(_sorted_alerts(alerts), depth=1, with_store=False, full_text=True)}</section>",
    ]
    order = [*HEADLINE_KPIS, *(m for m in KPI_COLUMNS if m not in HEADLINE_KPIS)]
    control = []
    for metric in order:
        rows = series.filter(pl.col("metric_name") == metric)
        if rows.is_empty():
            continue
        figure = control_chart(rows, flags.filter(pl.col("metric_name") == metric), _episodes(alerts, metric), metric)
        control.append(_chart(figure, f"control-{metric}"))
        if charts is not None and metric in HEADLINE_KPIS:
            charts[metric] = _chart(figure, f"{shop}-{metric}", lazy=True)
    sections.append(
        "<section><h2>Control charts</h2><p class='muted'>Value, centre line (the expected value of the day, from "
        "earlier days only), the anchored reference when the limits hold one, WARNING limits, flagged days "
        "(colour: severity, symbol: rule) and alert episodes (shaded).</p>" + "".join(control) + "</section>"
    )
    sections.append(
        "<section class='cards2'>"
        f"<div>{_chart(health_chart(health.sort('metric_date')), 'health')}</div>"
        f"<div>{_chart(percentile_chart(peers, PEER_KPIS), 'percentile')}</div></section>"
    )
    totals = metrics.select(pl.col(c).sum() for c in metrics.columns if c.startswith("dq_")).row(0, named=True)
    breakdown = ", ".join(
        f"{name.removeprefix('dq_').replace('_', ' ')} {n:,}"
        for name, n in totals.items()
        if n and name != "dq_excluded_rows"
    )
    sections.append(
        f"<section>{_chart(excluded_rows_chart(metrics.sort('metric_date')), 'excluded')}"
        f"<p>{totals.get('dq_excluded_rows') or 0:,} source rows excluded in the window"
        f"{' (counters: ' + breakdown + ')' if breakdown else ''}.</p></section>"
    )
    title = f"{shop} {store['shop_name'] or ''}"
    return _page(title, _provenance(data, built_at, depth=1), "".join(sections), depth=1)


def spc_gallery(data: ReportData, built_at: datetime, stores: pl.DataFrame, charts: dict[str, dict[str, str]]) -> str:
    """spc.html: the headline KPIs' control charts of the stores in `charts` (the worst ones), worst first, drawn
    when scrolled near; every other store as a table row (grade, open alerts, link to its page)."""
    cards, rows = [], []
    for store in stores.iter_rows(named=True):
        shop = store["shop_no"]
        search = f"{_e(shop).lower()} {_e(store['shop_name']).lower()}"
        link = f'<a href="stores/{_e(shop)}.html">{_e(shop)} {_e(store["shop_name"])}</a>'
        if shop in charts:
            cards.append(
                f'<div class="card" data-search="{search}"><h2>{link} {_grade(store["grade"])} '
                f"<span class='muted'>{store['open_alerts']} open alerts</span></h2><div class='cards2'>"
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
        others = (
            f"<h2>The other {len(rows)} stores, worst first (charts on each store's page)</h2>"
            "<div class='scroll'><table id='gallery-others'><tr><th>store</th><th>grade today</th>"
            f"<th class='num'>health today</th><th class='num'>open alerts</th></tr>{''.join(rows)}</table></div>"
        )
    body = (
        "<section><input class='search' data-target='#gallery' placeholder='search a store (number or name)'>"
        f"<div id='gallery'>{''.join(cards)}{others}</div></section>"
    )
    title = f"SPC control charts of the {len(cards)} worst stores" if rows else "SPC control charts, worst store first"
    return _page(title, _provenance(data, built_at, depth=0), body)


def build_pages(
    data: ReportData,
    built_at: datetime,
    *,
    resolve_after_quiet_days: int = 7,
    gallery_stores: int = GALLERY_STORES,
) -> dict[str, str]:
    """Every page of the reports by its relative path; the gallery charts the worst `gallery_stores` stores."""
    stores = store_order(data)
    alerts = with_headlines(data.alerts).join(
        data.stores.select("shop_no", pl.col("shop_name").alias("store_name")), on="shop_no", how="left"
    )
    parts = {
        "series": _by_store(_control_series(data)),
        "flags": _by_store(data.flags),
        "alerts": _by_store(alerts),
        "health": _by_store(data.health),
        "peers": _by_store(data.peers),
        "metrics": _by_store(data.metrics),
    }
    empty = {
        "series": _control_series(data).head(0),
        "flags": data.flags.head(0),
        "alerts": alerts.head(0),
        "health": data.health.head(0),
        "peers": data.peers.head(0),
        "metrics": data.metrics.head(0),
    }
    pages = {"index.html": executive_summary(data, built_at, resolve_after_quiet_days=resolve_after_quiet_days)}
    gallery_charts: dict[str, dict[str, str]] = {}
    for position, store in enumerate(stores.iter_rows(named=True)):
        shop = store["shop_no"]
        if position < gallery_stores:
            gallery_charts[shop] = {}
        pages[f"stores/{shop}.html"] = store_page(
            store,
            data,
            built_at,
            charts=gallery_charts.get(shop),
            **{name: parts[name].get(shop, empty[name]) for name in parts},
        )
    pages["spc.html"] = spc_gallery(data, built_at, stores, gallery_charts)
    return pages
