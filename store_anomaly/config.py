"""Names of the environment variables of the source contract, and the demo defaults."""

from __future__ import annotations

import os

SOURCE_ENV_VARS: dict[str, str] = {
    "opshop": "STORE_ANOMALY_OPSHOP_URL",
    "sales_order": "STORE_ANOMALY_SALESORDER_URL",
    "opproduction": "STORE_ANOMALY_OPPRODUCTION_URL",
    "opqualitycontrol": "STORE_ANOMALY_OPQUALITYCONTROL_URL",
    "opempefficiency": "STORE_ANOMALY_OPEMPEFFICIENCY_URL",
}
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

DEMO_DATABASES: dict[str, str] = {
    "opshop": "demo_opshop",
    "sales_order": "demo_sales_order",
    "opproduction": "demo_opproduction",
    "opqualitycontrol": "demo_opqualitycontrol",
    "opempefficiency": "demo_opempefficiency",
}
DEMO_WAREHOUSE_DATABASE = "store_anomaly"
DEMO_SERVER = "mysql://root@127.0.0.1:3306"

DEMO_START = "2025-03-24"
DEMO_END = "2026-02-15"


def source_urls_from_env() -> dict[str, str]:
    """The five source URLs the platform reads, from the contract's variables."""
    urls = {}
    for source, variable in SOURCE_ENV_VARS.items():
        url = os.environ.get(variable)
        if not url:
            raise KeyError(f"{variable} is not set: it must hold the {source} source's mysql:// URL")
        urls[source] = url
    return urls


def demo_source_urls_from_env() -> dict[str, str]:
    """The five databases the demo generator writes: its own variables, unset ones the demo databases on the
    local server. Never the platform's source variables."""
    return {
        source: os.environ.get(variable) or f"{DEMO_SERVER}/{DEMO_DATABASES[source]}"
        for source, variable in DEMO_SOURCE_ENV_VARS.items()
    }
