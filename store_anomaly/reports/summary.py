"""A short text summary of what the warehouse holds, for the end of `make demo` and for operators."""

from __future__ import annotations

from pathlib import Path

from store_anomaly.alerts.listing import headline
from store_anomaly.mysql import MySQLUrl
from store_anomaly.settings import reports_dir_from_env

UI_URL = "http://127.0.0.1:3000"


def warehouse_summary(warehouse_url: str) -> str:
    url = MySQLUrl.parse(warehouse_url, name="warehouse")
    with url.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, table_rows FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
            (url.database,),
        )
        tables = [row[0] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
            counts[table] = cursor.fetchone()[0]
        lines = [f"warehouse {url.redacted()}"]
        next_steps: list[str] = []
        if "store_daily_metrics" in counts:
            cursor.execute(
                "SELECT COUNT(DISTINCT shop_no), COUNT(DISTINCT metric_date), MIN(metric_date), MAX(metric_date), "
                "COALESCE(SUM(revenue), 0), COALESCE(SUM(order_count), 0), COALESCE(SUM(dq_excluded_rows), 0) "
                "FROM store_daily_metrics"
            )
            stores, days, first, last, revenue, orders, excluded = cursor.fetchone()
            lines.append(
                f"  {stores} stores x {days} business days ({first} .. {last}): ${revenue:,.0f} revenue, "
                f"{orders:,} orders, {excluded:,} source rows excluded by the KPI rules"
            )
        if "store_anomaly_alerts" in counts:
            cursor.execute("SELECT status, severity, COUNT(*) FROM store_anomaly_alerts GROUP BY status, severity")
            alerts = ", ".join(f"{n} {status} {severity}" for status, severity, n in cursor.fetchall())
            lines.append(f"  alerts: {alerts or 'none'}")
            cursor.execute(
                "SELECT alert_id, shop_no, severity, opened_on, description, shop_name FROM store_anomaly_alerts "
                "WHERE status = 'open' ORDER BY FIELD(severity, 'CRITICAL', 'WARNING', 'INFO'), opened_on, shop_no"
            )
            open_alerts = cursor.fetchall()
            if open_alerts:
                lines.append(f"  stores alerting now: {', '.join(dict.fromkeys(row[1] for row in open_alerts))}")
                lines += [
                    f"    {shop} {severity:<8} since {opened}  {headline(text, name, width=90)}  ({alert_id})"
                    for alert_id, shop, severity, opened, text, name in open_alerts
                ]
                next_steps.append(f"store-anomaly alerts show {open_alerts[0][0]}   # the most serious alert in full")
    lines.append("  rows per table:")
    lines += [f"    {table:<32} {count:>10,}" for table, count in counts.items()]
    lines.append(f"  Dagster UI: {UI_URL} (assets, partitions, checks and the backfill run)")
    index = Path(reports_dir_from_env()).resolve() / "index.html"
    if index.exists():
        lines.append(f"  Reports: {index} (executive summary; stores/<shop_no>.html per store; spc.html)")
        next_steps.append("store-anomaly report --open   # rebuild the reports and open the summary")
    if next_steps:
        lines.append("Next:")
        lines += [f"  {step}" for step in next_steps]
    return "\n".join(lines)
