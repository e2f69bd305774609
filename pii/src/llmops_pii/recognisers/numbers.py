"""Emails, payment cards, IBANs and IP addresses: a candidate pattern, then the value's own check.

Cards pass Luhn and an issuer prefix, IBANs mod 97 (python-stdnum; a country's own BBAN check is not
required), IPs parse as addresses (the standard library). Context rules keep look-alikes out: a digit run
after "order", "tracking" or "invoice" is not a card, an address after "version", "build" or "upgrade" is not
an IP, and the local addresses a server binds (127.0.0.1, 0.0.0.0, ::1) are not personal data.
"""

from __future__ import annotations

import ipaddress
import re

from stdnum import iban as stdnum_iban
from stdnum import luhn

from llmops_pii.findings import Finding, context_before, keywords

__all__ = ["find", "find_emails"]

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
_CARD = re.compile(r"\d(?<![\d.,-]\d)(?:[ -]?\d){12,18}(?![\d-]|[.,]\d)")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|22)|35)")
_IBAN = re.compile(r"[A-Z](?<![\w][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|::?)(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_D4 = re.compile(r"\d{4}")  # cards and IBANs have a group of four digits: texts without one skip both
_DOT_DIGIT = re.compile(r"\d\.\d")
_LOCAL = frozenset({"127.0.0.1", "::1", "0.0.0.0", "::"})  # what a server binds, not a person's
_NOT_CARD = keywords("order", "tracking", "invoice", "ticket", "ref", "isbn", "part", "serial", "#")
_NOT_IP = keywords("version", "build", "release", "upgrade", "update", "sdk", "python", "numpy", "firmware", "v")


def find_emails(text: str) -> list[Finding]:
    if "@" not in text:
        return []
    return [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text) if _email_start(text, m)]


def find(text: str) -> list[Finding]:
    """Cards, IBANs and IP addresses (emails: :func:`find_emails`)."""
    found: list[Finding] = []
    if _D4.search(text):
        found += [Finding("credit_card", m.start(), m.end()) for m in _CARD.finditer(text) if _is_card(text, m)]
        found += _ibans(text)
    if _DOT_DIGIT.search(text):
        found += [Finding("ip_address", m.start(), m.end()) for m in _IPV4.finditer(text) if _is_ip(text, m)]
    if "::" in text or text.count(":") >= 4:
        found += [Finding("ip_address", m.start(), m.end()) for m in _IPV6.finditer(text) if _is_ip(text, m)]
    return found


def _email_start(text: str, match: re.Match[str]) -> bool:
    return match.group()[0] not in "._%+-"


def _is_card(text: str, match: re.Match[str]) -> bool:
    raw = match.group()
    separators = set(re.sub(r"\d", "", raw))
    digits = raw.replace(" ", "").replace("-", "")
    if len(separators) > 1 or not _CARD_PREFIX.match(digits) or not luhn.is_valid(digits):
        return False
    return not _NOT_CARD.search(context_before(text, match.start(), 24))


def _ibans(text: str) -> list[Finding]:
    found = []
    for match in _IBAN.finditer(text):
        value, end = match.group(), match.end()
        # The pattern may have taken a following group of letters or digits: drop groups until it checks.
        while value and not stdnum_iban.is_valid(value, check_country=False):
            cut = value.rfind(" ")
            if cut < 15:
                value = ""
                break
            value, end = value[:cut], match.start() + cut
        if value:
            found.append(Finding("iban", match.start(), end))
    return found


def _is_ip(text: str, match: re.Match[str]) -> bool:
    try:
        address = ipaddress.ip_address(match.group())
    except ValueError:
        return False
    if str(address) in _LOCAL:
        return False
    return not _NOT_IP.search(context_before(text, match.start(), 24))
