"""The reports' window kept on disk between builds, so a build reads from the warehouse only the days that changed
(no Dagster import: what changed is the caller's to say).

The reports draw 13 months of every store (`data.load_report_data`); a daily run changes four days of them. A
build with a cache reads the window's rows from the previous build's files, except the days the caller names
as changed since that build (`ReportWindowCache.changed`, in the report asset: the partitions the Dagster
instance recorded as materialized since) and the days the previous window did not cover, which it reads from the
warehouse; then it rewrites the files of the months it read. When `changed` names every day written since the
previous build, the rows are those a read of the whole window gives, in its order
(`test_the_window_read_through_the_cache_equals_a_read_of_the_whole_window`): a day is either read again or kept
whole, days are kept in date order, and each day's rows in the order the server returned them.

The files are one Arrow IPC file per table and month, named with the build that wrote them, listed by a manifest
(`window.json`) that is replaced atomically once they are written: a build that fails halfway leaves the
previous manifest and its files; files no manifest lists are removed by the next build. A manifest of another
format, warehouse, columns or set of tables, or one whose files cannot be read, is not used: the window is then
read whole, as without a cache.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

MANIFEST = "window.json"
# What the files hold and how: a manifest of another format is not read.
CACHE_FORMAT = 1
# A build that would read more days than this from the warehouse reads the whole window instead (a backfill
# changed most of it: one read of everything in date ranges at once is then cheaper than many short ones).
MAX_REREAD_DAYS = 62


def _month(day: date) -> str:
    return f"{day:%Y-%m}"


def _schema_text(schema: Mapping[str, pl.DataType]) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in schema.items()}


@dataclass
class ReportWindowCache:
    """The cache in `folder` of the warehouse `identity` (its redacted URL: another warehouse's files are not
    used). `open` reads the previous build's manifest; the caller then sets `changed` (per table, the dates whose
    rows may differ from what that build read, e.g. partitions materialized since `built_through`) and
    `marker` (what the next build will compare with: taken before this build reads the warehouse) and `builder`
    (what the next build checks still exists, e.g. this build's run: a cache outlives a wiped instance).
    `reread` is filled by the build: per table, the days it read from the warehouse (None: the whole window)."""

    folder: Path
    identity: str
    manifest: dict | None = None
    changed: dict[str, set[date]] | None = None
    marker: int | None = None
    builder: str | None = None
    reread: dict[str, set[date]] | None = field(default=None, init=False)
    _tables: dict = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def open(cls, folder: Path | str, identity: str) -> ReportWindowCache:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = None
        if (
            not isinstance(manifest, dict)
            or manifest.get("format") != CACHE_FORMAT
            or manifest.get("identity") != identity
        ):
            manifest = None
        return cls(folder=folder, identity=identity, manifest=manifest)

    @property
    def built_through(self) -> int | None:
        """The previous build's marker (None: no usable previous build)."""
        return None if self.manifest is None else self.manifest.get("marker")

    @property
    def built_by(self) -> str | None:
        """The previous build's builder."""
        return None if self.manifest is None else self.manifest.get("builder")

    def plan(
        self, tables: Mapping[str, tuple[Mapping[str, pl.DataType], str]], first: date, last: date
    ) -> dict[str, set[date]] | None:
        """Per table of `tables` (name -> (schema, date column)), the days of [first, last] to read from the
        warehouse (also kept as `reread`): those `changed` names and those the previous window did not cover; the
        others are `read_kept`'s. None (the whole window to read) without a usable previous build or `changed`,
        for another set of tables or columns, or with more than MAX_REREAD_DAYS to read."""
        self.reread, self._tables = None, dict(tables)
        manifest = self.manifest
        if manifest is None or self.changed is None:
            return None
        if manifest.get("schemas") != {name: _schema_text(schema) for name, (schema, _) in tables.items()}:
            return None
        covered_first, covered_last = date.fromisoformat(manifest["first"]), date.fromisoformat(manifest["last"])
        window = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        uncovered = {day for day in window if not covered_first <= day <= covered_last}
        reread = {
            name: {day for day in self.changed.get(name, set()) if first <= day <= last} | uncovered for name in tables
        }
        if max((len(days) for days in reread.values()), default=0) > MAX_REREAD_DAYS:
            return None
        self.reread = reread
        return reread

    def plan_whole_window(self) -> None:
        """The whole window is read after all (a kept file could not be read): `reread` None."""
        self.reread = None

    def read_kept(self, name: str, first: date, last: date) -> pl.DataFrame | None:
        """The previous build's rows of table `name` in [first, last] less the days `plan` gave to read, in the
        order they were read; None when a file is missing, unreadable or of other columns."""
        schema, date_column = self._tables[name]
        try:
            files = self.manifest["files"][name]
            months = [files[month] for month in sorted(files) if _month(first) <= month <= _month(last)]
            parts = [pl.read_ipc(self.folder / file) for file in months]
        except (OSError, KeyError, TypeError, pl.exceptions.PolarsError):
            return None
        if any(_schema_text(part.schema) != _schema_text(schema) for part in parts):
            return None
        kept = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=dict(schema))
        return kept.filter(
            pl.col(date_column).is_between(first, last) & ~pl.col(date_column).is_in(sorted(self.reread[name]))
        )

    def save(self, frames: Mapping[str, pl.DataFrame], first: date, last: date) -> None:
        """Writes the months of `frames` (the window's rows of each table `plan` was given) that this build read
        from the warehouse (every month when it read the whole window), then the manifest, then removes the files
        no longer listed. Does nothing without a `marker`."""
        if self.marker is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        build = uuid.uuid4().hex[:12]
        previous = self.manifest["files"] if self.manifest is not None and self.reread is not None else {}
        files: dict[str, dict[str, str]] = {}
        window = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        for name, frame in frames.items():
            column = pl.col(self._tables[name][1])
            listed = {month: file for month, file in previous.get(name, {}).items() if month >= _month(first)}
            days = window if self.reread is None else sorted(self.reread[name])
            for month in sorted({_month(day) for day in days}):
                month_first = date.fromisoformat(f"{month}-01")
                next_month = (month_first + timedelta(days=31)).replace(day=1)
                rows = frame.filter((column >= month_first) & (column < next_month))
                if rows.is_empty():
                    listed.pop(month, None)
                    continue
                listed[month] = f"{name}.{month}.{build}.arrow"
                rows.write_ipc(self.folder / listed[month], compression="lz4")
            files[name] = listed
        manifest = {
            "format": CACHE_FORMAT,
            "identity": self.identity,
            "marker": self.marker,
            "builder": self.builder,
            "first": first.isoformat(),
            "last": last.isoformat(),
            "schemas": {name: _schema_text(frame.schema) for name, frame in frames.items()},
            "files": files,
        }
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{MANIFEST}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(manifest, out)
        os.replace(temporary, self.folder / MANIFEST)
        self.manifest = manifest
        listed_now = {file for table in files.values() for file in table.values()}
        for path in self.folder.glob("*.arrow"):
            if path.name not in listed_now:
                path.unlink(missing_ok=True)
