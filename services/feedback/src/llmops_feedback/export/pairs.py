"""Which calls make training rows: preference pairs and approved answers, from feedback and judge scores.

Inputs are the warehouse's rows (``data`` = payload) already narrowed to one tenant and the export's filters:
``calls`` by call id, ``feedback`` newest first (the first row per ``feedback_id`` is its latest version) and
``scores`` (evaluation scores). Each finder yields ``(row, None)`` or ``(None, reason)`` for a candidate it had
to leave out, so the export can say what it skipped and why.

* **Corrections** (DPO ``correction``, SFT ``corrected``): the corrected text is chosen over the call's answer.
* **Pairwise judgments** (DPO ``pairwise``): a score whose payload names a ``compared_call_id`` (the LLM judge's
  pairwise mode, issue 9 §1) says which of the two calls answered better: ``label`` ``win``/``lose``/``tie``
  (``a``/``b``, ``better``/``worse``) or, without one, ``score`` above or below the middle of its scale. Two
  judgments of one pair that disagree (position bias the swap did not cancel) make no row.
* **Rating differences** (DPO ``rating``): calls with the same prompt whose mean ratings differ by at least
  ``min_margin`` stars (a thumbs up counts 5, down 1; end users' ratings count too, being the most common
  signal): the better-rated answer is chosen.
* **Approved** (SFT ``approved``): calls a key holder (a reviewer, not an end user) approved (thumbs up or a
  rating of at least ``approve_at``) and nobody with a key rejected (thumbs down or a rating of 2 or less).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from llmops_feedback.export.trl import Lineage, Unusable, dpo_row, output_of, prompt_of, sft_row

__all__ = ["ExportInput", "approved", "corrections", "latest_feedback", "pairwise", "rating_pairs"]

Found = tuple[dict[str, Any] | None, str | None]
_WIN = {"win", "a", "better", "call"}
_LOSE = {"lose", "loss", "b", "worse", "compared"}
PAIRS_PER_PROMPT = 10
"""At most this many rating pairs per distinct prompt (the best against the worst first)."""


@dataclass(frozen=True, slots=True)
class ExportInput:
    """One tenant's rows to export from, as the warehouse returned them."""

    calls: Mapping[str, dict[str, Any]]
    feedback: list[dict[str, Any]]
    """Latest version per feedback id (see :func:`latest_feedback`), ``data`` plus ``key_id``."""
    scores: list[dict[str, Any]]
    min_margin: float = 1.0
    approve_at: float = 4.0
    include_end_users: bool = False


def latest_feedback(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest version of each feedback id (rows come newest first), with the envelope's ``key_id``."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        data = row.get("data") or {}
        latest.setdefault(str(data.get("feedback_id")), {**data, "key_id": row.get("key_id")})
    return list(latest.values())


def _reviewer(feedback: Mapping[str, Any]) -> str | None:
    return feedback.get("user_id") or feedback.get("key_id")


def _by_key(feedback: Mapping[str, Any]) -> bool:
    return bool(feedback.get("key_id")) and feedback.get("source") != "end-user"


def _attempt(build: Any) -> Found:
    try:
        return build(), None
    except Unusable as exc:
        return None, str(exc)


def corrections(data: ExportInput, *, sft: bool) -> Iterator[Found]:
    """Each correction of a known call: a DPO pair (correction over answer), or an SFT row of the correction."""
    for fb in data.feedback:
        call = data.calls.get(str(fb.get("call_id")))
        if fb.get("kind") != "correction" or call is None:
            continue
        if not sft and not (data.include_end_users or _by_key(fb)):
            continue
        source = "corrected" if sft else "correction"
        lineage = Lineage(source, call, reviewer=_reviewer(fb), feedback_ids=(fb["feedback_id"],))
        if sft:
            yield _attempt(lambda: sft_row(prompt_of(call), fb["correction"], lineage))  # noqa: B023
        else:
            yield _attempt(lambda: dpo_row(prompt_of(call), fb["correction"], output_of(call), lineage))  # noqa: B023


def _verdict(score: Mapping[str, Any]) -> int | None:
    """+1: the scored call won; -1: the compared call won; 0: a tie; None: unreadable."""
    label = str(score.get("label") or "").lower()
    if label in _WIN or label in _LOSE or label == "tie":
        return 1 if label in _WIN else -1 if label in _LOSE else 0
    value, low, high = score.get("score"), score.get("score_min"), score.get("score_max")
    if not isinstance(value, int | float):
        return None
    middle = (low + high) / 2 if isinstance(low, int | float) and isinstance(high, int | float) else 0.5
    return (value > middle) - (value < middle)


def _judge(score: Mapping[str, Any]) -> str:
    """``name@version (model, rubric prompt vN)``: everything a judgment is only comparable under."""
    ref = score.get("evaluator") or {}
    judge = f"{ref.get('name')}@{ref.get('version')}"
    how = [str(ref["judge_model"])] if ref.get("judge_model") else []
    if ref.get("judge_prompt"):
        version = f" v{ref['judge_prompt_version']}" if ref.get("judge_prompt_version") else ""
        how.append(f"rubric {ref['judge_prompt']}{version}")
    return f"{judge} ({', '.join(how)})" if how else judge


def _judgments(scores: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]]:
    """Pairwise scores by unordered pair of calls, each with the winner's call id ('' for a tie)."""
    pairs: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for score in scores:
        other, call = score.get("compared_call_id"), score.get("call_id")
        verdict = _verdict(score) if other and call else None
        if verdict is None:
            continue
        winner = {1: call, -1: other, 0: ""}[verdict]
        pairs[tuple(sorted((str(call), str(other))))].append((str(winner), score))  # type: ignore[index]
    return pairs


def pairwise(data: ExportInput) -> Iterator[Found]:
    """One DPO pair per pair of calls a judge compared, when its judgments agree and name a winner."""
    for (a, b), judged in _judgments(data.scores).items():
        winners = {winner for winner, _ in judged}
        if len(winners) != 1 or "" in winners:
            yield None, "tie_or_conflicting_judgments"
            continue
        winner = winners.pop()
        loser = b if winner == a else a
        chosen, rejected = data.calls.get(winner), data.calls.get(loser)
        if chosen is None or rejected is None:
            yield None, "compared_call_not_exported"
            continue
        ids = tuple(str(s.get("evaluation_id")) for _, s in judged)
        lineage = Lineage("pairwise", chosen, rejected, judge=_judge(judged[0][1]), evaluation_ids=ids)
        yield _attempt(lambda: _pair(chosen, rejected, lineage))  # noqa: B023


def _pair(chosen: dict[str, Any], rejected: dict[str, Any], lineage: Lineage) -> dict[str, Any]:
    prompt = prompt_of(chosen)
    if prompt != prompt_of(rejected):
        raise Unusable("different_prompts")
    return dpo_row(prompt, output_of(chosen), output_of(rejected), lineage)


def _stars(feedback: Mapping[str, Any]) -> float | None:
    value = feedback.get("value")
    if feedback.get("kind") == "rating" and isinstance(value, int | float):
        return float(value)
    if feedback.get("kind") == "thumbs" and value in (0, 1):
        return 5.0 if value == 1 else 1.0
    return None


def _prompt_key(call: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(call.get("messages"), sort_keys=True).encode()).hexdigest()


def rating_pairs(data: ExportInput) -> Iterator[Found]:
    """DPO pairs between calls of the same prompt whose mean ratings differ by ``min_margin`` or more."""
    stars: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for fb in data.feedback:
        value = _stars(fb)
        if value is not None and str(fb.get("call_id")) in data.calls:
            stars[str(fb["call_id"])].append((value, str(fb["feedback_id"])))
    groups: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for call_id, given in stars.items():
        groups[_prompt_key(data.calls[call_id])].append((sum(v for v, _ in given) / len(given), call_id))
    for ranked in groups.values():
        ranked.sort(reverse=True)
        kept = 0
        for (high, best), (low, worst) in itertools.combinations(ranked, 2):
            if high - low < data.min_margin or kept >= PAIRS_PER_PROMPT:
                continue
            kept += 1
            ids = tuple(f for _, f in stars[best] + stars[worst])
            lineage = Lineage("rating", data.calls[best], data.calls[worst], feedback_ids=ids)
            yield _attempt(lambda: _pair(data.calls[best], data.calls[worst], lineage))  # noqa: B023


def approved(data: ExportInput) -> Iterator[Found]:
    """SFT rows of answers a key holder approved and no key holder rejected."""
    verdicts: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for fb in data.feedback:
        if (data.include_end_users or _by_key(fb)) and _stars(fb) is not None:
            verdicts[str(fb.get("call_id"))].append(fb)
    for call_id, given in verdicts.items():
        call = data.calls.get(call_id)
        values = [_stars(fb) or 0.0 for fb in given]
        if call is None or max(values) < data.approve_at or min(values) <= 2:
            continue
        approver = next(fb for fb in given if (_stars(fb) or 0.0) >= data.approve_at)
        ids = tuple(str(fb["feedback_id"]) for fb in given)
        lineage = Lineage("approved", call, reviewer=_reviewer(approver), feedback_ids=ids)
        yield _attempt(lambda: sft_row(prompt_of(call), output_of(call), lineage))  # noqa: B023
