"""The store pages' chart series written as JSON by polars: the same text json.dumps writes, the same pages.

The pages' arrays are written for a chunk of stores at once (`charts.json_arrays`) and spliced into each figure's
JSON (`charts.figure_json`); what a person sees must not change: every value as json.dumps writes it (NaN and
null as null, 3 decimals, exponents from 1e16 on), each chart's points those of its store and KPI, in date order.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from store_anomaly.alerts.config import ALERT_SCHEMA
from store_anomaly.kpis.catalog import KPI_COLUMNS
from store_anomaly.reports import pages, site
from store_anomaly.reports.charts import JSONArray, _lists, figure_json, flag_traces, json_arrays
from store_anomaly.reports.data import ReportData

AWKWARD_FLOATS = [
    0.0, -0.0, 1.0, -1.5, 0.001, 0.0004, -0.0004, 0.1, 0.30000000000000004, 123.4565, 2.675, 1e15,
    1234567890123456.7, 9999999999999998.0, 1e16, 2.5e17, -3.1e21, 1e-5, float("nan"), None,
]  # fmt: skip


def test_json_arrays_write_each_group_as_json_dumps_writes_its_list():
    n = len(AWKWARD_FLOATS)
    frame = pl.DataFrame(
        {
            "shop_no": ["B", "A"] * (n // 2),
            "metric_date": [date(2025, 1, 1) + timedelta(days=i) if i % 7 else None for i in range(n)],
            "value": AWKWARD_FLOATS,
            "count": [i if i % 5 else None for i in range(n)],
        },
        schema_overrides={"value": pl.Float64, "count": pl.Int64},
    )
    written = json_arrays(frame, ("shop_no",), ("value", "count"), dates=("metric_date",))
    assert written["shop_no"].to_list() == ["B", "A"]  # groups in order of first appearance
    for row in written.iter_rows(named=True):
        group = frame.filter(pl.col("shop_no") == row["shop_no"])
        expected = _lists(group, "value", "count", dates=("metric_date",))
        for column in ("metric_date", "value", "count"):
            assert row[column] == json.dumps(expected[column], separators=(",", ":"), allow_nan=False)


def test_an_infinite_value_is_refused_naming_its_group_as_json_dumps_refuses_it():
    frame = pl.DataFrame({"shop_no": ["A", "B"], "value": [1.0, float("inf")]})
    with pytest.raises(ValueError, match="'shop_no': 'B'"):
        json_arrays(frame, ("shop_no",), ("value",))


def test_figure_json_splices_arrays_and_leaves_lookalike_texts_alone():
    figure = {
        "data": [{"x": JSONArray('["2025-01-01"]'), "y": JSONArray("[1.5,null]"), "name": "\x000", "text": ["a</b"]}],
        "layout": {"title": {"text": "中文"}, "shapes": [], "day": date(2025, 1, 2)},
    }
    plain = {
        "data": [{"x": ["2025-01-01"], "y": [1.5, None], "name": "\x000", "text": ["a</b"]}],
        "layout": {"title": {"text": "中文"}, "shapes": [], "day": date(2025, 1, 2)},
    }
    assert figure_json(figure) == json.dumps(plain, separators=(",", ":"), allow_nan=False, default=str)


def test_flag_traces_group_by_severity_and_rule_in_order_of_their_first_flag():
    day = date(2025, 3, 1)
    flags = pl.DataFrame(
        {
            "metric_date": [day + timedelta(days=2), day, day, day + timedelta(days=1)],
            "rule": ["trend", "spike", "level_shift", "spike"],
            "severity": ["INFO", "WARNING", "CRITICAL", "WARNING"],
            "observed_value": [1.0, 2.0, 3.0, float("nan")],
            "detail": [None, "above", "", "again"],
        }
    )
    traces = flag_traces(flags)
    # the two flags of the first day keep their rows' order
    assert traces.select("severity", "rule").rows() == [
        ("WARNING", "spike"),
        ("CRITICAL", "level_shift"),
        ("INFO", "trend"),
    ]
    spike = traces.row(0, named=True)
    assert spike["metric_date"] == '["2025-03-01","2025-03-02"]' and spike["observed_value"] == "[2.0,null]"
    assert spike["texts"] == ["WARNING spike: above", "WARNING spike: again"]
    assert traces.row(2, named=True)["texts"] == ["INFO trend: "]


def _report_data() -> ReportData:
    """Three stores x 40 days: a missing value, a NaN, a day without limits, an anchored store, flags of two
    rules on one day, one store's days starting late, one store without a row on 2025-10-26, an open alert."""
    first, last = date(2025, 10, 1), date(2025, 11, 9)
    rows = []
    for s, shop in enumerate(("US00001", "US00002", "US00003")):
        for i in range((last - first).days + 1):
            if (shop == "US00003" and i < 10) or (shop == "US00001" and i == 25):
                continue
            row = {"metric_date": first + timedelta(days=i), "shop_no": shop, "shop_name": f"Store {s}"}
            row |= {kpi: 100.0 + 10 * s + i + k / 3 for k, kpi in enumerate(KPI_COLUMNS)}
            row |= {"dq_excluded_rows": i % 3, "dq_refunds": i % 2}
            rows.append(row)
    metrics = pl.DataFrame(rows).with_columns(
        pl.when(pl.col("metric_date") == date(2025, 10, 5)).then(None).otherwise(pl.col("revenue")).alias("revenue"),
        pl.when(pl.col("metric_date") == date(2025, 10, 6)).then(float("nan")).otherwise("aov").alias("aov"),
    )
    limits = (
        metrics.select("metric_date", "shop_no", *KPI_COLUMNS)
        .unpivot(index=["metric_date", "shop_no"], variable_name="metric_name", value_name="center_line")
        .filter(pl.col("metric_date") != date(2025, 10, 20))
        .with_columns(
            (pl.col("center_line") * 1.2).alias("ucl"),
            (pl.col("center_line") * 0.8).alias("lcl"),
            pl.when(pl.col("shop_no") == "US00002").then(pl.col("center_line") + 1).alias("anchor_value"),
        )
    )
    flagged = date(2025, 10, 30)
    flags = pl.DataFrame(
        {
            "metric_date": [flagged, flagged, date(2025, 10, 12)],
            "shop_no": ["US00001"] * 3,
            "metric_name": ["revenue"] * 3,
            "rule": ["spike", "level_shift", "spike"],
            "severity": ["WARNING", "CRITICAL", "WARNING"],
            "observed_value": [140.12345, 140.12345, 121.0],
            "detail": ["up", None, "up"],
        }
    )
    health = metrics.select(
        "metric_date", "shop_no", (50 + pl.col("order_count") / 7).alias("health_score"), pl.lit("C").alias("grade"),
        pl.lit("revenue").alias("worst_metric"),
    )  # fmt: skip
    weeks = health.filter(pl.col("metric_date").dt.weekday() == 1).select(
        pl.col("metric_date").alias("week_start"), "shop_no"
    )
    peers = pl.concat(
        weeks.with_columns(
            pl.lit(metric).alias("metric_name"), pl.lit(10.0).alias("value"), pl.lit(1, pl.Int64).alias("rank"),
            pl.lit(33.3333).alias("percentile"), pl.lit(2.5).alias("vs_median_pct"),
        )
        for metric in ("revenue", "aov")
    )  # fmt: skip
    alert = {
        "alert_id": "A-1", "shop_no": "US00001", "metric_name": "revenue", "severity": "CRITICAL",
        "first_severity": "WARNING", "opened_on": flagged, "last_seen_on": last, "status": "open",
        "description": "Revenue is 18% above its baseline. More.", "metric_names": "revenue,order_count",
    }  # fmt: skip
    alerts = pl.DataFrame([alert]).select(
        pl.col(c).cast(t) if c in alert else pl.lit(None, t).alias(c) for c, t in ALERT_SCHEMA.items()
    )
    return ReportData(first, last, metrics, limits, flags, health, peers, alerts)


def _spec(page: str, chart: str) -> dict:
    found = re.search(f'<script type="application/json" id="spec-{chart}">(.*?)</script>', page)
    return json.loads(found[1].replace("<\\/", "</"))


def _days(trace: dict) -> list[str]:
    """The dates a trace draws its values on: its `x`, or its first day `x0` and a step `dx` of whole days."""
    if "x" in trace:
        return trace["x"]
    first, step = date.fromisoformat(trace["x0"]), timedelta(milliseconds=trace["dx"])
    assert step == timedelta(days=1)
    return [(first + n * step).isoformat() for n in range(len(trace["y"]))]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_each_chart_shows_its_store_and_kpi_values_in_date_order(language):
    data = _report_data()
    built = pages.build_pages(data, datetime(2025, 11, 10, 6, 0, tzinfo=UTC), language=language)
    assert len(built) == 5
    for shop in ("US00001", "US00002", "US00003"):
        page = built[f"stores/{shop}.html"]
        store = data.metrics.filter(pl.col("shop_no") == shop).sort("metric_date")
        days = store["metric_date"].dt.to_string("%Y-%m-%d").to_list()
        for metric in KPI_COLUMNS:
            traces = _spec(page, f"control-{metric}")["data"]
            values = store[metric].fill_nan(None).round(3).to_list()
            assert _days(traces[0]) == days and traces[0]["y"] == values, (shop, metric)
            assert all(_days(trace) == days for trace in traces if "x0" in trace), (shop, metric)
            # every day there: the traces give the first day and a step; a day without a row: the dates
            assert ("x" in traces[0]) == (shop == "US00001"), (shop, metric)
            limits = (
                store.select("metric_date", "shop_no")
                .join(data.limits.filter(pl.col("metric_name") == metric), on=["metric_date", "shop_no"], how="left")
                .sort("metric_date")
            )
            assert traces[1]["y"] == limits["center_line"].fill_nan(None).round(3).to_list()
            # value, centre line, [anchored reference,] the two limits, then the flags
            assert len(traces) == (5 if shop == "US00002" else 4) + (
                2 if (shop, metric) == ("US00001", "revenue") else 0
            )
        excluded = _spec(page, "excluded")["data"][0]
        assert excluded["x"] == days and excluded["y"] == store["dq_excluded_rows"].to_list()
        percentile = _spec(page, "percentile")["data"]
        assert [len(trace["x"]) for trace in percentile] == [store["metric_date"].dt.weekday().eq(1).sum()] * 2
    flags = _spec(built["stores/US00001.html"], "control-revenue")["data"][-2:]
    assert [(f["x"], f["y"], f["text"]) for f in flags] == [
        (["2025-10-12", "2025-10-30"], [121.0, 140.123], ["WARNING spike: up", "WARNING spike: up"]),
        (["2025-10-30"], [140.123], ["CRITICAL level_shift: "]),
    ]


def test_pages_written_a_store_at_a_time_equal_pages_written_for_every_store_at_once(monkeypatch):
    data = _report_data()
    built_at = datetime(2025, 11, 10, 6, 0, tzinfo=UTC)
    monkeypatch.setattr(pages, "SERIES_CHUNK_STORES", 1)
    one_by_one = pages.build_pages(data, built_at, language="zh")
    monkeypatch.setattr(pages, "SERIES_CHUNK_STORES", 1_000)
    assert pages.build_pages(data, built_at, language="zh") == one_by_one


def test_a_page_that_cannot_be_written_ends_the_build_with_its_error(tmp_path, monkeypatch):
    written = site._write_atomically

    def write(path, text):
        if path.name == "US00002.html":
            raise OSError(f"disk full writing {path}")
        written(path, text)

    monkeypatch.setattr(site, "_write_atomically", write)
    with pytest.raises(OSError, match="US00002.html"):
        site.write_pages(_report_data(), tmp_path / "reports", language="en")
    assert (tmp_path / "reports" / "stores" / "US00001.html").exists()
    assert not list((tmp_path / "reports").rglob("*.tmp"))
