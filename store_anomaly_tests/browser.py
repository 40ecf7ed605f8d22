"""Headless Chromium for page tests: Debian's `chromium` (installed by the Makefile and .ci/run), driven by
Playwright, which never downloads a browser of its own here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("chromium is not installed: run `make chromium` (apt-get install chromium)")
    return path


@contextmanager
def open_browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox", "--allow-file-access-from-files"]
        )
        try:
            yield browser
        finally:
            browser.close()
