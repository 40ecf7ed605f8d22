"""Every text a person reads (alert descriptions and checklists, notifications, report pages), in each working
language of the operations team: one catalog per language, the same keys in each.

A shared toolkit (it imports only `settings`), so every stage can use it.

Public API
----------
`texts_for(language) -> Texts`: the catalog of `language` ("en" or "zh"; `settings.LANGUAGES`). The platform's
    language is `settings.language_from_env()` (STORE_ANOMALY_LANGUAGE, default en); alerts are written in
    every language (`description` / `description_zh`).
`Texts(key, **values) -> str`: the text of `key` with its `{placeholders}` filled (`str.format`).
`Texts.has(key)`: whether the catalog holds `key` (texts keyed by data, e.g. an alert family).
`Texts.plural(key, count, **values)`: `key.one` when count == 1, else `key.other`.
`Texts.join(items)`, `Texts.clauses(items)`, `Texts.sentences(items)`: a list ("a, b" / "a、b"), clauses
    ("a; b" / "a；b") and sentences ("A. B." / "A。B。") in the language's punctuation; empty items dropped.
`Texts.holiday(name)`: a public holiday's name in the language (the `holidays` package names them in English
    only; names the catalog does not know stay as they are).

How to add a text
-----------------
1. Pick a key in the area's namespace: `alert.*` (descriptions), `action.*` (checklists), `notify.*`
   (notifications), `report.*` (HTML pages), `incident.*` (platform incidents); a new area gets a new prefix.
2. Add it to `en.py` AND `zh.py` with the same `{placeholders}` (same names, same format specs):
   `store_anomaly_tests/test_texts.py` fails on a key or a placeholder that one catalog lacks.
3. Fill the placeholders with values formatted once in code (`kpis.catalog.format_value`, `fmt_pct`, ISO
   dates), never inside one language: both texts then quote the same figures, which the tests compare.
4. Write the Chinese as an operations team would say it (simplified Chinese, full-width punctuation ，。；：（）),
   not word by word; keep identifiers (metric columns, rule names, alert ids, commands, WARNING/CRITICAL) as
   they are. Call it as `texts_for(language)("area.key", name=value)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from store_anomaly.settings import LANGUAGES
from store_anomaly.texts import en, zh

CATALOGS: dict[str, dict[str, str]] = {"en": en.TEXTS, "zh": zh.TEXTS}
HOLIDAY_NAMES: dict[str, dict[str, str]] = {"en": en.HOLIDAY_NAMES, "zh": zh.HOLIDAY_NAMES}
HTML_LANG: dict[str, str] = {"en": "en", "zh": "zh-CN"}


@dataclass(frozen=True)
class Texts:
    """One language's catalog; see the module docstring."""

    language: str

    def __call__(self, key: str, /, **values: object) -> str:
        try:
            template = CATALOGS[self.language][key]
        except KeyError:
            raise KeyError(f"no text {key!r} in the {self.language!r} catalog (store_anomaly/texts)") from None
        return template.format(**values) if values else template.format()

    def has(self, key: str) -> bool:
        return key in CATALOGS[self.language]

    def plural(self, key: str, count: int, /, **values: object) -> str:
        return self(f"{key}.{'one' if count == 1 else 'other'}", count=count, **values)

    def join(self, items: Iterable[str]) -> str:
        return self("join.list").join(item for item in items if item)

    def clauses(self, items: Iterable[str]) -> str:
        return self("join.clause").join(item for item in items if item)

    def sentences(self, items: Iterable[str | None]) -> str:
        return self("join.sentence").join(item for item in items if item)

    def holiday(self, name: str) -> str:
        names = HOLIDAY_NAMES[self.language]
        base = name.removesuffix(" (observed)")
        if base != name:
            return self("holiday.observed", name=names.get(base, base))
        return names.get(name, name)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.language]


@cache
def texts_for(language: str) -> Texts:
    """The catalog of `language`; ValueError for a language without one."""
    if language not in LANGUAGES or language not in CATALOGS:
        raise ValueError(f"no texts in language {language!r}: one of {', '.join(LANGUAGES)}")
    return Texts(language)


__all__ = ["CATALOGS", "LANGUAGES", "Texts", "texts_for"]
