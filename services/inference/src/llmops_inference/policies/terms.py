"""Blocked terms as one compiled matcher: a regular expression built from a trie of the terms.

A plain alternation of N literals makes Python's ``re`` try every one at each position of the prompt; the trie
shares prefixes, so each position costs about the length of the longest term that starts there, whatever N is.
Terms are literal (``llmops.policy.published.v2`` refuses regular expressions), matched case-insensitively as
whole words, a run of white space in a term matching any run of white space in the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["TermMatcher"]

_END = ""
_Trie = dict[str, "_Trie"]


def _normal(term: str) -> str:
    return " ".join(term.lower().split())


def _atom(char: str) -> str:
    return r"\s+" if char == " " else re.escape(char)


def _pattern(node: _Trie) -> str:
    """The trie below ``node`` as a regular expression; an end of a term inside it makes the rest optional."""
    branches = [_atom(char) + _pattern(child) for char, child in sorted(node.items()) if char != _END]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body


class TermMatcher:
    """Finds the first blocked term in texts and says which policy blocks it (never which term it was)."""

    def __init__(self, terms: Mapping[str, str]) -> None:
        """``terms``: term -> the id of the policy that blocks it (the first one named wins)."""
        self._policies: dict[str, str] = {}
        trie: _Trie = {}
        for term, policy_id in terms.items():
            normal = _normal(term)
            self._policies.setdefault(normal, policy_id)
            node = trie
            for char in normal:
                node = node.setdefault(char, {})
            node[_END] = {}
        # Lower-cased text searched case-sensitively: about 3 times faster than re.IGNORECASE on the same text.
        self._regex = re.compile(rf"(?<!\w)(?:{_pattern(trie)})(?!\w)")

    def __len__(self) -> int:
        return len(self._policies)

    def blocked_by(self, texts: Iterable[str]) -> str | None:
        """The id of the policy whose term one of ``texts`` contains, or None."""
        for text in texts:
            found = self._regex.search(text.lower())
            if found is not None:
                return self._policies[_normal(found.group())]
        return None
