"""A judge's answer in every odd shape: one score on the rubric's scale, or malformed with the reason, never a guess."""

from __future__ import annotations

import pytest
from llmops_evaluation.judges.parsing import parse_preference, parse_score


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Score: 4/5", 4),
        ("Score: 4/5\nReason: the answer names the depot (2 facts, 1 date).", 4),
        ("4/5", 4),
        ("I rate it 3 out of 5.", 3),
        ("four", 4),
        ("Score: four", 4),
        ("**4**", 4),
        ("The answer is accurate.\n\n**Score:** **5**", 5),
        ('{"score": 4}', 4),
        ('{"Score": 2, "reason": "it misses the date (3 days)"}', 2),
        ('```json\n{"rating": 3.5, "why": "ok"}\n```', 3.5),
        ('Here is my verdict: {"score": "4/5"} as asked.', 4),
        ("Rating: 4.5", 4.5),
        ("Rating: 4.5 / 5", 4.5),
        ("score=1", 1),
        ("  5  ", 5),
        ("5.", 5),
        ("Score: 4/5. Overall 4/5.", 4),  # the same score twice is one score
        ("Grade: [3]", 3),
    ],
)
def test_a_score_is_read_from_every_shape(text: str, score: float) -> None:
    parsed = parse_score(text, 1, 5)
    assert parsed.score == score, parsed.why


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "answered nothing"),
        (None, "answered nothing"),
        ("   \n", "answered nothing"),
        ("The answer is good and complete.", "no score"),
        ("It lists 3 steps and 2 caveats.", "no score"),  # numbers in the reasoning are not a score
        ("Score: 4/5, or maybe Score: 3/5", "several different scores in the judge's answer (3/5, 4/5)"),
        ("3/5 for accuracy, 5/5 for tone", "several different scores"),
        ("Score: 8/10", "another scale (8/10; the rubric's is 1-5)"),
        ("Score: 7", "score 7 is off the rubric's scale 1-5"),
        ("Score: 0", "off the rubric's scale"),
        ("Score: -2", "off the rubric's scale"),
        ('{"score": null}', "no score"),
        ('{"score": true}', "no score"),
        ('{"score": "excellent"}', "no score"),
        ('{"verdict": "good"}', "no score"),
        ("Score: N/A", "no score"),
        ("I cannot judge this answer.", "no score"),
    ],
)
def test_what_holds_no_single_score_on_the_scale_is_malformed(text: str | None, why: str) -> None:
    parsed = parse_score(text, 1, 5)
    assert parsed.score is None
    assert why in parsed.why


def test_the_scale_is_the_rubrics() -> None:
    assert parse_score("Score: 8/10", 0, 10).score == 8
    assert parse_score("0.75", 0, 1).score == 0.75
    assert parse_score("Score: 5/5", 0, 10).score is None


def test_a_huge_answer_is_read_only_in_its_first_part() -> None:
    assert parse_score("Score: 4/5 " + "x" * 1_000_000, 1, 5).score == 4
    assert parse_score("x" * 1_000_000 + " Score: 4/5", 1, 5).score is None


@pytest.mark.parametrize(
    ("text", "preferred"),
    [
        ("Preferred: A", "A"),
        ("Preferred: B\nReason: B cites the context.", "B"),
        ("Preferred: tie", "tie"),
        ("[[A]]", "A"),
        ("[[C]]", "tie"),
        ("Answer B is better.", "B"),
        ("B", "B"),
        ('{"preferred": "A"}', "A"),
        ('```json\n{"winner": "b"}\n```', "B"),
        ("Verdict: neither", "tie"),
        ("**Preferred:** Answer A", "A"),
    ],
)
def test_a_preference_is_read_from_every_shape(text: str, preferred: str) -> None:
    found, why = parse_preference(text)
    assert found == preferred, why


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "answered nothing"),
        ("Both have merits.", "no preference"),
        ("Preferred: A. On reflection, preferred: B.", "ambiguous (A, B)"),
        ('{"preferred": "the first"}', "ambiguous"),
    ],
)
def test_what_holds_no_single_preference_is_malformed(text: str, why: str) -> None:
    found, reason = parse_preference(text)
    assert found is None and why in reason
