"""store_anomaly: daily store KPIs and Statistical Process Control alerts, as Dagster assets over MySQL."""

import warnings

from dagster import BetaWarning, PreviewWarning

# Single-run backfills and partitioned asset checks are used by design, not as experiments: keep logs clean.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)
