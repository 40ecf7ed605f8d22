"""The Grafana dashboard runs on a real warehouse: every panel's SQL and every variable query, with Grafana's
macros and variables substituted, against a warehouse backfilled from generated sources, read through a
SELECT-only user that sees nothing but the warehouse contract's columns.

Substitution rules (what Grafana's MySQL data source does before it sends a query; `substitute`):
- `$__timeFilter(expr)` -> `expr BETWEEN FROM_UNIXTIME(<from>) AND FROM_UNIXTIME(<to>)`, epoch seconds;
- `$__timeFrom()` / `$__timeTo()` -> `FROM_UNIXTIME(<from>)` / `FROM_UNIXTIME(<to>)`;
- `${name:raw}` -> the variable's value as is (the KPI variable names a column);
- `$name` / `${name}` -> the value as a quoted SQL string ('US00001'), Grafana's default for SQL sources;
- the session runs in UTC (`time_zone = '+00:00'`), as Grafana's MySQL sessions do.
"""

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pymysql
import pytest
from dagster import DagsterInstance

from store_anomaly.cli import GRAFANA_DATASOURCE_UID, grafana_datasource, main
from store_anomaly.kpis.catalog import KPI_COLUMNS
from store_anomaly.mysql import MySQLUrl
from store_anomaly.runner import run_backfill
from store_anomaly.settings import SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR
from store_anomaly.sources.demo_data import generate_demo_sources
from store_anomaly_tests.databases import FreshDatabases, export_platform

# One worker builds this module's shared fixture once (`make test` runs the suite on two workers).
pytestmark = [pytest.mark.mysql, pytest.mark.xdist_group("test_grafana")]

DASHBOARD = json.loads((Path(__file__).parents[1] / "grafana" / "store_anomaly.json").read_text())
START, END = date(2025, 7, 14), date(2025, 12, 14)

# The warehouse contract's columns, table by table: the only columns the dashboard may read.
CONTRACT_COLUMNS: dict[str, set[str]] = {
    "store_daily_metrics": {"metric_date", "shop_no", "dept_id", "shop_name", *KPI_COLUMNS},  # + dq_* counters
    "store_spc_control_limits": {
        "metric_date",
        "shop_no",
        "metric_name",
        "center_line",
        "sigma",
        "ucl",
        "lcl",
        "baseline_days",
        "anchor_value",
        "anchor_since",
    },
    "store_anomaly_flags": {
        "metric_date",
        "shop_no",
        "metric_name",
        "rule",
        "observed_value",
        "expected_value",
        "z_score",
        "severity",
        "direction",
    },
    "store_peer_comparison": {"week_start", "shop_no", "metric_name", "value", "peer_median", "rank", "percentile"},
    "store_health_scores": {"metric_date", "shop_no", "health_score", "grade"},  # + one *_score per dimension
    "store_anomaly_alerts": {
        "alert_id",
        "shop_no",
        "metric_name",
        "severity",
        "opened_on",
        "last_seen_on",
        "status",
        "description",
        "recommended_action",
        "description_zh",
        "recommended_action_zh",
        "metric_names",
        "change_started_on",
        "baseline_value",
        "current_value",
        "change_pct",
        "estimated_loss",
        "acknowledged",
        "acknowledged_by",
        "acknowledged_at",
        "ack_note",
    },
    "store_anomaly_incidents": {
        "incident_id",
        "kind",
        "subject",
        "business_date",
        "opened_at",
        "resolved_at",
        "message",
        "notified_at",
    },
    "store_anomaly_run_log": {
        "run_id",
        "asset",
        "partition_start",
        "partition_end",
        "status",
        "row_count",
        "duration_seconds",
        "error_message",
        "logged_at",
    },
}


def in_contract(table: str, column: str) -> bool:
    return (
        column in CONTRACT_COLUMNS[table]
        or (table == "store_daily_metrics" and column.startswith("dq_"))
        or (table == "store_health_scores" and column.endswith("_score"))
    )


# What each query returns: panel title (or variable name) -> refId -> columns, in order.
EXPECTED_COLUMNS = {
    "Chain overview: revenue and orders": {"A": ["time", "revenue", "orders"]},
    "Control chart: $metric at $shop": {
        "A": ["time", "value", "center_line", "ucl", "lcl", "anchored_reference"],
        "B": ["time", "flagged"],
    },
    "Flagged days at $shop": {
        "A": [
            "metric_date",
            "metric_name",
            "rule",
            "severity",
            "direction",
            "observed_value",
            "expected_value",
            "z_score",
        ]
    },
    "Open alerts": {
        "A": [
            "alert_id",
            "shop_no",
            "metric_name",
            "severity",
            "opened_on",
            "last_seen_on",
            "change_started_on",
            "baseline_value",
            "change_pct",
            "description",
            "recommended_action",
            "acknowledged",
            "acknowledged_by",
        ]
    },
    "Store health": {"A": ["time", "metric", "value"]},
    "Weekly ranking: $metric": {"A": ["week_start", "rank", "shop_no", "value", "peer_median", "percentile"]},
    "Run log": {
        "A": [
            "logged_at",
            "run_id",
            "asset",
            "partition_start",
            "partition_end",
            "status",
            "row_count",
            "duration_seconds",
            "error_message",
        ]
    },
    "Platform incidents": {
        "A": [
            "opened_at",
            "kind",
            "subject",
            "business_date",
            "state",
            "resolved_at",
            "notified_at",
            "message",
            "incident_id",
        ]
    },
}


def substitute(sql: str, variables: dict[str, str], time_from: datetime, time_to: datetime) -> str:
    """The SQL Grafana sends for a panel (see the module docstring for the rules)."""
    start, stop = int(time_from.timestamp()), int(time_to.timestamp())
    sql = re.sub(r"\$__timeFilter\(([^()]+)\)", rf"\1 BETWEEN FROM_UNIXTIME({start}) AND FROM_UNIXTIME({stop})", sql)
    sql = sql.replace("$__timeFrom()", f"FROM_UNIXTIME({start})").replace("$__timeTo()", f"FROM_UNIXTIME({stop})")
    assert "$__" not in sql, f"a macro the substitution does not know: {sql}"
    sql = re.sub(r"\$\{(\w+):raw\}", lambda m: variables[m.group(1)], sql)
    quoted = lambda m: "'" + variables[m.group(1) or m.group(2)].replace("\\", "\\\\").replace("'", "''") + "'"
    sql = re.sub(r"\$\{(\w+)\}|\$(\w+)", quoted, sql)
    assert "$" not in sql, sql
    return sql


@pytest.fixture(scope="module")
def reader():
    """A connection as a SELECT-only user on views that expose exactly the contract's columns of a warehouse
    backfilled from four generated stores (the flagship slides from 2025-10-03: open alerts, flags)."""
    databases = FreshDatabases()
    user = f"grafana_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with pytest.MonkeyPatch.context() as patch:
        urls = databases.create_platform()
        contract_view = databases.create("contract")
        export_platform(urls, patch)
        generate_demo_sources({s: urls[s] for s in SOURCE_ENV_VARS}, start=START, end=END, stores=4, seed=3)
        instance = DagsterInstance.ephemeral()
        run_backfill(START, END, instance=instance)
        # A platform incident to show: a last run whose sales source points at a missing database.
        patch.setenv(SOURCE_ENV_VARS["sales_order"], databases.create("moved") + "_gone")
        assert not run_backfill(END, END, instance=instance, raise_on_error=False).success
        patch.setenv(SOURCE_ENV_VARS["sales_order"], urls["sales_order"])

        root = MySQLUrl.parse(urls["warehouse"], name="warehouse")
        view_db = MySQLUrl.parse(contract_view).database
        try:
            with root.connect(autocommit=True) as connection, connection.cursor() as cursor:
                for table in CONTRACT_COLUMNS:
                    cursor.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                        "table_name = %s ORDER BY ordinal_position",
                        (root.database, table),
                    )
                    columns = [c for (c,) in cursor.fetchall() if in_contract(table, c)]
                    assert columns, f"{table} is not in the warehouse"
                    listed = ", ".join(f"`{c}`" for c in columns)
                    cursor.execute(
                        f"CREATE VIEW `{view_db}`.`{table}` AS SELECT {listed} FROM `{root.database}`.`{table}`"
                    )
                # The README's read-only user, on the contract's view of the warehouse.
                cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
                cursor.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'")
                cursor.execute(f"GRANT SELECT ON `{view_db}`.* TO '{user}'@'%'")
                cursor.execute(f"GRANT SELECT ON `{view_db}`.* TO '{user}'@'localhost'")
            readonly = MySQLUrl(root.host, root.port, user, password, view_db)
            with readonly.connect(autocommit=True) as connection:
                with connection.cursor() as cursor:
                    cursor.execute("SET time_zone = '+00:00'")
                yield connection, readonly
        finally:
            with root.connect(autocommit=True) as connection, connection.cursor() as cursor:
                cursor.execute(f"DROP USER IF EXISTS '{user}'@'%', '{user}'@'localhost'")
            databases.drop_all()


def run(connection, sql: str) -> tuple[list[str], list[tuple]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [d[0] for d in cursor.description], list(cursor.fetchall())


TIME_FROM = datetime(START.year, START.month, START.day, tzinfo=UTC)


def panel_queries():
    for panel in DASHBOARD["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["refId"], target["rawSql"]


def test_every_panel_reads_the_warehouse_data_source_and_is_expected():
    assert DASHBOARD["uid"] == "uc-op-02-store-anomaly"
    assert {(title, ref) for title, ref, _ in panel_queries()} == {
        (title, ref) for title, refs in EXPECTED_COLUMNS.items() for ref in refs
    }
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == GRAFANA_DATASOURCE_UID
        assert all(target["datasource"]["uid"] == GRAFANA_DATASOURCE_UID for target in panel["targets"])
    metric = next(v for v in DASHBOARD["templating"]["list"] if v["name"] == "metric")
    assert [option["value"] for option in metric["options"]] == list(KPI_COLUMNS)


def test_every_query_returns_its_columns_and_rows_for_the_read_only_user(reader):
    connection, _ = reader
    now = datetime.now(UTC) + timedelta(minutes=1)  # "now": after the run log rows written a moment ago
    shop_variable = next(v for v in DASHBOARD["templating"]["list"] if v["name"] == "shop")
    columns, stores = run(connection, substitute(shop_variable["query"], {}, TIME_FROM, now))
    assert columns == ["__value", "__text"] and [value for value, _ in stores] == [
        "US00001",
        "US00002",
        "US00003",
        "US00004",
    ]
    # The sliding flagship's sales: flagged days and an open alert to show (orders: the sales KPI SPC tests;
    # revenue is published, limits and anchor, and heads the alert).
    variables = {"shop": "US00001", "metric": "order_count"}
    for title, ref, sql in panel_queries():
        columns, rows = run(connection, substitute(sql, variables, TIME_FROM, now))
        assert columns == EXPECTED_COLUMNS[title][ref], (title, ref)
        assert rows, f"{title} ({ref}) returned no row"
    # Every KPI of the variable is a column the control chart and the ranking can read.
    for metric in KPI_COLUMNS:
        for title, ref, sql in panel_queries():
            if "metric" in sql:
                columns, _ = run(connection, substitute(sql, {"shop": "US00002", "metric": metric}, TIME_FROM, now))
                assert columns == EXPECTED_COLUMNS[title][ref], (title, ref, metric)


def test_the_control_chart_shows_the_days_limits_and_flags(reader):
    connection, _ = reader
    sql = {(title, ref): sql for title, ref, sql in panel_queries()}
    chart = substitute(
        sql["Control chart: $metric at $shop", "A"],
        {"shop": "US00001", "metric": "revenue"},
        TIME_FROM,
        datetime(2025, 12, 15, tzinfo=UTC),
    )
    _, days = run(connection, chart)
    assert all(lcl <= center <= ucl for _, _, center, ucl, lcl, _ in days if None not in (center, ucl, lcl))
    assert max(day for day, *_ in days) == END
    # the anchored reference of the flagship's revenue: the level before the slide, above the sliding days
    anchors = [(day, value, anchor) for day, value, _, _, _, anchor in days if anchor is not None]
    assert anchors and any(day > date(2025, 10, 3) for day, _, _ in anchors)
    late = [(value, anchor) for day, value, anchor in anchors if day >= date(2025, 11, 15)]
    assert late and sum(value < anchor for value, anchor in late) > len(late) / 2
    flags = substitute(
        sql["Control chart: $metric at $shop", "B"],
        {"shop": "US00001", "metric": "order_count"},
        TIME_FROM,
        datetime(2025, 12, 15, tzinfo=UTC),
    )
    _, flagged = run(connection, flags)
    assert any(day > date(2025, 10, 3) for day, _ in flagged)  # the slide is flagged


def test_the_read_only_user_cannot_write(reader):
    connection, _ = reader
    with pytest.raises(pymysql.err.OperationalError, match="denied"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM store_anomaly_alerts")


def test_the_provisioned_data_source_is_the_warehouse_url(reader, tmp_path, monkeypatch):
    _, readonly = reader
    url = readonly.to_url()
    monkeypatch.setenv(WAREHOUSE_ENV_VAR, url)
    output = tmp_path / "datasources" / "store_anomaly.yaml"
    assert main(["grafana-datasource", "--output", str(output)]) == 0
    assert output.stat().st_mode & 0o077 == 0  # it holds the password
    document = json.loads(output.read_text())  # JSON, which is YAML
    assert document == grafana_datasource(url)
    (source,) = document["datasources"]
    assert source["uid"] == GRAFANA_DATASOURCE_UID and source["type"] == "mysql"
    assert source["url"] == f"{readonly.host}:{readonly.port}" and source["user"] == readonly.user
    assert source["jsonData"]["database"] == readonly.database
    assert source["secureJsonData"]["password"] == readonly.password
    assert grafana_datasource("mysql://ro:pa$word@db:3306/wh")["datasources"][0]["secureJsonData"] == {
        "password": "pa$$word"
    }


def test_the_incidents_panel_shows_the_open_failed_run(reader):
    connection, _ = reader
    sql = {(title, ref): sql for title, ref, sql in panel_queries()}
    now = datetime.now(UTC) + timedelta(minutes=1)
    _, rows = run(connection, substitute(sql["Platform incidents", "A"], {}, now - timedelta(days=1), now))
    (incident,) = rows
    assert incident[1:5] == ("run_failed", "daily_refresh_job", END, "open")
    assert "Unknown database" in incident[7] and incident[6] is None  # no channel configured: not announced
