"""Business dates as inclusive ranges (no Dagster import: the pure modules read them too)."""

from collections.abc import Iterable
from datetime import date, timedelta


def contiguous_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days folded into inclusive [start, end] runs of consecutive dates."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def date_ranges_text(days: Iterable[date]) -> str:
    """Dates as compact inclusive ranges, e.g. '2025-11-03, 2025-11-10..2025-11-12'."""
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in contiguous_ranges(days))
