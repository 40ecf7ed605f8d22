"""What `store-anomaly alerts [--open] [--shop US00001]` shows (pure: frames in, frame or text out).

Public API
----------
`select_alerts(alerts, *, open_only=False, shop_no=None) -> pl.DataFrame`
    Filters the alerts table: `open_only` keeps status 'open'; `shop_no` (trimmed, upper-cased, must look
    like two letters and five digits, e.g. US00001) keeps that store. Raises `AckError` on a malformed
    shop number. Sorted: open first, then severity (CRITICAL first), then last_seen_on (newest first).

`format_alerts(alerts, *, width=None) -> str`
    A plain-text table (id, store, metric, severity, status, opened, last seen, ack, headline), one line
    per alert, or "No alerts." when empty. Control and format characters (escape sequences, bidi overrides,
    newlines) in any cell, e.g. a shop name from the store master, are shown as '?': text from the sources
    never drives the terminal.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

from store_anomaly.alerts.config import SEVERITY_RANK
from store_anomaly.alerts.feedback import AckError

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


def _headline(row: dict) -> str:
    description = row.get("description") or ""
    return description.split(". ")[0][:100]


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
                    _headline(row),
                )
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        line = "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(r[:-1])) + "  " + str(r[-1])
        lines.append(line[:width] if width else line)
    return "\n".join(lines)
