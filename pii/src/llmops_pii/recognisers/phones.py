"""Phone numbers in international and national formats, validated by phonenumbers (libphonenumber's metadata).

A candidate is a run of digits with the separators phone numbers are written with. One with a country code
(``+44 ...``) is parsed as it is; one without must look like a phone number to a reader before it is parsed
with the default region: a bare digit run (an order number, an epoch timestamp) needs a phone keyword before it,
and a formatted one must not follow a keyword that names another kind of number (order, invoice, ISBN, version).
libphonenumber then keeps only numbers its metadata calls valid (a real country, area and length).
"""

from __future__ import annotations

import re

import phonenumbers

from llmops_pii.findings import Finding, context_before, keywords

__all__ = ["find"]

_CANDIDATE = re.compile(
    r"[+(\d](?<![\w+.,/:-][+(\d])"  # the first character, then what may not stand before it (fast to scan for)
    r"(?:(?<=\+)\d{1,3}[ .-]?)?(?:(?<=\()\d{1,5}\)[ .-]?)?"  # a country code after "+", an area code in "()"
    r"\d{0,5}(?:[ .-]\d{1,8}){0,5}(?![\w/]|[.,:-]\d)"
)
_PHONE_WORDS = keywords("phone", "tel", "call", "mobile", "cell", "whatsapp", "text", "sms", "fax", "reach", "ring")
_OTHER_NUMBER = keywords("order", "invoice", "isbn", "version", "build", "tracking", "ticket", "part", "ref", "serial")


def find(text: str, region: str = "US") -> list[Finding]:
    found = []
    for match in _CANDIDATE.finditer(text):
        raw = match.group()
        if sum(c.isdigit() for c in raw) >= 7 and _plausible(text, match.start(), raw) and _valid(raw, region):
            found.append(Finding("phone", match.start(), match.end()))
    return found


def _plausible(text: str, start: int, raw: str) -> bool:
    if raw.startswith("+"):
        return True
    before = context_before(text, start, 32)
    if _OTHER_NUMBER.search(before):
        return False
    return bool(_PHONE_WORDS.search(before)) or re.search(r"[ ()-]", raw) is not None


def _valid(raw: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(raw, region))
    except phonenumbers.NumberParseException:
        return False
