"""The public-holiday calendar every stage reads (KPI rows, SPC special days, the simulator), from the
`holidays` package."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays
import polars as pl

# The chain's home calendar: New York State public holidays.
DEFAULT_HOLIDAY_COUNTRY = "US"
DEFAULT_HOLIDAY_SUBDIVISION = "NY"


@lru_cache(maxsize=64)
def _holidays_of_years(country: str, subdivision: str | None, first_year: int, last_year: int) -> dict[date, str]:
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=range(first_year, last_year + 1))
    return dict(sorted(calendar.items()))


def public_holidays(
    first: date,
    last: date,
    country: str = DEFAULT_HOLIDAY_COUNTRY,
    subdivision: str | None = DEFAULT_HOLIDAY_SUBDIVISION,
) -> dict[date, str]:
    """Public holidays between first and last (inclusive), by date, with their names, in date order."""
    every = _holidays_of_years(country, subdivision, first.year, last.year)
    return {day: name for day, name in every.items() if first <= day <= last}


def holiday_frame(
    first: date,
    last: date,
    country: str = DEFAULT_HOLIDAY_COUNTRY,
    subdivision: str | None = DEFAULT_HOLIDAY_SUBDIVISION,
) -> pl.DataFrame:
    """`public_holidays` as a frame: business_date, holiday_name."""
    days = public_holidays(first, last, country, subdivision)
    return pl.DataFrame(
        {"business_date": list(days), "holiday_name": list(days.values())},
        schema={"business_date": pl.Date, "holiday_name": pl.String},
    )
