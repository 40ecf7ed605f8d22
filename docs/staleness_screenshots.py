"""Regenerates the README's pictures of the Dagster UI with observed sources (a stale day and a late feed):

    .venv/bin/python docs/staleness_screenshots.py docs

On scratch databases of the local MariaDB (dropped afterwards) and a scratch Dagster instance: the tests' small
chain, backfilled for 2025-11-01..03, then a trade added late to 2025-11-02 and trades for every recent day but
the latest complete one (a late feed), then one observation of the sources. The real webserver serves it and
headless Chromium (Debian's `chromium`, `make chromium`) shoots the KPI asset's checks and its upstream
lineage into OUT_DIR/ui-late-feed.png and OUT_DIR/ui-lineage.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = (
    ("/assets/store_daily_metrics?view=checks", "ui-late-feed.png"),
    ("/assets/store_daily_metrics?view=lineage&lineageScope=upstream", "ui-lineage.png"),
)


def trade(id_: int, when: datetime) -> dict:
    return {"id": id_, "trade_no": f"T{id_}", "dept_id": 1127, "pay_money": 8, "trade_status": 1, "create_time": when}


def main(out: Path) -> None:
    from store_anomaly.settings import PARTITIONS_START_ENV_VAR, SOURCE_ENV_VARS, WAREHOUSE_ENV_VAR
    from store_anomaly_tests.databases import FreshDatabases

    databases = FreshDatabases()
    home = tempfile.TemporaryDirectory()
    try:
        urls = {source: databases.create(source) for source in SOURCE_ENV_VARS}
        urls["warehouse"] = databases.create("warehouse")
        os.environ.update({variable: urls[source] for source, variable in SOURCE_ENV_VARS.items()})
        os.environ[WAREHOUSE_ENV_VAR] = urls["warehouse"]
        os.environ["DAGSTER_HOME"] = home.name
        os.environ[PARTITIONS_START_ENV_VAR] = "2025-10-01"
        os.environ.setdefault("STORE_ANOMALY_REPORTS_DIR", str(Path(home.name) / "reports"))

        from dagster import DagsterInstance

        from store_anomaly.definitions import build_definitions
        from store_anomaly.partitions import daily_partitions
        from store_anomaly.runner import run_backfill
        from store_anomaly_tests.browser import open_browser
        from store_anomaly_tests.dagster_processes import serving
        from store_anomaly_tests.small_chain import END, START, build_sources
        from store_anomaly_tests.source_rows import insert_rows

        build_sources(urls)
        last = date.fromisoformat(daily_partitions.get_last_partition_key())
        recent = [trade(5000 + n, datetime.combine(last - timedelta(days=n), time(17))) for n in range(1, 35)]
        insert_rows(urls, "t_trade", recent)
        with DagsterInstance.get() as instance:
            assert run_backfill(START, END, instance=instance).success
            insert_rows(urls, "t_trade", [trade(100, datetime(2025, 11, 2, 18))])
            job = build_definitions().resolve_job_def("observe_sources_job")
            assert job.execute_in_process(instance=instance).success
        with serving() as port, open_browser() as browser:
            page = browser.new_page(viewport={"width": 1500, "height": 900})
            for path, name in PAGES:
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.wait_for_timeout(6000)
                skip = page.get_by_role("button", name="Skip")
                if skip.count():  # the UI's first-visit dialog
                    skip.first.click()
                    page.wait_for_timeout(1500)
                page.screenshot(path=str(out / name))
                print(f"wrote {out / name}")
    finally:
        databases.drop_all()
        home.cleanup()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
