"""Aligned plain-text tables for the command line (pure): a polars frame in, text out.

Numbers are right-aligned and rounded (`digits` decimals for floats, thousands separators), text is
left-aligned, nulls print as '-', so a listing reads like a report rather than a dataframe dump."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl


def format_cell(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def format_table(frame: pl.DataFrame, *, digits: int = 2, headers: dict[str, str] | None = None) -> str:
    """The frame as an aligned table with a header row (column names upper-cased unless `headers` renames)."""
    headers = headers or {}
    names = [headers.get(column, column.replace("_", " ").upper()) for column in frame.columns]
    numeric = [frame.schema[column].is_numeric() for column in frame.columns]
    cells = [[format_cell(value, digits) for value in row] for row in frame.iter_rows()]
    widths = [max([len(names[i]), *(len(row[i]) for row in cells)]) for i in range(len(names))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)).rstrip()

    return "\n".join([line(names), *(line(row) for row in cells)])
