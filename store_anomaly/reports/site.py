"""Writes the HTML reports into the reports folder (no Dagster import).

`write_reports(connection, directory, built_at=None, language=None, cache=None) -> ReportSite` reads the bounded
window (`data.load_report_data`, from `cache` what it holds unchanged), builds every page (`pages.iter_pages`, written by a thread as it is built, so a
few pages at most are held in memory at a time) in `language` (default:
STORE_ANOMALY_LANGUAGE, `settings.language_from_env`) and writes them. The folder holds revenue
figures, so it is created readable by its owner and group only (0750, pages 0640), whatever the umask. Each
page is written to a temporary file and renamed over the old one, so a reader never sees half a page; plotly.js
is written once (again only when the installed plotly's copy differs); pages of stores no longer in scope are
removed.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from store_anomaly.reports.data import ReportData, load_report_data
from store_anomaly.reports.pages import GALLERY_STORES, PLOTLY_JS, iter_pages, store_order, summary_headline
from store_anomaly.reports.window_cache import ReportWindowCache
from store_anomaly.settings import language_from_env, reports_dir_from_env

DIRECTORY_MODE = 0o750
FILE_MODE = 0o640
WRITES_AHEAD = 8


@dataclass(frozen=True)
class ReportSite:
    directory: Path
    index: Path
    spc: Path
    stores: dict[str, Path]
    first: date | None
    last: date | None
    built_at: datetime
    headline: str
    worst_store: str | None
    language: str

    @property
    def pages(self) -> int:
        return 2 + len(self.stores)


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _private_directory(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIRECTORY_MODE)


def write_pages(
    data: ReportData,
    directory: Path | str,
    built_at: datetime | None = None,
    *,
    gallery_stores: int = GALLERY_STORES,
    language: str | None = None,
) -> ReportSite:
    """Builds and writes every page of `data` into `directory` in `language` (default: STORE_ANOMALY_LANGUAGE;
    the gallery charts the worst `gallery_stores` stores); see the module docstring."""
    language = language or language_from_env()
    built_at = built_at or datetime.now(UTC)
    root = Path(directory).resolve()
    _private_directory(root)
    _private_directory(root / "stores")
    plotly_js = root / PLOTLY_JS
    from plotly.offline import get_plotlyjs  # plotly is imported when pages are written, not with the code location

    script = get_plotlyjs()
    if not plotly_js.exists() or plotly_js.stat().st_size != len(script.encode()):
        _write_atomically(plotly_js, script)
    stores = {}
    # Pages are written by a thread while the next ones are built: a file's creation, write and rename wait on
    # the disk with the GIL released. At most WRITES_AHEAD pages wait for it; its first error ends the build.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-writer") as writer:
        writes: deque[Future] = deque()
        for relative, text in iter_pages(data, built_at, gallery_stores=gallery_stores, language=language):
            writes.append(writer.submit(_write_atomically, root / relative, text))
            while len(writes) > WRITES_AHEAD or (writes and writes[0].done()):
                writes.popleft().result()
            if relative.startswith("stores/"):
                stores[Path(relative).stem] = root / relative
        while writes:
            writes.popleft().result()
    for stale in (root / "stores").glob("*.html"):
        if stale.stem not in stores:
            stale.unlink()
    order = store_order(data)
    return ReportSite(
        directory=root,
        index=root / "index.html",
        spc=root / "spc.html",
        stores=stores,
        first=data.first,
        last=data.last,
        built_at=built_at,
        headline=summary_headline(data, language),
        worst_store=order["shop_no"][0] if order.height else None,
        language=language,
    )


def write_reports(
    connection,
    directory: Path | str | None = None,
    built_at: datetime | None = None,
    language: str | None = None,
    cache: ReportWindowCache | None = None,
) -> ReportSite:
    """Reads the warehouse through `connection` (the days `cache` holds unchanged from it, when given: see
    `window_cache`) and writes the reports (default folder: reports_dir_from_env(), default language:
    language_from_env())."""
    language = language or language_from_env()  # a wrong setting fails before the warehouse is read
    data = load_report_data(connection, cache=cache)
    return write_pages(data, directory or reports_dir_from_env(), built_at, language=language)
