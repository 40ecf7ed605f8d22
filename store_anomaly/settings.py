"""Every environment variable the platform reads (all named STORE_ANOMALY_*), their defaults, and the demo's.

Secrets (the database URLs) reach Dagster resources through `EnvVar`, so they never appear in code, config or
logs; the other settings are read where they are used, by the names defined here.
"""

from __future__ import annotations

import os

# mysql:// URLs of the five read-only sources, by source name.
SOURCE_ENV_VARS: dict[str, str] = {
    "opshop": "STORE_ANOMALY_OPSHOP_URL",
    "sales_order": "STORE_ANOMALY_SALESORDER_URL",
    "opproduction": "STORE_ANOMALY_OPPRODUCTION_URL",
    "opqualitycontrol": "STORE_ANOMALY_OPQUALITYCONTROL_URL",
    "opempefficiency": "STORE_ANOMALY_OPEMPEFFICIENCY_URL",
}
# mysql:// URL of the warehouse the platform writes.
WAREHOUSE_ENV_VAR = "STORE_ANOMALY_WAREHOUSE_URL"

# The demo generator's own variables: it never reads the platform's source variables above, so a shell set
# up for real sources cannot point it at them by accident.
DEMO_SOURCE_ENV_VARS: dict[str, str] = {
    "opshop": "STORE_ANOMALY_DEMO_OPSHOP_URL",
    "sales_order": "STORE_ANOMALY_DEMO_SALESORDER_URL",
    "opproduction": "STORE_ANOMALY_DEMO_OPPRODUCTION_URL",
    "opqualitycontrol": "STORE_ANOMALY_DEMO_OPQUALITYCONTROL_URL",
    "opempefficiency": "STORE_ANOMALY_DEMO_OPEMPEFFICIENCY_URL",
}

# First business date of the partitions; early enough for the history a chain usually has.
PARTITIONS_START_ENV_VAR = "STORE_ANOMALY_PARTITIONS_START"
DEFAULT_PARTITIONS_START = "2024-01-01"

# Comma-separated shop_no values never scored.
EXCLUDED_SHOPS_ENV_VAR = "STORE_ANOMALY_EXCLUDED_SHOPS"

# Comma-separated dates (YYYY-MM-DD) the whole chain was closed: a day without trades there is a closure, never
# a late feed (source contract).
CLOSED_DAYS_ENV_VAR = "STORE_ANOMALY_CLOSED_DAYS"

# Seconds a run's step waits for another run's warehouse lock on the same asset before it fails. The name
# without `_SECONDS` (before the other timeouts set the pattern) is still read when the new one is unset.
WAREHOUSE_LOCK_TIMEOUT_ENV_VAR = "STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT_SECONDS"
LEGACY_WAREHOUSE_LOCK_TIMEOUT_ENV_VAR = "STORE_ANOMALY_WAREHOUSE_LOCK_TIMEOUT"
DEFAULT_WAREHOUSE_LOCK_TIMEOUT_SECONDS = 600  # below the session read timeout, which bounds any wait

# The source contract's plausibility bounds: rows beyond them are excluded from the KPIs and counted.
MAX_PAY_MONEY_ENV_VAR = "STORE_ANOMALY_MAX_PAY_MONEY"
MAX_PRODUCTION_SECONDS_ENV_VAR = "STORE_ANOMALY_MAX_PRODUCTION_SECONDS"
QC_SCORE_MIN_ENV_VAR = "STORE_ANOMALY_QC_SCORE_MIN"
QC_SCORE_MAX_ENV_VAR = "STORE_ANOMALY_QC_SCORE_MAX"

# Session limits (seconds) of every MySQL connection: a server that never answers or a held lock ends in an
# error naming the wait, never in a hang.
CONNECT_TIMEOUT_ENV_VAR = "STORE_ANOMALY_CONNECT_TIMEOUT_SECONDS"
READ_TIMEOUT_ENV_VAR = "STORE_ANOMALY_READ_TIMEOUT_SECONDS"
WRITE_TIMEOUT_ENV_VAR = "STORE_ANOMALY_WRITE_TIMEOUT_SECONDS"
LOCK_WAIT_TIMEOUT_ENV_VAR = "STORE_ANOMALY_LOCK_WAIT_TIMEOUT_SECONDS"

# SPC rule set in force: `default` or `seed`.
RULE_SET_ENV_VAR = "STORE_ANOMALY_RULE_SET"
DEFAULT_RULE_SET = "default"

# Apprise URLs alerts are sent to (comma and/or whitespace separated).
NOTIFY_URLS_ENV_VAR = "STORE_ANOMALY_NOTIFY_URLS"

# Language of the report pages and notifications: `en` or `zh` (alerts are written in both).
LANGUAGE_ENV_VAR = "STORE_ANOMALY_LANGUAGE"
LANGUAGES: tuple[str, ...] = ("en", "zh")
DEFAULT_LANGUAGE = "en"

# Retention (days) of the purge job: run log rows, notification rows of alerts resolved that long ago (never
# the latest delivery of an open alert; acknowledgements are never purged), and the Dagster instance's runs
# with their event logs (a run holding the latest materialization of a partition is kept).
RUN_LOG_RETENTION_DAYS_ENV_VAR = "STORE_ANOMALY_RUN_LOG_RETENTION_DAYS"
DEFAULT_RUN_LOG_RETENTION_DAYS = 90
NOTIFICATION_RETENTION_DAYS_ENV_VAR = "STORE_ANOMALY_NOTIFICATION_RETENTION_DAYS"
DEFAULT_NOTIFICATION_RETENTION_DAYS = 365
DAGSTER_RUN_RETENTION_DAYS_ENV_VAR = "STORE_ANOMALY_DAGSTER_RUN_RETENTION_DAYS"
DEFAULT_DAGSTER_RUN_RETENTION_DAYS = 30

# Folder of the HTML reports; unset: ./reports of the working directory.
REPORTS_DIR_ENV_VAR = "STORE_ANOMALY_REPORTS_DIR"
DEFAULT_REPORTS_DIR = "reports"

# The server the test suite creates its databases on.
TEST_MYSQL_URL_ENV_VAR = "STORE_ANOMALY_TEST_MYSQL_URL"

# The demo's source databases on the local server: demo_<source>.
DEMO_DATABASES: dict[str, str] = {source: f"demo_{source}" for source in SOURCE_ENV_VARS}
DEMO_WAREHOUSE_DATABASE = "store_anomaly"
DEMO_SERVER = "mysql://root@127.0.0.1:3306"

DEMO_START = "2025-03-24"
DEMO_END = "2026-02-15"


def demo_source_urls_from_env() -> dict[str, str]:
    """The five databases the demo generator writes: its own variables, unset ones the demo databases on the
    local server. Never the platform's source variables."""
    return {
        source: os.environ.get(variable) or f"{DEMO_SERVER}/{DEMO_DATABASES[source]}"
        for source, variable in DEMO_SOURCE_ENV_VARS.items()
    }


def reports_dir_from_env() -> str:
    """Where the HTML reports are written: STORE_ANOMALY_REPORTS_DIR, else ./reports of the working directory."""
    return os.environ.get(REPORTS_DIR_ENV_VAR) or DEFAULT_REPORTS_DIR


class SettingsError(ValueError):
    """A setting variable holds something unusable; the message names the variable."""


def number_from_env(variable: str, default: float) -> float:
    """The number in `variable`, `default` when unset or blank; SettingsError naming the variable otherwise."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{variable}={text!r} is not a number") from None


def language_from_env() -> str:
    """STORE_ANOMALY_LANGUAGE: `en` (default, also when unset or blank) or `zh`; SettingsError naming the variable
    otherwise."""
    text = os.environ.get(LANGUAGE_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_LANGUAGE
    language = text.lower()
    if language not in LANGUAGES:
        raise SettingsError(
            f"{LANGUAGE_ENV_VAR}={text!r} is not a language of the platform: use one of {', '.join(LANGUAGES)}"
        )
    return language
