"""National identification numbers, each checked with python-stdnum's validator for its scheme.

Formatted numbers (an SSN's ``123-45-6789``, a CPF's ``123.456.789-09``, an Italian codice fiscale) are taken
on their check alone, in one pass of one pattern. Bare digit runs that several schemes share (nine digits: an
SSN, a Dutch BSN or a Canadian SIN) count only after a keyword naming the scheme, since any nine-digit order
number passes some checksum. The UK's National Insurance number has no check digit: its strict letter rules
are its check.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.us import ssn

from llmops_pii.findings import Finding, context_before, keywords

__all__ = ["find"]

_FORMATTED: dict[str, tuple[str, Callable[[str], bool]]] = {
    "ssn": (r"\d(?<![\w-]\d)\d{2}-\d{2}-\d{4}(?![\w-])", ssn.is_valid),
    "dni": (r"\b\d{8}-?[A-Z]\b", dni.is_valid),
    "nie": (r"\b[XYZ]-?\d{7}-?[A-Z]\b", nie.is_valid),
    "cpf": (r"\d(?<![\w.]\d)\d{2}\.\d{3}\.\d{3}-\d{2}(?![\w-])", cpf.is_valid),
    "cf": (r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b", codicefiscale.is_valid),
    "nir": (r"\b[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}\b", nir.is_valid),
    "aadhaar": (r"[2-9](?<![\w-][2-9])\d{3} \d{4} \d{4}(?![\w-])", aadhaar.is_valid),
    "nino": (r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", bool),
}
_ONE_PASS = re.compile("|".join(f"(?P<{name}>{pattern})" for name, (pattern, _) in _FORMATTED.items()))
_D9 = re.compile(r"\d(?<![\w.-]\d)\d{2}[ -]?\d{2,3}[ -]?\d{3,4}(?![\w-]|\.\d)")
_D11 = re.compile(r"\d(?<![\w.]\d)\d{10}(?!\w)")
_BY_KEYWORD: tuple[tuple[re.Pattern[str], re.Pattern[str], Callable[[str], bool]], ...] = (
    (keywords("ssn", "social security"), _D9, ssn.is_valid),
    (keywords("sin", "social insurance"), _D9, sin.is_valid),
    (keywords("bsn", "burgerservicenummer"), _D9, bsn.is_valid),
    (keywords("cpf"), _D11, cpf.is_valid),
    (keywords("pesel"), _D11, pesel.is_valid),
)
_ANY_KEYWORD = keywords(
    "ssn", "social security", "sin", "social insurance", "bsn", "burgerservicenummer", "cpf", "pesel"
)


_REACH = 24
"""Characters of text kept on each side of a pair of digits. A formatted number reaches at most 9 from its nearest
pair (a codice fiscale's six letters, and the character its word boundary looks at); the rest is margin for
lookarounds and for schemes added later."""

_CLUSTER = re.compile(rf"\d\d(?:[\s\S]{{0,{2 * _REACH}}}?\d\d)*")


def find(text: str) -> list[Finding]:
    stretches = _near_digit_pairs(text)
    if not stretches:  # every scheme has two digits in a row
        return []
    found = [
        Finding("national_id", m.start(), m.end())
        for start, end in stretches
        for m in _ONE_PASS.finditer(text, start, end)
        if m.lastgroup and _FORMATTED[m.lastgroup][1](m.group())
    ]
    if _ANY_KEYWORD.search(text.lower()):
        found += _after_keywords(text)
    return found


def _near_digit_pairs(text: str) -> list[tuple[int, int]]:
    """The stretches of ``text`` within ``_REACH`` of two digits in a row. Every scheme has such a pair, so every
    match lies inside one stretch, and its lookarounds too; the pattern, whose eight branches the regex engine
    tries at every position it scans, then scans only these (the same matches as over the whole text:
    ``test_national_ids_scan_only_near_digit_pairs`` compares the two). Pairs closer than twice the reach are one
    cluster, found by one regex, so a table of numbers costs one stretch, not a loop over its pairs."""
    return [(max(0, m.start() - _REACH), m.end() + _REACH) for m in _CLUSTER.finditer(text)]


def _after_keywords(text: str) -> list[Finding]:
    found = []
    for keyword, pattern, valid in _BY_KEYWORD:
        for match in pattern.finditer(text):
            if keyword.search(context_before(text, match.start(), 32)) and valid(match.group()):
                found.append(Finding("national_id", match.start(), match.end()))
    return found
