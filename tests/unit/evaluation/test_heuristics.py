"""Each heuristic on its own, with the edge cases of issue 9's "Bad input": empty, huge, non-UTF-8, fenced JSON."""

from __future__ import annotations

import dataclasses
import time

import pytest
from llmops_evaluation.evaluators import ConfigError, validate_params
from llmops_evaluation.heuristics import KINDS, Answer, Verdict
from llmops_evaluation.heuristics.secrets import SECRET_LEADS, SECRET_PATTERNS
from llmops_evaluation.heuristics.structured import extract_json

CAP = 262_144


def judge(kind: str, text: str | None, params: dict[str, object] | None = None, **answer: bool) -> list[Verdict]:
    heuristic = KINDS[kind]
    return heuristic.build(validate_params(kind, params or {}))(Answer.of(text, cap=CAP, **answer))


def one(kind: str, text: str | None, params: dict[str, object] | None = None, **answer: bool) -> Verdict:
    [verdict] = judge(kind, text, params, **answer)
    return verdict


# --- the answer itself ----------------------------------------------------------------------------------


def test_an_answer_is_capped_but_keeps_its_whole_length() -> None:
    answer = Answer.of("x" * 10, cap=4)
    assert (answer.text, answer.length, answer.truncated) == ("xxxx", 10, True)


def test_no_output_is_an_empty_answer() -> None:
    assert Answer.of(None, cap=CAP) == Answer(text="", length=0)


# --- length -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "passed"),
    [("", "too_short", False), ("hello", "ok", True), ("x" * 11, "too_long", False), (None, "too_short", False)],
)
def test_length_bounds(text: str | None, label: str, passed: bool) -> None:
    verdict = one("length", text, {"min_chars": 1, "max_chars": 10})
    assert (verdict.label, verdict.passed) == (label, passed)


def test_length_counts_the_whole_answer_beyond_the_cap() -> None:
    verdict = one("length", "x" * (CAP + 5), {"max_chars": CAP})
    assert (verdict.score, verdict.label) == (CAP + 5, "too_long")


def test_length_bounds_must_be_ordered() -> None:
    with pytest.raises(ConfigError, match="max_chars must not be below min_chars"):
        validate_params("length", {"min_chars": 5, "max_chars": 1})


# --- json ---------------------------------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"qty": {"type": "integer"}}, "required": ["qty"]}


@pytest.mark.parametrize(
    "text",
    [
        '{"qty": 2}',
        '  {"qty": 2}\n',
        'Here it is:\n```json\n{"qty": 2}\n```\nAnything else?',
        '```\n{"qty": 2}\n```',
        '~~~JSON\n{"qty": 2}\n~~~',
        '```python\nprint(1)\n```\n```json\n{"qty": 2}\n```',
    ],
    ids=["bare", "padded", "fenced-json", "fenced-untagged", "tilde-fence", "second-fence"],
)
def test_json_is_found_bare_or_in_a_code_fence(text: str) -> None:
    valid, conforms = judge("json", text, {"schema": SCHEMA})
    assert (valid.passed, conforms.passed) == (True, True)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "the answer is empty"),
        ("   \n", "the answer is empty"),
        ("{qty: 2}", "not JSON"),
        ("```json\n{qty: 2}\n```", "a code fence holds text that is not JSON"),
        ('```json\n{"qty": 2}', "not JSON"),  # an unclosed fence is no block
        ("[" * 100_000, "not JSON"),  # deeper than the parser recurses
    ],
    ids=["empty", "blank", "invalid", "invalid-in-fence", "unclosed-fence", "too-deep"],
)
def test_not_json_says_why(text: str, why: str) -> None:
    valid, conforms = judge("json", text, {"schema": SCHEMA})
    assert (valid.score, valid.passed) == (0.0, False)
    assert valid.explanation is not None and valid.explanation.startswith(why)
    assert (conforms.passed, conforms.explanation) == (False, "no JSON value to check")


def test_fences_can_be_refused() -> None:
    assert one("json", '```json\n{"qty": 2}\n```', {"fences": False}).passed is False


def test_a_schema_violation_names_the_path_and_keyword_never_the_value() -> None:
    _, conforms = judge("json", '{"qty": "secret-value"}', {"schema": SCHEMA})
    assert (conforms.score, conforms.label) == (0.0, "violates")
    assert conforms.explanation == "qty: fails 'type'"


def test_json_without_a_schema_has_one_metric() -> None:
    assert [v.metric for v in judge("json", "[1, 2]")] == ["json_valid"]


def test_an_invalid_schema_is_refused_at_configuration() -> None:
    with pytest.raises(ConfigError, match="not a valid JSON Schema"):
        validate_params("json", {"schema": {"type": "no-such-type"}})


# --- regex --------------------------------------------------------------------------------------------


def test_regex_must_and_must_not() -> None:
    params = {"must": [r"(?i)order\s+#?\d+"], "must_not": [r"https?://", r"\bpassword\b"]}
    assert one("regex", "Your order #42 shipped.", params).passed is True
    failed = one("regex", "See http://x.invalid for order 7", params)
    assert (failed.score, failed.passed, failed.explanation) == (pytest.approx(2 / 3), False, "must_not[0] matched")


def test_regex_runs_in_linear_time_on_a_pattern_that_backtracks_in_python() -> None:
    # (a+)+$ against "aaaa...b" takes exponential time in Python's re; RE2 answers at once.
    started = time.perf_counter()
    verdict = one("regex", "a" * 50_000 + "b", {"must": ["(a+)+$"]})
    assert verdict.passed is False
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"must": ["x" * 513]}, "at most 512 characters"),
        ({"must": ["(unclosed"]}, "is not valid RE2 syntax"),
        ({"must_not": [r"(a)\1"]}, "is not valid RE2 syntax"),  # backreferences are what RE2 refuses
        ({"must": [r"(?=a)"]}, "is not valid RE2 syntax"),
        ({}, "at least one pattern"),
        ({"must": ["a"] * 17}, "at most 16 items"),
    ],
    ids=["too-long", "syntax", "backreference", "lookahead", "none", "too-many"],
)
def test_regex_configuration_is_bounded(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_params("regex", params)


def test_regex_on_replacement_characters() -> None:
    # What bytes that were not UTF-8 become when a producer decoded them with errors="replace".
    assert one("regex", "price \ufffd 3 EUR \ufffd", {"must": [r"\d+ EUR"]}).passed is True


# --- refusal ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("I'm sorry, but I can't help with that request.", True),
        ("I can\u2019t help with that.", True),
        ("As an AI language model, I cannot browse.", True),
        ("Your parcel left this morning.", False),
        ("", False),
    ],
)
def test_refusal_phrases(text: str, refused: bool) -> None:
    verdict = one("refusal", text)
    assert (verdict.score, verdict.passed) == (float(refused), not refused)


def test_refusal_trusts_the_models_own_flag() -> None:
    assert one("refusal", "", refused=True).label == "refusal"


def test_refusal_looks_only_at_the_start() -> None:
    text = "Here is the summary. " + "x" * 500 + " I cannot help with the rest."
    assert one("refusal", text).passed is True
    assert one("refusal", text, {"window_chars": 10_000}).passed is False


def test_refusal_extra_phrases_are_literals() -> None:
    assert one("refusal", "Computer says no (.*)", {"phrases": ["says no (.*)"]}).passed is False
    assert one("refusal", "Computer says no thanks", {"phrases": ["says no (.*)"]}).passed is True


# --- banned terms -------------------------------------------------------------------------------------


def test_banned_terms_whole_words_case_insensitive() -> None:
    verdict = one("banned_terms", "Ask ACME or acme corp, not Acmeology.", {"terms": ["acme", "acme corp", "zeta"]})
    assert (verdict.score, verdict.passed, verdict.explanation) == (2.0, False, "found: acme, acme corp")


def test_banned_terms_clean_and_substring_modes() -> None:
    assert one("banned_terms", "Acmeology", {"terms": ["acme"]}).passed is True
    assert one("banned_terms", "Acmeology", {"terms": ["acme"], "whole_words": False}).passed is False
    assert one("banned_terms", "ACME", {"terms": ["acme"], "case_sensitive": True}).passed is True


def test_banned_terms_need_terms() -> None:
    with pytest.raises(ConfigError, match="terms"):
        validate_params("banned_terms", {"terms": []})


# --- secrets ------------------------------------------------------------------------------------------

POSITIVES = {
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "github_token": "ghp_" + "a1B2" * 9,
    "github_fine_grained_token": "github_pat_" + "A" * 82,
    "gitlab_token": "glpat-" + "x" * 20,
    "slack_token": "xoxb-1234567890-abcdefghij",
    "stripe_key": "sk_live_" + "a" * 24,
    "openai_key": "sk-proj-" + "a" * 20 + "T3BlbkFJ" + "b" * 20,
    "anthropic_key": "sk-ant-api03-" + "c" * 93,
    "google_api_key": "AIza" + "d" * 35,
    "huggingface_token": "hf_" + "e" * 34,
    "private_key": "-----BEGIN RSA PRIVATE KEY-----",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    "llmops_key": "llmops_" + "f" * 43,
}
NEAR_MISSES = {
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPL",  # one short
    "github_token": "ghp_short",
    "github_fine_grained_token": "github_pat_tooshort",
    "gitlab_token": "glpat-short",
    "slack_token": "xoxb-short",
    "stripe_key": "sk_live_short",
    "openai_key": "sk-" + "a" * 40,  # no T3BlbkFJ marker: any sk- string is not a key
    "anthropic_key": "sk-ant-api03-short",
    "google_api_key": "AIza" + "d" * 20,
    "huggingface_token": "hf_" + "e" * 10,
    "private_key": "-----BEGIN PUBLIC KEY-----",
    "jwt": "eyJhbGciOiJIUzI1NiJ9",
    "llmops_key": "llmops_short",
}


def test_every_pattern_has_a_positive_and_a_near_miss() -> None:
    assert set(POSITIVES) == set(NEAR_MISSES) == set(SECRET_PATTERNS)


@pytest.mark.parametrize("name", sorted(SECRET_PATTERNS))
def test_secret_found(name: str) -> None:
    verdict = one("secrets", f"Use this: {POSITIVES[name]} and go.")
    assert (verdict.score, verdict.passed, verdict.explanation) == (1.0, False, f"{name} x1")
    assert POSITIVES[name] not in (verdict.explanation or "")


@pytest.mark.parametrize("name", sorted(SECRET_PATTERNS))
def test_secret_near_miss(name: str) -> None:
    assert one("secrets", f"Use this: {NEAR_MISSES[name]} and go.").passed is True


@pytest.mark.parametrize("name", sorted(SECRET_PATTERNS))
def test_each_pattern_starts_with_its_lead(name: str) -> None:
    """The one scan for any lead may rule the patterns out only if each pattern's match holds its lead."""
    assert SECRET_PATTERNS[name].removeprefix(r"\b").startswith(SECRET_LEADS[name])


def test_secrets_take_no_params() -> None:
    with pytest.raises(ConfigError, match="entropy: Extra inputs are not permitted"):
        validate_params("secrets", {"entropy": 4})


# --- every kind on hostile input ---------------------------------------------------------------------

DEFAULTS: dict[str, dict[str, object]] = {
    "length": {"max_chars": 10},
    "regex": {"must": ["x"]},
    "banned_terms": {"terms": ["x"]},
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    "text",
    ["", None, "\ufffd\ufffd", "```json\n" + "x" * (CAP * 2), "\x00" * 1000, "\U0001f600" * 10],
    ids=["empty", "none", "replacement-chars", "huge-unclosed-fence", "nul", "astral"],
)
def test_every_kind_judges_hostile_answers(kind: str, text: str | None) -> None:
    answer = dataclasses.replace(Answer.of(text, cap=CAP), prompt="Where is my parcel?", reference="In Lyon.")
    verdicts = KINDS[kind].build(validate_params(kind, DEFAULTS.get(kind) or {}))(answer)
    # None of these answers is in a language one can tell: the language check abstains, every other kind judges.
    assert (verdicts == []) if kind == "language" else (verdicts and all(v.metric for v in verdicts))


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown evaluator kind 'nope'; known: banned_terms, bleu, exact_match"):
        validate_params("nope", {})


def test_extract_json_of_nested_fences() -> None:
    assert extract_json("````\n```json\n{}\n```\n````") == (None, "a code fence holds text that is not JSON")
