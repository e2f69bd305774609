"""Reading a judge's answer: a score on the rubric's scale, or a preference between two answers, or why not.

Judges answer in prose, and in every shape: ``Score: 4/5``, ``4/5``, ``**4**``, ``four``, ``{"score": 4}``
(bare or in a code fence), ``Rating: 4.5``. What cannot be read as exactly one score on the rubric's scale is
*malformed*, never a guess: no number, several different scores, a number off the scale, or a fraction on
another scale (``8/10`` for a 1-5 rubric: rescaling would put words in the judge's mouth). A number in the
judge's reasoning ("the answer lists 3 steps") is not a score: only a labelled score (``score``, ``rating``,
``grade``), a fraction, a bold number, a JSON field or an answer that is nothing but a number count.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Parsed", "Preference", "parse_preference", "parse_score"]

_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_NUMBER = r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)|" + "|".join(_WORDS)
_LABELLED = re.compile(
    rf"\b(?:score|rating|grade|rated|overall)\b\s*(?:is|of|=|:)?\s*[*_`\[(]*\s*({_NUMBER})\b(?:\s*(?:/|out\s+of)\s*({_NUMBER})\b)?",
    re.IGNORECASE,
)
_FRACTION = re.compile(rf"(?<![\w.])({_NUMBER})\s*(?:/|\bout\s+of\b)\s*({_NUMBER})\b", re.IGNORECASE)
_BOLD = re.compile(rf"(?:\*\*|__)\s*({_NUMBER})\s*(?:\*\*|__)", re.IGNORECASE)
_BARE = re.compile(rf"^[\s*_`\[(\"']*({_NUMBER})[\s*_`\])\"'.!]*$", re.IGNORECASE)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_SCORE_KEYS = ("score", "rating", "grade")
_PREFERENCE_KEYS = ("preferred", "preference", "winner", "choice", "verdict", "better")
_MAX_READ = 16_384

Preference = Literal["A", "B", "tie"]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A score read from a judge's answer, or (``score`` None) why none could be read."""

    score: float | None
    why: str = ""


def _number(token: str) -> float:
    word = _WORDS.get(token.lower())
    return float(word) if word is not None else float(token)


def parse_score(text: str | None, low: float, high: float) -> Parsed:
    """The one score in ``text`` on the scale ``low``..``high``, else :class:`Parsed` with ``score`` None."""
    body = (text or "").strip()[:_MAX_READ]
    if not body:
        return Parsed(None, "the judge answered nothing")
    candidates = _from_json(body)
    if candidates is None:
        candidates = _labelled(body) or _fractions(body) or _bold(body) or _bare(body)
    if not candidates:
        return Parsed(None, "no score in the judge's answer")
    return _one_on_scale(candidates, low, high)


def _one_on_scale(candidates: list[tuple[float, float | None]], low: float, high: float) -> Parsed:
    distinct = sorted(set(candidates), key=lambda c: (c[0], c[1] or 0))
    if len({value for value, _ in distinct}) > 1:
        shown = ", ".join(_show(v, d) for v, d in distinct)
        return Parsed(None, f"several different scores in the judge's answer ({shown})")
    value, denominator = distinct[0]
    if not math.isfinite(value):
        return Parsed(None, "the judge's score is not a finite number")
    scale = f"{_show(low, None)}-{_show(high, None)}"
    if denominator is not None and denominator != high:
        return Parsed(None, f"the judge scored on another scale ({_show(value, denominator)}; the rubric's is {scale})")
    if not low <= value <= high:
        return Parsed(None, f"the judge's score {_show(value, None)} is off the rubric's scale {scale}")
    return Parsed(value)


def _show(value: float, denominator: float | None) -> str:
    number = f"{value:g}"
    return f"{number}/{denominator:g}" if denominator is not None else number


def _from_json(body: str) -> list[tuple[float, float | None]] | None:
    """Scores of a JSON object (the whole answer, a fenced block or an object inside the prose); None: no JSON
    object with a score field, so the prose rules apply."""
    for document in _json_documents(body):
        value = _field(document, _SCORE_KEYS)
        if value is None:
            continue
        if isinstance(value, bool):
            return []
        if isinstance(value, int | float):
            return [(float(value), None)]
        if isinstance(value, str):
            return _labelled(f"score: {value}") or _fractions(value) or _bare(value) or []
        return []
    return None


def _json_documents(body: str) -> list[Any]:
    texts = [body, *(m.group(1) for m in _FENCE.finditer(body)), *(m.group(0) for m in _OBJECT.finditer(body))]
    documents = []
    for text in texts:
        try:
            documents.append(json.loads(text))
        except ValueError:
            continue
    return documents


def _field(document: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(document, dict):
        return None
    lowered = {str(k).lower(): v for k, v in document.items()}
    for key in keys:
        if key in lowered:
            return lowered[key]
    return None


def _labelled(body: str) -> list[tuple[float, float | None]]:
    return [(_number(m.group(1)), _number(m.group(2)) if m.group(2) else None) for m in _LABELLED.finditer(body)]


def _fractions(body: str) -> list[tuple[float, float | None]]:
    return [(_number(m.group(1)), _number(m.group(2))) for m in _FRACTION.finditer(body)]


def _bold(body: str) -> list[tuple[float, float | None]]:
    return [(_number(m.group(1)), None) for m in _BOLD.finditer(body)]


def _bare(body: str) -> list[tuple[float, float | None]]:
    match = _BARE.match(body)
    return [(_number(match.group(1)), None)] if match else []


_PREFERRED = re.compile(
    r"\b(?:preferred|preference|winner|better|verdict|choice)\b\s*(?:answer|response)?\s*(?:is|:|=)?\s*[*_`\[(\"']*\s*"
    r"(?:answer\s+|response\s+)?(A|B|tie|neither|equal|both)\b",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
_ANSWER_IS_BETTER = re.compile(r"\b(?:answer|response)\s+(A|B)\s+is\s+(?:better|preferred|stronger)\b", re.IGNORECASE)
_BARE_CHOICE = re.compile(r"^[\s*_`\[(\"']*(A|B|tie)[\s*_`\])\"'.!]*$", re.IGNORECASE)


def parse_preference(text: str | None) -> tuple[Preference | None, str]:
    """Which of two answers the judge preferred (``A``, ``B`` or ``tie``), or None and why not."""
    body = (text or "").strip()[:_MAX_READ]
    if not body:
        return None, "the judge answered nothing"
    found: set[str] = set()
    for document in _json_documents(body):
        value = _field(document, _PREFERENCE_KEYS)
        if isinstance(value, str):
            found.add(value.strip())
    if not found:
        for pattern in (_PREFERRED, _BRACKETED, _ANSWER_IS_BETTER, _BARE_CHOICE):
            found = {m.group(1) for m in pattern.finditer(body)}
            if found:
                break
    choices = {_choice(v) for v in found}
    if not choices:
        return None, "no preference in the judge's answer"
    if None in choices or len(choices) > 1:
        return None, f"the judge's preference is ambiguous ({', '.join(sorted(found))})"
    return choices.pop(), ""


def _choice(value: str) -> Preference | None:
    lowered = value.strip().lower()
    if lowered in {"a", "answer a"}:
        return "A"
    if lowered in {"b", "answer b"}:
        return "B"
    if lowered in {"tie", "c", "neither", "equal", "both"}:
        return "tie"
    return None
