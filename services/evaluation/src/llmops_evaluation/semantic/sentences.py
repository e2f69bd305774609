"""Sentence splitting for groundedness: a documented rule set, not a model (docs/adr/0026).

Boundaries, in order:

1. line breaks: each non-empty line is split on its own, and a list marker (``-``, ``*``, ``•``, ``1.``,
   ``2)``) at its start is dropped, so each bullet of an answer is judged as a claim of its own;
2. ``.``, ``!``, ``?`` or ``…`` (with closing quotes or brackets) followed by white space and then a capital
   letter, a digit or an opening quote, except after a known abbreviation (``e.g.``, ``Dr.``, ``U.S.``...) or a
   single capital (``J. R. R. Tolkien``); ``3.5`` and ``example.com`` have no white space after the dot and
   never split;
3. the ideographic full stop and the full-width ``!`` and ``?`` (Chinese, Japanese), with or without white space
   after them.

Fragments without a letter or digit (a lone emoji, ``---``) are not sentences. The splitter is linear in the
text; callers bound the text and the number of sentences they keep.
"""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "cf", "al", "approx", "dept", "est", "fig", "inc", "ltd", "co", "corp", "no", "nos"}
    | {"vol", "pp", "st", "mt", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "u.s", "u.k", "a.m", "p.m"}
    | {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
_LIST_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d{1,3}[.)])\s+")
# End punctuation, closing quotes or brackets, white space, then (after an optional opening quote or bracket) a
# digit or a Latin, Latin-1, Greek or Cyrillic capital.
_LATIN_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9\u00c0-\u00de\u0391-\u03a9\u0400-\u042f])"
)
_CJK_END = re.compile(r"[\u3002\uff01\uff1f]+\s*")
_WORD_BEFORE = re.compile(r"(\S+)$")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order, each stripped; [] for a text without any."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_MARKER.sub("", line)
        for chunk in _split_cjk(line):
            sentences.extend(_split_latin(chunk))
    return [s for s in sentences if any(ch.isalnum() for ch in s)]


def _split_cjk(line: str) -> list[str]:
    parts, start = [], 0
    for end in _CJK_END.finditer(line):
        parts.append(line[start : end.end()].strip())
        start = end.end()
    parts.append(line[start:].strip())
    return [p for p in parts if p]


def _split_latin(chunk: str) -> list[str]:
    parts, start = [], 0
    for end in _LATIN_END.finditer(chunk):
        if _is_abbreviation(chunk[start : end.start() + 1]):
            continue
        parts.append(chunk[start : end.end()].strip())
        start = end.end()
    parts.append(chunk[start:].strip())
    return [p for p in parts if p]


def _is_abbreviation(head: str) -> bool:
    """Whether ``head`` (the text up to a period) ends with an abbreviation or an initial."""
    found = _WORD_BEFORE.search(head)
    if found is None or not head.endswith("."):
        return False
    word = found.group(1).rstrip(".").lstrip("(\"'").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())
