"""The production instance of deploy/dagster.yaml on a fresh MySQL database of the test server: its
environment variables and a DAGSTER_HOME holding that very file."""

from __future__ import annotations

import shutil
from pathlib import Path

from store_anomaly.mysql import MySQLUrl

DEPLOY_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"


def deploy_instance_env(database_url: str, home: Path, *, dequeue_seconds: int = 1) -> dict[str, str]:
    """The variables deploy/dagster.yaml reads, for the instance database at `database_url` (a mysql:// URL);
    `home` becomes DAGSTER_HOME with a copy of the file."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY_DAGSTER_YAML, home / "dagster.yaml")
    url = MySQLUrl.parse(database_url, name="Dagster instance")
    return {
        "DAGSTER_HOME": str(home),
        "DAGSTER_MYSQL_HOST": url.host,
        "DAGSTER_MYSQL_PORT": str(url.port),
        "DAGSTER_MYSQL_USER": url.user,
        "DAGSTER_MYSQL_PASSWORD": url.password or "",
        "DAGSTER_MYSQL_DB": url.database,
        "DAGSTER_MAX_CONCURRENT_RUNS": "1",
        "DAGSTER_DEQUEUE_INTERVAL_SECONDS": str(dequeue_seconds),
        "DAGSTER_COMPUTE_LOGS_DIR": str(home / "logs"),
    }
