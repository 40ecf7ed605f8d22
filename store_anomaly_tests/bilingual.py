"""Test helper: compare the two languages of a text (the numbers they quote, whether it is Chinese)."""

from __future__ import annotations

import re
from collections import Counter

# A number as the texts write it: sign, thousands separators, decimals ("-3.2", "$3,561" -> "3,561", "+14%").
NUMBER = re.compile(r"[-+]?\d+(?:,\d{3})*(?:\.\d+)?")
CJK = re.compile(r"[\u4e00-\u9fff]")


def numbers(text: str | None) -> Counter:
    """The multiset of the numbers in `text`."""
    return Counter(NUMBER.findall(text or ""))


def is_chinese(text: str | None) -> bool:
    return bool(CJK.search(text or ""))
