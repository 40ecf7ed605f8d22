"""What `store-anomaly alerts [--open] [--shop US00001]` shows (pure: frames in, frame or text out).

Public API
----------
`select_alerts(alerts, *, open_only=False, shop_no=None) -> pl.DataFrame`
    Filters the alerts table: `open_only` keeps status 'open'; `shop_no` (trimmed, upper-cased, must look
    like two letters and five digits, e.g. US00001) keeps that store. Raises `AckError` on a malformed
    shop number. Sorted: open first, then severity (CRITICAL first), then last_seen_on (newest first).

`headline(description, shop_name=None, width=None) -> str`: an alert's first sentence, whole (listings, the UI
    and the reports), in either language; a store name holding a full stop ("St. Marks") does not end it. With
    `width`, a longer sentence is shortened at a word boundary and ends with "...".

`format_alert(alert, acks, *, width=100) -> str`: one alert in full (`store-anomaly alerts show ID`).

`format_alerts(alerts, *, width=None) -> str`
    A plain-text table (id, store, metric, severity, status, opened, last seen, ack, headline), one line
    per alert, or "No alerts." when empty. Control and format characters (escape sequences, bidi overrides,
    newlines) in any cell, e.g. a shop name from the store master, are shown as '?': text from the sources
    never drives the terminal.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata

import polars as pl

from store_anomaly.alerts.config import SEVERITY_RANK
from store_anomaly.alerts.feedback import AckError
from store_anomaly.text_table import format_cell, format_table

_SHOP_NO = re.compile(r"^[A-Z]{2}\d{5}$")


def select_alerts(alerts: pl.DataFrame, *, open_only: bool = False, shop_no: str | None = None) -> pl.DataFrame:
    """The alerts a person asked to see; see the module docstring."""
    frame = alerts
    if shop_no is not None:
        shop = shop_no.strip().upper()
        if not _SHOP_NO.match(shop):
            raise AckError(f"{shop_no!r} is not a store number: use the form US00001")
        frame = frame.filter(pl.col("shop_no") == shop)
    if open_only:
        frame = frame.filter(pl.col("status") == "open")
    return (
        frame.with_columns(
            (pl.col("status") == "open").alias("_open"),
            pl.col("severity").replace_strict(SEVERITY_RANK, default=-1, return_dtype=pl.Int64).alias("_rank"),
        )
        .sort(["_open", "_rank", "last_seen_on", "alert_id"], descending=[True, True, True, False])
        .drop("_open", "_rank")
    )


def printable(text: object) -> str:
    """`text` with every control or format character (Unicode category C*) replaced by '?'."""
    return "".join("?" if unicodedata.category(char).startswith("C") else char for char in str(text))


# The end of a sentence: an English full stop before a space or the end, or a Chinese one.
_SENTENCE_END = re.compile(r"\.(?=\s|$)|。")


def headline(description: str | None, shop_name: str | None = None, width: int | None = None) -> str:
    """The first sentence of an alert's description, without its full stop; see the module docstring."""
    text = description or ""
    start = 0
    if shop_name and (at := text.find(shop_name)) >= 0:
        start = at + len(shop_name)
    end = _SENTENCE_END.search(text, start)
    sentence = text[: end.start()] if end else text.rstrip(".。")
    if width is None or len(sentence) <= width:
        return sentence
    cut = sentence[: width - 3]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "..."


def format_alerts(alerts: pl.DataFrame, *, width: int | None = None) -> str:
    """Plain-text listing; see the module docstring."""
    if alerts.is_empty():
        return "No alerts."
    header = ("ID", "STORE", "METRIC", "SEVERITY", "STATUS", "OPENED", "LAST SEEN", "ACK", "WHAT")
    rows = [header]
    for row in alerts.iter_rows(named=True):
        ack = "-"
        if row.get("acknowledged"):
            ack = f"{row.get('acknowledged_by') or 'yes'}" + (f" ({row['ack_label']})" if row.get("ack_label") else "")
        rows.append(
            tuple(
                printable(cell)
                for cell in (
                    row["alert_id"],
                    row["shop_no"],
                    row["metric_name"],
                    row["severity"],
                    row["status"],
                    str(row["opened_on"]),
                    str(row["last_seen_on"]),
                    ack,
                    headline(row.get("description"), row.get("shop_name")),
                )
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        line = "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(r[:-1])) + "  " + str(r[-1])
        lines.append(line[:width] if width else line)
    return "\n".join(lines)


# What `alerts show` prints under "The numbers", in this order, when the alert has them.
_NUMBERS: tuple[tuple[str, str], ...] = (
    ("change_started_on", "change started"),
    ("baseline_value", "baseline"),
    ("current_value", "current level"),
    ("change_pct", "change"),
    ("estimated_loss", "estimated loss"),
    ("peak_z", "peak z"),
    ("flag_days", "flag days"),
    ("rules", "rules"),
    ("chain_wide", "chain-wide"),
    ("cannibalization_suspect", "customers may have gone to"),
)


def _number(column: str, value) -> str:
    if column == "change_pct":
        return f"{value:+.1f}%"
    if column == "estimated_loss":
        return f"${value:,.0f}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return format_cell(value)


def format_alert(alert: dict, acks: pl.DataFrame, *, width: int = 100) -> str:
    """One alert in full: what, the numbers, the description, the recommended action and every
    acknowledgement (oldest first)."""
    severity = alert["severity"]
    if alert.get("first_severity") and alert["first_severity"] != severity:
        severity = f"{severity} (opened as {alert['first_severity']})"
    lines = [
        f"{alert['alert_id']}  {alert['shop_no']} {alert.get('shop_name') or ''}".rstrip(),
        f"  KPI          {alert['metric_name']}"
        + (f" (moved with it: {alert['metric_names']})" if alert.get("metric_names") else ""),
        f"  severity     {severity}",
        f"  status       {alert['status']}, opened {alert['opened_on']}, last seen {alert['last_seen_on']}",
    ]
    present = [(column, name) for column, name in _NUMBERS if alert.get(column) not in (None, "")]
    if present:
        lines.append("The numbers")
        lines += [f"  {name:<27} {_number(column, alert[column])}" for column, name in present]
    for title, column in (("What happened", "description"), ("What to do", "recommended_action")):
        if alert.get(column):
            lines.append(title)
            for paragraph in str(alert[column]).split("\n"):
                lines += textwrap.wrap(paragraph, width=width, initial_indent="  ", subsequent_indent="  ") or [""]
    lines.append("Acknowledgements")
    if acks.is_empty():
        lines.append("  none yet: store-anomaly ack " + alert["alert_id"] + " --by NAME [--label ...] [--note ...]")
    else:
        lines += ["  " + line for line in format_table(acks, headers={"acknowledged_at": "WHEN (UTC)"}).split("\n")]
    return "\n".join(lines)


def _md(text) -> str:
    return str(text if text is not None else "-").replace("|", "\\|").replace("\n", " ")


def open_alerts_markdown(alerts: pl.DataFrame, *, limit: int = 50) -> str:
    """The open alerts as a markdown table (store, KPI, severity, since, the whole headline), most serious first,
    for the Dagster UI; at most `limit` rows, then how many more."""
    rows = select_alerts(alerts, open_only=True)
    if rows.is_empty():
        return "No open alert."
    lines = ["| store | KPI | severity | since | headline | alert |", "|---|---|---|---|---|---|"]
    for row in rows.head(limit).iter_rows(named=True):
        store = f"{row['shop_no']} {row.get('shop_name') or ''}".strip()
        since = row.get("change_started_on") or row["opened_on"]
        lines.append(
            f"| {_md(store)} | {_md(row['metric_name'])} | {_md(row['severity'])} | {since} | "
            f"{_md(headline(row.get('description'), row.get('shop_name')))} | {_md(row['alert_id'])} |"
        )
    if rows.height > limit:
        lines.append(f"\n{rows.height - limit} more: `store-anomaly alerts --open`")
    return "\n".join(lines)
