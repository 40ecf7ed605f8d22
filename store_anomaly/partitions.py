"""The business-date partitions every warehouse asset shares, and the range a run covers."""

from __future__ import annotations

import os
from datetime import date, timedelta

from dagster import BackfillPolicy, DailyPartitionsDefinition, TimeWindow

PARTITIONS_START_ENV_VAR = "STORE_ANOMALY_PARTITIONS_START"
# Partitions close on the operations team's calendar: a day is complete at local midnight in New York.
PARTITIONS_TIME_ZONE = "America/New_York"

daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get(PARTITIONS_START_ENV_VAR, "2025-03-24"),
    timezone=PARTITIONS_TIME_ZONE,
)

# One run computes a whole partition range: a year-long backfill is one vectorized pass, not 365 runs.
single_run = BackfillPolicy.single_run()


def business_dates(window: TimeWindow) -> tuple[date, date]:
    """The inclusive [first, last] business dates of a partition time window."""
    return window.start.date(), window.end.date() - timedelta(days=1)
