"""Dates of birth: a calendar date after words that say it is one ("born", "DOB", "date of birth", ...).

A date alone is not personal data (a release date, a log timestamp): the birth context is what makes it one.
The date must exist (no 31 February) and lie in the past.
"""

from __future__ import annotations

import re
from datetime import date

from llmops_pii.findings import Finding, keywords

__all__ = ["find"]

_MONTH_WORDS = "january february march april may june july august september october november december"
_MONTHS = _MONTH_WORDS.split()
_MONTH_NAMES = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE = re.compile(
    r"(?<![\w/.-])(?:"
    r"(?P<iso_y>\d{4})-(?P<iso_m>\d{1,2})-(?P<iso_d>\d{1,2})"
    r"|(?P<n1>\d{1,2})[/.-](?P<n2>\d{1,2})[/.-](?P<n_y>\d{4})"
    r"|(?P<dm_d>\d{1,2})(?:st|nd|rd|th)?\.? (?P<dm_m>" + _MONTH_NAMES + r") (?P<dm_y>\d{4})"
    r"|(?P<md_m>" + _MONTH_NAMES + r") (?P<md_d>\d{1,2})(?:st|nd|rd|th)?,? (?P<md_y>\d{4})"
    r")(?![\w/-]|\.\d|:\d)",
    re.I,
)
_BIRTH = keywords(
    "born",
    "birth",
    "dob",
    "d.o.b",
    "d.o.b.",
    "birthday",
    "birthdate",
    "geboren",
    "geburtsdatum",
    "né",
    "née",
    "nacimiento",
    "nascita",
    "naissance",
)


def find(text: str) -> list[Finding]:
    if not _BIRTH.search(text.lower()):
        return []
    found, previous_end = [], 0
    for match in _DATE.finditer(text):
        context = text[max(previous_end, match.start() - 32) : match.start()].lower()  # not past an earlier date
        if _BIRTH.search(context) and _exists(match):
            found.append(Finding("date_of_birth", match.start(), match.end()))
        previous_end = match.end()
    return found


def _exists(match: re.Match[str]) -> bool:
    g = match.groupdict()
    if g["iso_y"]:
        parts = [(int(g["iso_y"]), int(g["iso_m"]), int(g["iso_d"]))]
    elif g["n_y"]:  # 03/04/1985 is March 4th in the US and 3 April elsewhere: either reading will do
        y, a, b = int(g["n_y"]), int(g["n1"]), int(g["n2"])
        parts = [(y, a, b), (y, b, a)]
    elif g["dm_y"]:
        parts = [(int(g["dm_y"]), _month(g["dm_m"]), int(g["dm_d"]))]
    else:
        parts = [(int(g["md_y"]), _month(g["md_m"]), int(g["md_d"]))]
    return any(_past(*p) for p in parts)


def _month(name: str) -> int:
    prefix = name.lower()[:3]
    return next((i + 1 for i, m in enumerate(_MONTHS) if m.startswith(prefix)), 0)


def _past(year: int, month: int, day: int) -> bool:
    try:
        return date(year, month, day) <= date.today()
    except ValueError:
        return False
