"""Postal addresses of a dwelling: a house number and a street, in US/UK, German and French order.

A street name alone ("Main Street"), a city or a postcode are not personal data; a house number with a street
is. The street is recognised by its type word (Street, Ave, straße, rue, ...) or, without one, by a postcode
after the city (UK: "12 Deansgate, Manchester M3 4LQ"). The city, state and postcode that follow are taken
into the same span when present.
"""

from __future__ import annotations

import re

from llmops_pii.findings import Finding

__all__ = ["find"]

_WORD = r"[A-Z][A-Za-z'\u2019.-]+"
_EN_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Close|Crescent"
    r"|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Row|Walk|Gardens|Grove|Mews"
)
_UNIT = r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|#)\.? ?[\w-]{1,6})?"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"
_US_TAIL = r"(?:,? " + _WORD + r"(?: " + _WORD + r"){0,2}(?:,? [A-Z]{2})?(?: \d{5}(?:-\d{4})?)?)?"
_EN = re.compile(
    r"\d(?<![\w.,-]\d)\d{0,4}[A-Z]?(?: "
    + _WORD
    + r"){1,4} (?:"
    + _EN_TYPES
    + r")\b\.?"
    + _UNIT
    + _US_TAIL
    + r"(?: "
    + _UK_POSTCODE
    + r")?"
)
_EN_POSTCODE = re.compile(
    r"\d(?<![\w.,-]\d)\d{0,4}[A-Z]?(?: " + _WORD + r"){1,3},(?: " + _WORD + r"){1,3} " + _UK_POSTCODE + r"\b"
)
_DE = re.compile(
    r"[A-ZÄÖÜ](?<![\w][A-ZÄÖÜ])[\wäöüß-]*?(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer)"
    r" \d{1,4}[a-z]?(?:, ?\d{5} [A-ZÄÖÜ][\wäöüß-]+(?: am [A-Z][\w]+| an der [A-Z][\w]+)?)?"
)
_FR = re.compile(
    r"\d(?<![\w.,-]\d)\d{0,3}(?: ?(?:bis|ter))?,? (?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|cours)"
    r"(?: [\w'\u2019-]+){1,5}?,? \d{5} [A-Z][\w-]+(?: [A-Z][\w-]+)?"
)


_DE_HINT = re.compile(r"stra|weg |gasse|platz|allee|ring |damm|ufer")
_FR_HINT = re.compile(r"rue |avenue|boulevard|bd |place|chemin|allée|impasse|quai|cours")
_DIGIT = re.compile(r"\d")


def find(text: str) -> list[Finding]:
    if not _DIGIT.search(text):  # every address here has a house number
        return []
    lower = text.lower()
    patterns = [_EN, _EN_POSTCODE]
    if _DE_HINT.search(lower):
        patterns.append(_DE)
    if _FR_HINT.search(lower):
        patterns.append(_FR)
    return [Finding("postal_address", m.start(), m.end()) for p in patterns for m in p.finditer(text)]
