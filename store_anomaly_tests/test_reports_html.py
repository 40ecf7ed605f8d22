"""The HTML reports, built from a generated warehouse and opened in headless Chromium.

A demo chain of 4 stores (the flagship US00001 slides from October 2025) is generated and backfilled once for
the module; the reports are written to a temporary folder and each page is loaded in the real browser: no
console error, the chart elements exist and hold one point per business date, flagged days are marked with
one point per flag, alert episodes are shaded. Screenshots go to the test's temporary folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from store_anomaly.alerts.listing import headline
from store_anomaly.kpis.checks import KPI_CHECKS
from store_anomaly.mysql import MySQLUrl
from store_anomaly.partitions import PER_DAY_CHECK_RESULTS_MAX_DAYS
from store_anomaly.reports import data as report_data_module
from store_anomaly.reports import pages
from store_anomaly.reports.assets import report_window_cache
from store_anomaly.reports.charts import EveryDay, JSONArray
from store_anomaly.reports.data import REPORT_WINDOW_DAYS, WINDOW_TABLES, load_report_data
from store_anomaly.reports.pages import HEADLINE_KPIS
from store_anomaly.reports.site import write_pages
from store_anomaly.reports.window_cache import MAX_REREAD_DAYS, ReportWindowCache
from store_anomaly.resources import Warehouse
from store_anomaly.runner import run_backfill
from store_anomaly.settings import SOURCE_ENV_VARS
from store_anomaly.sources.demo_data import generate_demo_sources
from store_anomaly.texts import texts_for
from store_anomaly_tests.bilingual import is_chinese, numbers
from store_anomaly_tests.browser import open_browser
from store_anomaly_tests.databases import FreshDatabases, export_platform
from store_anomaly_tests.test_webserver import graphql, serving

# One worker builds this module's shared fixture once (`make test` runs the suite on two workers).
pytestmark = [pytest.mark.mysql, pytest.mark.webserver, pytest.mark.xdist_group("test_reports_html")]

START, END = date(2025, 8, 1), date(2025, 11, 16)
FLAGSHIP = "US00001"


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    """A backfilled demo warehouse of 4 stores over START..END: (warehouse url, report data)."""
    databases = FreshDatabases()
    with pytest.MonkeyPatch.context() as patch:
        try:
            urls = databases.create_platform()
            export_platform(urls, patch)
            patch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))
            patch.setenv("STORE_ANOMALY_REPORTS_DIR", str(tmp_path_factory.mktemp("run_reports") / "reports"))
            generate_demo_sources({s: urls[s] for s in SOURCE_ENV_VARS}, start=START, end=END, stores=4, seed=42)
            with DagsterInstance.get() as instance:
                result = run_backfill(START, END, instance=instance)
            yield urls["warehouse"], result
        finally:
            databases.drop_all()


@pytest.fixture(scope="module")
def report_data(demo_warehouse):
    with MySQLUrl.parse(demo_warehouse[0]).connect() as connection:
        return load_report_data(connection)


@pytest.fixture(scope="module")
def site(report_data, tmp_path_factory):
    return write_pages(report_data, tmp_path_factory.mktemp("reports") / "reports", language="en")


@pytest.fixture(scope="module")
def browser():
    with open_browser() as opened:
        yield opened


def load(browser, path: Path, screenshot: Path | None = None):
    """Opens a page; returns (page, console errors)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    page.goto(path.as_uri())
    page.wait_for_function("() => document.querySelectorAll('.chart .main-svg').length > 0")
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    return page, errors


def traces(page, chart_id: str) -> dict[str, dict]:
    """name -> {points, shapes} of a drawn chart's traces (from plotly's own graph div)."""
    return page.evaluate(
        """id => { const gd = document.getElementById(id); const out = {};
                   gd.data.forEach(t => out[t.name] = {points: t.y.length});
                   out.__shapes = {points: (gd.layout.shapes || []).length}; return out; }""",
        chart_id,
    )


def test_the_reports_folder_holds_every_page_privately_and_plotly_once(site, report_data):
    assert site.index.exists() and site.spc.exists()
    assert set(site.stores) == set(report_data.stores["shop_no"]) == {"US00001", "US00002", "US00003", "US00004"}
    assert (site.directory / "plotly.min.js").stat().st_size > 1_000_000
    for page in [site.index, site.spc, *site.stores.values()]:
        text = page.read_text()
        assert "plotly.min.js" in text and "cdn" not in text.lower() and "https://" not in text
        assert f"business dates {report_data.first} to {END}" in text
        assert stat.S_IMODE(page.stat().st_mode) & 0o007 == 0
    assert stat.S_IMODE(site.directory.stat().st_mode) & 0o007 == 0
    # the window is bounded: 13 months at most, whatever the history
    assert report_data.first == START and (END - report_data.first).days < 396


def test_daily_traces_are_drawn_on_their_days_whether_written_as_a_first_day_or_as_dates(
    report_data, browser, tmp_path
):
    # a KPI with every day in the window is written as plotly's x0 + dx (its dates once, not in each of its
    # traces); one with a day missing lists its dates. Either way plotly draws each value on its own day.
    gap_day = report_data.last - timedelta(days=10)
    metrics = report_data.metrics.filter(~((pl.col("shop_no") == "US00002") & (pl.col("metric_date") == gap_day)))
    data = dataclasses.replace(report_data, metrics=metrics)
    series = pages.store_series(data, data.stores["shop_no"])
    expected = {
        shop: [day.isoformat() for day in metrics.filter(pl.col("shop_no") == shop)["metric_date"].sort()]
        for shop in ("US00001", "US00002")
    }
    assert series["US00001"].control["revenue"]["metric_date"] == EveryDay(date.fromisoformat(expected["US00001"][0]))
    listed = series["US00002"].control["revenue"]["metric_date"]
    assert isinstance(listed, JSONArray) and gap_day.isoformat() not in listed.text
    site = write_pages(data, tmp_path / "reports", language="en")
    for shop, days in expected.items():
        page, errors = load(browser, site.stores[shop])
        drawn = page.evaluate(
            """() => { const gd = document.getElementById('chart-control-revenue');
                       const value = gd.calcdata.find(trace => trace[0].trace.name === 'value');
                       return value.map(point => new Date(point.x).toISOString().slice(0, 10)); }"""
        )
        page.close()
        assert drawn == days and not errors, shop


def test_pages_built_a_store_at_a_time_equal_pages_built_with_every_store_at_once(report_data, monkeypatch):
    # the control series is joined per chunk of stores (bounded memory): the chunking changes no byte
    built_at = datetime(2025, 11, 17, 6, 0, tzinfo=UTC)
    monkeypatch.setattr(pages, "SERIES_CHUNK_STORES", 1_000_000)
    whole = pages.build_pages(report_data, built_at)
    monkeypatch.setattr(pages, "SERIES_CHUNK_STORES", 1)
    assert pages.build_pages(report_data, built_at) == whole
    assert len(whole) == 2 + report_data.stores.height


def test_the_limits_read_in_concurrent_date_ranges_equal_one_read(demo_warehouse, report_data, monkeypatch):
    # more parts than days included: an empty range is never read, no day is read twice or left out
    key = ["metric_date", "shop_no", "metric_name"]
    with MySQLUrl.parse(demo_warehouse[0]).connect() as connection:
        for window_days, parts in ((10, 30), (10, 3), (REPORT_WINDOW_DAYS, 7)):
            monkeypatch.setattr(report_data_module, "LIMITS_READ_PARTS", 1)
            whole = load_report_data(connection, window_days).limits.sort(key)
            monkeypatch.setattr(report_data_module, "LIMITS_READ_PARTS", parts)
            assert load_report_data(connection, window_days).limits.sort(key).equals(whole)
            assert whole.height > 0
    assert report_data.limits.sort(key).equals(whole)


def test_the_limits_and_anchors_read_from_the_chart_index_equal_those_read_from_the_rows(
    demo_warehouse, report_data, monkeypatch
):
    # the SPC asset's output declares the index and the IO manager created it with the table; without it (a
    # warehouse the SPC asset has not written since) the same rows are read from the table's rows
    from store_anomaly.alerts import state as alert_state
    from store_anomaly.alerts.state import anchored_references
    from store_anomaly.mysql import index_names
    from store_anomaly.spc import LIMITS_CHART_INDEX

    key = ["metric_date", "shop_no", "metric_name"]
    with MySQLUrl.parse(demo_warehouse[0]).connect() as connection:
        with connection.cursor() as cursor:
            assert LIMITS_CHART_INDEX[0] in index_names(cursor, "store_spc_control_limits")
        anchors_from_index = anchored_references(connection).sort(key)
        monkeypatch.setattr(report_data_module, "LIMITS_CHART_INDEX", ("not_created", LIMITS_CHART_INDEX[1]))
        monkeypatch.setattr(alert_state, "LIMITS_CHART_INDEX", ("not_created", LIMITS_CHART_INDEX[1]))
        from_rows = load_report_data(connection).limits.sort(key)
        anchors_from_rows = anchored_references(connection).sort(key)
    assert from_rows.height > 0
    assert report_data.limits.sort(key).equals(from_rows)
    # the alerts' sizing reads the anchored rows through the same index
    assert anchors_from_rows.height > 0
    assert anchors_from_index.equals(anchors_from_rows)


def test_the_flagship_page_shows_each_kpi_chart_with_its_points_flags_and_episodes(
    site, report_data, browser, tmp_path
):
    page, errors = load(browser, site.stores[FLAGSHIP], tmp_path / "flagship.png")
    assert errors == []
    days = report_data.metrics.filter(pl.col("shop_no") == FLAGSHIP).height
    assert days == (END - START).days + 1
    flagged = report_data.flags.filter((pl.col("shop_no") == FLAGSHIP) & (pl.col("severity") != "INFO"))
    assert flagged.height > 0, "the demo flagship's slide is flagged"
    metric = flagged.group_by("metric_name").len().sort("len", descending=True)["metric_name"][0]
    chart = traces(page, f"chart-control-{metric}")
    assert chart["value"]["points"] == days
    assert chart["centre line"]["points"] == days
    assert chart["WARNING limit (upper)"]["points"] == days and chart["WARNING limit (lower)"]["points"] == days
    flags = report_data.flags.filter((pl.col("shop_no") == FLAGSHIP) & (pl.col("metric_name") == metric))
    marked = sum(t["points"] for name, t in chart.items() if name.startswith("flag "))
    assert marked == flags.height
    for (severity, rule), group in flags.group_by(["severity", "rule"]):
        assert chart[f"flag {severity} {rule}"]["points"] == group.height
    alerts = report_data.alerts.filter(
        (pl.col("shop_no") == FLAGSHIP) & pl.col("metric_names").str.split(",").list.contains(metric)
    )
    assert alerts.height >= 1 and chart["__shapes"]["points"] >= alerts.height
    assert alerts["alert_id"][0] in page.inner_text("body")
    for chart in ("chart-health", "chart-percentile", "chart-excluded"):
        assert page.locator(f"#{chart} .main-svg").count() > 0
    assert (
        traces(page, "chart-health")["health score"]["points"]
        == report_data.health.filter(pl.col("shop_no") == FLAGSHIP).height
    )
    page.close()


def test_the_reports_in_chinese(report_data, browser, tmp_path, monkeypatch):
    zh = texts_for("zh")
    monkeypatch.setenv("STORE_ANOMALY_LANGUAGE", "zh")
    site = write_pages(report_data, tmp_path / "reports")  # the language from the setting
    assert site.language == "zh" and is_chinese(site.headline)
    html = site.stores[FLAGSHIP].read_text()
    assert '<html lang="zh-CN">' in html
    for key in ("report.store.episodes", "report.store.control_charts", "report.store.health_today"):
        assert zh(key) in html
    assert "Alert episodes" not in html and "Control charts" not in html and "health today" not in html
    index = site.index.read_text()
    assert zh("report.summary.title") in index and zh("report.summary.open_alerts") in index
    assert "executive summary" not in index and "Open alerts" not in index

    page, errors = load(browser, site.stores[FLAGSHIP], tmp_path / "flagship-zh.png")
    assert errors == []
    days = report_data.metrics.filter(pl.col("shop_no") == FLAGSHIP).height
    chart = traces(page, "chart-control-revenue")
    assert chart[zh("report.trace.value")]["points"] == days
    assert chart[zh("report.trace.centre_line")]["points"] == days
    assert chart[zh("report.trace.anchored_reference")]["points"] == days
    body = page.inner_text("body")
    # the flagship's alerts in Chinese, with the numbers of their English text
    alerts = report_data.alerts.filter(pl.col("shop_no") == FLAGSHIP)
    assert alerts.height
    for alert in alerts.iter_rows(named=True):
        first_zh = headline(alert["description_zh"], alert["shop_name"])
        first_en = headline(alert["description"], alert["shop_name"])
        assert first_zh in body and numbers(first_zh) == numbers(first_en)
    assert "营业额" in body and "告警事件" in body
    page.close()
    monkeypatch.setenv("STORE_ANOMALY_LANGUAGE", "fr")
    with pytest.raises(ValueError, match="STORE_ANOMALY_LANGUAGE='fr'"):
        write_pages(report_data, tmp_path / "other")


def test_the_executive_summary_names_the_flagship_first_and_filters_stores(site, report_data, browser, tmp_path):
    page, errors = load(browser, site.index, tmp_path / "index.png")
    assert errors == []
    body = page.inner_text("body")
    assert "open alert" in body and FLAGSHIP in body
    chain = traces(page, "chart-chain")
    assert chain["revenue"]["points"] == (END - START).days + 1 == chain["orders"]["points"]
    grid_rows = page.locator("#health-grid tr[data-search]")
    assert grid_rows.count() == 4
    assert grid_rows.first.inner_text().startswith(FLAGSHIP), "worst store first"
    page.fill("input[data-target='#health-grid']", "US00003")
    visible = [row for row in grid_rows.all() if row.is_visible()]
    assert len(visible) == 1 and visible[0].inner_text().startswith("US00003")
    monday = END - timedelta(days=END.weekday())
    assert f"Ranking of the week {monday if END.weekday() == 6 else monday - timedelta(days=7)}" in body
    page.close()


def test_the_gallery_draws_charts_as_they_scroll_into_view(site, browser):
    page, errors = load(browser, site.spc)
    assert errors == []
    assert page.locator(".card").count() == 4
    page.locator(".card").last.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelectorAll('.chart[data-drawn] .main-svg').length >= 8")
    assert page.locator(".card").first.inner_text().startswith(FLAGSHIP)
    page.close()


def test_past_its_chart_count_the_gallery_lists_the_other_stores_as_searchable_rows(report_data, browser, tmp_path):
    site = write_pages(report_data, tmp_path / "reports", gallery_stores=2)
    text = site.spc.read_text()
    for shop in site.stores:
        assert f'href="stores/{shop}.html"' in text
    page, errors = load(browser, site.spc)
    assert errors == []
    assert page.locator(".card").count() == 2
    assert page.locator("#gallery .chart").count() == 2 * len(HEADLINE_KPIS)
    assert page.locator(".card").first.inner_text().startswith(FLAGSHIP), "worst store first"
    rows = page.locator("#gallery-others tr[data-search]")
    assert rows.count() == len(site.stores) - 2
    charted = {page.locator(".card h2 a").nth(i).inner_text().split()[0] for i in range(2)}
    listed = {rows.nth(i).locator("a").inner_text().split()[0] for i in range(rows.count())}
    assert charted | listed == set(site.stores) and not charted & listed
    shop = min(listed)
    page.fill("input[data-target='#gallery']", shop)
    visible = [row for row in rows.all() if row.is_visible()]
    assert len(visible) == 1 and visible[0].inner_text().startswith(shop)
    assert not any(card.is_visible() for card in page.locator(".card").all())
    page.close()


def test_report_assets_write_into_the_configured_folder_with_paths_in_metadata(demo_warehouse):
    materializations = {
        event.asset_key.to_user_string(): event.event_specific_data.materialization
        for event in demo_warehouse[1].get_asset_materialization_events()
    }
    summary = materializations["report_executive_summary"].metadata
    assert summary["path"].value.endswith("reports/index.html") and Path(summary["path"].value).exists()
    assert summary["url"].value.startswith("file://")
    assert "open alert" in summary["headline"].value
    pages = materializations["report_store_pages"].metadata
    assert pages["pages"].value == 4
    assert materializations["report_spc_gallery"].metadata["path"].value.endswith("spc.html")


def test_a_range_run_records_each_day_its_own_metrics_and_its_check_results(demo_warehouse):
    result = demo_warehouse[1]
    days = {(START + timedelta(days=n)).isoformat() for n in range((END - START).days + 1)}
    metrics = [
        event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
        if event.asset_key.to_user_string() == "store_daily_metrics"
    ]
    assert {m.partition for m in metrics} == days
    one_day = next(m for m in metrics if m.partition == "2025-10-01").metadata
    assert one_day["stores"].value == 4 and one_day["orders"].value < 5_000  # one day's, not the range's
    evaluations = [
        e for e in result.get_asset_check_evaluations() if e.asset_key.to_user_string() == "store_daily_metrics"
    ]
    by_check: dict[str, set[str]] = {}
    for evaluation in evaluations:
        by_check.setdefault(evaluation.check_name, set()).add(evaluation.partition)
    assert len(by_check) == len(KPI_CHECKS)
    # a passed verdict over a range longer than PER_DAY_CHECK_RESULTS_MAX_DAYS is recorded on its last day
    assert len(days) > PER_DAY_CHECK_RESULTS_MAX_DAYS
    for evaluation in evaluations:
        assert evaluation.metadata["checked_range"].value == f"{START} .. {END}"
        assert by_check[evaluation.check_name] == ({END.isoformat()} if evaluation.passed else days)


LATEST_METADATA = """
{
  checks: assetNodes(assetKeys: [{path: ["store_daily_metrics"]}]) {
    assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } }
  }
  assetNodes(assetKeys: [{path: ["store_anomaly_alerts"]}, {path: ["report_executive_summary"]}]) {
    assetKey { path }
    assetMaterializations(limit: 1) {
      metadataEntries {
        label
        ... on MarkdownMetadataEntry { mdStr }
        ... on PathMetadataEntry { path }
        ... on UrlMetadataEntry { url }
      }
    }
  }
}
"""


def test_the_ui_shows_the_open_alerts_table_and_the_report_paths(demo_warehouse, report_data):
    with serving() as port:
        answer = graphql(port, LATEST_METADATA)
    nodes = {node["assetKey"]["path"][-1]: node for node in answer["assetNodes"]}
    # the lineage's check status of the range backfill: every check it ran passed (not "0 / 5 passed");
    # data_is_current runs with the hourly source observation, not with materializations
    kpi_check_names = {check.name for spec in KPI_CHECKS for check in spec.check_specs}
    checks = [c for c in answer["checks"][0]["assetChecksOrError"]["checks"] if c["name"] in kpi_check_names]
    assert len(checks) == len(KPI_CHECKS)
    assert {c["name"]: c["executionForLatestMaterialization"]["status"] for c in checks} == {
        c["name"]: "SUCCEEDED" for c in checks
    }
    alerts = {e["label"]: e for e in nodes["store_anomaly_alerts"]["assetMaterializations"][0]["metadataEntries"]}
    table = alerts["open_alerts"]["mdStr"]
    assert table.startswith("| store | KPI | severity | since | headline | alert |")
    open_ids = report_data.alerts.filter(pl.col("status") == "open")["alert_id"].to_list()
    assert open_ids and all(alert_id in table for alert_id in open_ids)
    assert alerts["report"]["url"].endswith("/index.html")
    summary = {e["label"]: e for e in nodes["report_executive_summary"]["assetMaterializations"][0]["metadataEntries"]}
    assert summary["path"]["path"].endswith("index.html") and summary["url"]["url"].startswith("file://")


def cli(*args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "store-anomaly"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=os.environ.copy(), check=False)


def test_the_cli_shows_an_alert_in_full_and_builds_the_reports(demo_warehouse, report_data, tmp_path):
    alert = report_data.alerts.filter(pl.col("shop_no") == FLAGSHIP).sort("opened_on").row(0, named=True)
    acked = cli("ack", alert["alert_id"], "--by", "maria", "--label", "confirmed", "--note", "office crowd moved")
    assert acked.returncode == 0, acked.stderr
    shown = cli("alerts", "show", alert["alert_id"])
    assert shown.returncode == 0, shown.stderr
    for part in ("What happened", "What to do", "Acknowledgements", "maria", "confirmed", "office crowd moved"):
        assert part in shown.stdout
    assert alert["description"].split(". ")[0] in shown.stdout.replace("\n  ", " ")
    missing = cli("alerts", "show", "A-0000000000")
    assert missing.returncode == 1 and "no alert" in missing.stderr

    feedback = cli("rule-feedback")
    assert feedback.returncode == 0 and "shape:" not in feedback.stdout and "RULE" in feedback.stdout.splitlines()[0]

    built = cli("report", "--dir", str(tmp_path / "out"))
    assert built.returncode == 0, built.stderr
    assert str(tmp_path / "out" / "index.html") in built.stdout and "open alert" in built.stdout
    assert (tmp_path / "out" / "stores" / f"{FLAGSHIP}.html").exists()

    summary = cli("summary")
    alerting = next(line for line in summary.stdout.splitlines() if "stores alerting now:" in line)
    assert FLAGSHIP in alerting and "store-anomaly alerts show" in summary.stdout

    # A new-normal acknowledgement of an alert that ended before the latest day: the re-scoring it suggests runs
    # to the latest stored day, whose baselines read the days it restarts
    ended = report_data.alerts.filter(pl.col("last_seen_on") < report_data.last).sort("last_seen_on").row(0, named=True)
    renormed = cli("ack", ended["alert_id"], "--by", "maria", "--label", "new-normal")
    assert renormed.returncode == 0, renormed.stderr
    assert renormed.stdout.rstrip().endswith(f"--end {report_data.last}"), renormed.stdout


def _same_window(a, b) -> bool:
    return all(getattr(a, name).equals(getattr(b, name)) for name in WINDOW_TABLES) and (a.first, a.last) == (
        b.first,
        b.last,
    )


def test_the_window_read_through_the_cache_equals_a_read_of_the_whole_window(demo_warehouse, tmp_path):
    # what a build keeps from the previous one and what it reads again make the rows of a whole read, in its order
    built_at = datetime(2025, 11, 17, 6, 0, tzinfo=UTC)
    identity = MySQLUrl.parse(demo_warehouse[0]).redacted()
    mid_week = date(2025, 9, 29)  # a Monday: a week's peer rows start on it
    with MySQLUrl.parse(demo_warehouse[0]).connect() as connection:
        whole = load_report_data(connection)
        first_build = ReportWindowCache.open(tmp_path, identity)
        first_build.marker = 1
        assert _same_window(load_report_data(connection, cache=first_build), whole)
        assert first_build.reread is None and list(tmp_path.glob("limits.2025-11.*.arrow"))

        def build(changed: set[date]) -> tuple[ReportWindowCache, object]:
            cache = ReportWindowCache.open(tmp_path, identity)
            cache.changed, cache.marker = {name: set(changed) for name in WINDOW_TABLES}, cache.built_through + 1
            return cache, load_report_data(connection, cache=cache)

        # days changed in the middle of the window and at its end: read again, the rest kept
        cache, kept = build({mid_week, mid_week + timedelta(days=2), END})
        assert cache.reread["limits"] == {mid_week, mid_week + timedelta(days=2), END}
        assert _same_window(kept, whole)
        assert pages.build_pages(kept, built_at) == pages.build_pages(whole, built_at)

        # the kept rows are the cache's: a file holding other values is read as it is, until its days change
        (limits_file,) = tmp_path.glob("limits.2025-10.*.arrow")
        tampered = pl.read_ipc(limits_file).with_columns(pl.col("center_line") + 1.0)
        tampered.write_ipc(limits_file, compression="lz4")
        assert not build(set())[1].limits.equals(whole.limits)
        october = {date(2025, 10, 1) + timedelta(days=n) for n in range(31)}
        cache, reread = build(october)
        assert cache.reread["limits"] == october and _same_window(reread, whole)
        assert _same_window(build(set())[1], whole)  # the month was rewritten from the days read

        # a cache it cannot use is read past: another warehouse's, a missing file, more days than a partial read
        other = ReportWindowCache.open(tmp_path, "mysql://elsewhere/warehouse")
        other.changed = {}  # (no marker: nothing saved over this warehouse's files)
        assert other.manifest is None and _same_window(load_report_data(connection, cache=other), whole)
        next(tmp_path.glob("metrics.2025-09.*.arrow")).unlink()
        cache, missing_file = build(set())
        assert cache.reread is None and _same_window(missing_file, whole)
        cache, most_days = build({START + timedelta(days=n) for n in range(MAX_REREAD_DAYS + 1)})
        assert cache.reread is None and _same_window(most_days, whole)


def test_the_report_asset_reads_again_only_the_days_materialized_since_its_last_build(demo_warehouse):
    # the module's backfill built the reports (and the cache, in the instance's storage); a run of the last day
    # re-materializes its partitions: the next build reads those days (the week's peers by its Monday) again
    with DagsterInstance.get() as instance:
        result = run_backfill(END, END, instance=instance)
    materializations = {
        event.asset_key.to_user_string(): event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
    }
    window_read = materializations["report_store_pages"].metadata["window_read"].value
    assert window_read == f"{END - timedelta(days=6)}, {END} from the warehouse, the rest from the previous build"
    assert materializations["report_store_pages"].metadata["pages"].value == 4
    # nothing materialized since: nothing to read again; a cache whose build the instance does not hold (a wiped or
    # replaced instance) is not told what changed, so the whole window is read
    warehouse = Warehouse.from_env()
    with DagsterInstance.get() as instance:
        cache = report_window_cache(instance, warehouse, "next-run")
        assert cache.changed == {name: set() for name in WINDOW_TABLES}
        manifest = json.loads((cache.folder / "window.json").read_text())
        (cache.folder / "window.json").write_text(json.dumps({**manifest, "builder": "a run of another instance"}))
        assert report_window_cache(instance, warehouse, "next-run").changed is None
