"""Names of persons: name lists from Faker (its person providers of 40+ locales) plus context rules.

No NER model can be installed offline here (docs/pii.md compares the approaches). A run of capitalised words is
a name when it starts with a known first name and ends in a word that is not a common English word (or is a
known surname), or when it ends in a known surname after a capitalised word that is not a common word. A
single known name counts after words that introduce a person ("Dear", "Mr", "my name is", "Regards,"). Public
figures and fictional characters (data/public_figures.txt) are topics, not personal data, and places and
products are told apart by the nouns they end in ("Victoria Station", "Tesla Model 3").
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from importlib.resources import files

from faker.providers.lorem.en_US import Provider as EnglishWords

from llmops_pii.findings import Finding, context_before

__all__ = ["find", "public_figures"]

_LOCALE_NAMES = (
    "en_US en_GB en_IE en_IN en_NG en_KE en_PK de_DE fr_FR es_ES es_MX it_IT pt_BR pt_PT nl_NL pl_PL sv_SE da_DK "
    "no_NO fi_FI cs_CZ hu_HU ro_RO tr_TR id_ID sw yo_NG ha_NG ig_NG tw_GH zu_ZA ja_JP zh_CN ko_KR hi_IN vi_VN "
    "th_TH he_IL el_GR hr_HR sk_SK sl_SI"
)
_LOCALES = _LOCALE_NAMES.split()
_FIRST_ATTRS = ("first_names", "first_names_male", "first_names_female", "first_romanized_names")
_LAST_ATTRS = ("last_names", "last_romanized_names")
_NOT_NAME_WORDS = (
    "station street park falls river lake mountain airport university college school hospital hotel bridge square "
    "center centre zoo museum tower county city valley beach island bay road avenue model pro max air mini plus "
    "ultra edition tour retro high series cup award prize act address day week inc corp ltd group bank labs studio "
    "jr sr i ii iii monday tuesday wednesday thursday friday saturday sunday january february march april may june "
    "july august september october november december dear hi hello thanks regards please my the"
)
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())
"""Words that end places, products and works ("Victoria Station", "Eras Tour") or open letters: never a surname."""
_REST = r"[a-z]+(?:-[A-Z]?[a-z]+|['\u2019][A-Z][a-z]+)*"
"""A capitalised word after its capital: O'Brien, Jean-Luc (not a possessive 's)."""
_PARTICLE = r"(?:(?:de|da|van|von|der|di|del|le|bin|al) )?"
_RUN = re.compile(r"[A-Z](?<![\w][A-Z])" + _REST + r"(?: " + _PARTICLE + "[A-Z]" + _REST + r"){0,3}\b")
_WORDS = re.compile(r"\S+")
_DESIGNATOR = re.compile(r"-[A-Z0-9]| \d")
_OPENING = re.compile(r"(?:^|[.!?:;]\s+|\n\s*)$")
_INTRO = re.compile(
    r"(?:\b(?:dear|hi|hello|mr|mrs|ms|miss|mx|dr|prof|name is|i am|i'm|regards|thanks|sincerely|cheers|"
    r"patient|tenant|customer|client|employee|assign(?:ed)? to|spoke with|talked to|contact)[.,:]?\s*)$"
)


@cache
def _lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """First names, surnames, and common English words (lower case), read once."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in _LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        first.update(n for a in _FIRST_ATTRS for n in getattr(provider, a, ()) if n.isalpha() and n.isascii())
        last.update(n for a in _LAST_ATTRS for n in getattr(provider, a, ()) if n.isalpha() and n.isascii())
    common = frozenset(w.lower() for w in EnglishWords.word_list) | _NOT_NAMES
    return frozenset(first), frozenset(last), common


@cache
def public_figures() -> frozenset[str]:
    """The names of public figures, lower case, from the shipped list."""
    lines = files("llmops_pii").joinpath("data/public_figures.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def find(text: str, extra_public: frozenset[str] = frozenset()) -> list[Finding]:
    first, last, common = _lists()
    public = public_figures() | extra_public
    found = []
    for match in _RUN.finditer(text):
        run = match.group()
        if " " not in run and run not in first and run not in last:
            continue  # the common case, a capitalised word opening a sentence: decided without more work
        tokens = _tokens(text, match, common)
        if len(tokens) == 1 and tokens[0][1] not in first and tokens[0][1] not in last:
            continue  # a lone capitalised word is a name only when it is a known one
        start = tokens[0][0] if tokens else match.start()
        opening = _sentence_start(text, start) and not _INTRO.search(context_before(text, start, 24))
        span = _name_in(tokens, first, last, common, opening) or _introduced(text, tokens, first, last, common)
        if span and not _is_public(text, span, public):
            found.append(Finding("person", *span))
    return found


Token = tuple[int, str]
"""A word of a run of capitalised words, with its offset in the text."""


def _tokens(text: str, match: re.Match[str], common: frozenset[str]) -> list[Token]:
    """The run's words without the common ones that open it ("Dear", "Please") and without a product's
    designator ("Tesla Model 3": the word before the "3" names the product, so it goes too)."""
    tokens = [(m.start() + match.start(), m.group()) for m in _WORDS.finditer(match.group())]
    if _is_product(text, match):
        tokens.pop()
    while tokens and tokens[0][1].lower() in common:
        tokens.pop(0)
    return tokens


def _is_product(text: str, match: re.Match[str]) -> bool:
    """A model designator follows: "Jordan 1", "Model 3", "Mach-E"."""
    return _DESIGNATOR.match(text, match.end()) is not None


def _sentence_start(text: str, start: int) -> bool:
    return _OPENING.search(text[max(0, start - 4) : start]) is not None


def _name_in(
    tokens: list[Token], first: frozenset[str], last: frozenset[str], common: frozenset[str], opening: bool
) -> tuple[int, int] | None:
    """A name in the run: from a first name to the last word that is not a common one, or a capitalised word
    before a final surname (unless that word opens a sentence: "Summarise Lincoln's ..." is an imperative)."""
    tokens = list(tokens)
    while tokens and tokens[-1][1].lower() in common and tokens[-1][1] not in last:
        tokens.pop()
    for i, (start, word) in enumerate(tokens[:-1]):
        if word.lower() in common:
            continue
        surname_rule = i == len(tokens) - 2 and tokens[-1][1] in last and not (i == 0 and opening)
        if word in first or surname_rule:
            return start, tokens[-1][0] + len(tokens[-1][1])
    return None


def _introduced(
    text: str, tokens: list[Token], first: frozenset[str], last: frozenset[str], common: frozenset[str]
) -> tuple[int, int] | None:
    """A lone known name after words that introduce a person ("Dear Hannah", "Regards, Okafor")."""
    if not tokens:
        return None
    start, word = tokens[0]
    known = (word in first or word in last) and word.lower() not in common
    if known and _INTRO.search(context_before(text, start, 24)):
        return start, start + len(word)
    return None


def _is_public(text: str, span: tuple[int, int], public: frozenset[str]) -> bool:
    """The name is a public figure's, or part of one ("Luther King"), or contains one."""
    name = f" {text[span[0] : span[1]].lower()} "
    return any(name in f" {figure} " or f" {figure} " in name for figure in public)
