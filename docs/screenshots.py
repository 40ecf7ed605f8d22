"""Regenerates the README's screenshots from built reports: `make screenshots` (after `make demo`).

    python docs/screenshots.py REPORTS_DIR OUT_DIR [--store US00001]

Headless Chromium (Debian's `chromium`) renders the executive summary and the flagship's store page from
the reports folder (no network: the pages reference the folder's own plotly.js) into
OUT_DIR/executive-summary.png and OUT_DIR/store-page.png.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SHOTS = (("index.html", "executive-summary.png", 1750), ("stores/{store}.html", "store-page.png", 1900))


def screenshot(chromium: str, page: Path, out: Path, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size=1400,{height}",
                "--virtual-time-budget=15000",  # let plotly draw every chart before the shot
                f"--screenshot={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--store", default="US00001")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed: make chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for relative, name, height in SHOTS:
        page = args.reports.resolve() / relative.format(store=args.store)
        if not page.exists():
            print(f"{page} does not exist: run `make demo` (or `make backfill report`) first", file=sys.stderr)
            return 1
        screenshot(chromium, page, args.out / name, height)
        if not (args.out / name).exists():
            print(f"chromium wrote no {args.out / name}", file=sys.stderr)
            return 1
        print(f"{args.out / name} <- {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
