"""Tenants' own kinds of personal data: the regular expressions of their policy records, run by RE2.

A tenant's ``custom_patterns`` are user input that runs on every text of its calls, on ingest's and the
gateway's hot paths. Python's ``re`` backtracks and cannot be interrupted: ``(a+)+$`` takes exponential time on
a crafted text. RE2 runs in time linear in the text for every pattern it accepts, and refuses what it cannot
run that way (backreferences, lookaround) with a reason; the same choice as the evaluation service's ``regex``
heuristic (ADR 0020). On top, bounds enforced before anything runs: the pattern's length, the number of
patterns, RE2's memory per program, and no pattern that matches the empty string (it would "find" a value
between every two characters).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import re2

from llmops_pii.findings import Finding
from llmops_pii.policy import Action, PolicyError

__all__ = ["MAX_PATTERNS", "MAX_PATTERN_CHARS", "CustomPattern", "compile_pattern", "find_custom"]

MAX_PATTERN_CHARS = 512
"""Longest regex a tenant may give (the schema allows 1,024; a PII value's pattern needs far less)."""
MAX_PATTERNS = 32
"""Most custom patterns in force for one tenant, all its policy records together."""
_MAX_MEMORY = 1 << 20  # RE2's memory for one compiled program: enough for any pattern of MAX_PATTERN_CHARS


class PatternError(PolicyError):
    """A custom pattern is refused; the message says which one and why."""


@dataclass(frozen=True)
class CustomPattern:
    """A tenant's kind of personal data: its name (the label, ``[EMPLOYEE_ID]``), its action, its RE2 program."""

    name: str
    action: Action
    program: Any


def compile_pattern(name: str, regex: str, action: Action, *, where: str = "custom pattern") -> CustomPattern:
    """``regex`` compiled by RE2 within the bounds; :class:`PatternError` naming ``where`` and the cause."""
    if len(regex) > MAX_PATTERN_CHARS:
        raise PatternError(f"{where} {name!r}: the regex has {len(regex)} characters, at most {MAX_PATTERN_CHARS}")
    options = re2.Options()
    options.max_mem = _MAX_MEMORY
    options.log_errors = False
    try:
        program = re2.compile(regex, options)
    except re2.error as exc:
        cause = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(
            f"{where} {name!r}: RE2 refuses the regex ({cause}); backreferences and lookaround are not supported"
        ) from None
    if program.search("") is not None:
        raise PatternError(f"{where} {name!r}: the regex matches the empty string")
    return CustomPattern(name, action, program)


def find_custom(text: str, patterns: Iterable[CustomPattern]) -> list[Finding]:
    """Every non-empty match of ``patterns`` in ``text`` (overlaps are resolved with the built-in findings)."""
    found: list[Finding] = []
    for pattern in patterns:
        found += [
            Finding(pattern.name, m.start(), m.end()) for m in pattern.program.finditer(text) if m.end() > m.start()
        ]
    return found
