"""Reference-based evaluators: the answer against an expected answer (issue 9 §1), ``EvaluatorRef.kind`` reference.

They run when the answer has a reference (a dataset example's expected output; online calls have none) and
yield no score without one, or with a reference that is empty or only whitespace: nothing can match it
meaningfully. An empty answer against a reference is a real judgment (it scores 0).

| kind | metric: scale | what |
| --- | --- | --- |
| ``exact_match`` | ``exact_match``: 1/0 | the texts are equal (outer whitespace ignored unless ``strip`` is false) |
| ``normalized_match`` | ``normalized_match``: 1/0 | equal after :func:`normalize` |
| ``token_f1`` | ``token_f1``: 0..1 | harmonic mean of token precision and recall over normalised tokens (SQuAD) |
| ``rouge_l`` | ``rouge_l``: 0..1 | ROUGE-L F-measure (longest common subsequence), Google's ``rouge-score`` |
| ``bleu`` | ``bleu``: 0..100 | sentence BLEU with smoothing, ``sacrebleu`` |

ROUGE-L's longest common subsequence costs the product of both lengths (4,000 tokens each: seconds), so it reads
the first ``max_chars`` characters of each text (2,000 by default: a few milliseconds); the explanation says so
when it cut. BLEU is linear but not free (an answer at the 256 Ki cap: about 0.3 s), so it reads 20,000.
``rouge-score``'s tokenizer keeps ASCII letters and digits only: a reference with none (Chinese, say) gets no
ROUGE-L score rather than a meaningless 0; ``token_f1`` and ``bleu`` (``tokenize: intl`` or ``zh``) handle
other scripts.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, StrictBool
from sacrebleu.metrics.bleu import BLEU

from llmops_evaluation.heuristics.base import Answer, Heuristic, Params, Verdict

__all__ = ["Bleu", "ExactMatch", "NormalizedMatch", "ReferenceKind", "RougeL", "TokenF1", "normalize"]

_ARTICLES = frozenset({"a", "an", "the"})


def normalize(text: str, *, articles: bool = True) -> str:
    """NFKC, case-folded, punctuation and symbols removed, English articles dropped, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in folded)
    return " ".join(w for w in kept.split() if not (articles and w in _ARTICLES))


Compare = Callable[[Answer, str], list[Verdict]]
"""A reference kind's judgment of an answer against a reference that is there and not blank."""


class ReferenceKind(Heuristic):
    """A kind that judges against the expected answer: ``compare(params)`` gives the comparison, which runs only
    when the answer has a reference that is not blank (otherwise: no score)."""

    evaluator_kind = "reference"

    @classmethod
    def compare(cls, params: Any) -> Compare:
        raise NotImplementedError

    @classmethod
    def build(cls, params: Any) -> Callable[[Answer], list[Verdict]]:
        compare = cls.compare(params)

        def judge(answer: Answer) -> list[Verdict]:
            reference = answer.reference
            return compare(answer, reference) if reference and reference.strip() else []

        return judge


def _passes(score: float, threshold: float) -> tuple[bool, str]:
    return score >= threshold, "pass" if score >= threshold else "fail"


class ExactMatchParams(Params):
    strip: StrictBool = Field(default=True, description="Ignore leading and trailing whitespace")


class ExactMatch(ReferenceKind):
    """``exact_match``: 1 when the answer is the reference character for character."""

    kind = "exact_match"
    version = "1"
    params = ExactMatchParams

    @classmethod
    def compare(cls, params: ExactMatchParams) -> Compare:
        def judge(answer: Answer, reference: str) -> list[Verdict]:
            got, want = (answer.text.strip(), reference.strip()) if params.strip else (answer.text, reference)
            same = not answer.truncated and got == want
            return [Verdict("exact_match", float(same), same, "match" if same else "differs")]

        return judge


class NormalizedMatchParams(Params):
    articles: StrictBool = Field(default=True, description="Drop the English articles a, an, the")


class NormalizedMatch(ReferenceKind):
    """``normalized_match``: 1 when answer and reference are equal after :func:`normalize`."""

    kind = "normalized_match"
    version = "1"
    params = NormalizedMatchParams

    @classmethod
    def compare(cls, params: NormalizedMatchParams) -> Compare:
        def judge(answer: Answer, reference: str) -> list[Verdict]:
            same = normalize(answer.text, articles=params.articles) == normalize(reference, articles=params.articles)
            return [Verdict("normalized_match", float(same), same, "match" if same else "differs")]

        return judge


class TokenF1Params(Params):
    min_f1: float = Field(strict=True, default=0.5, ge=0, le=1, description="Passes at or above this F1")
    articles: StrictBool = Field(default=True, description="Drop the English articles before counting tokens")


def token_f1(answer: str, reference: str, *, articles: bool = True) -> tuple[float, float, float]:
    """Precision, recall and F1 of the answer's normalised tokens against the reference's (as bags)."""
    got, want = normalize(answer, articles=articles).split(), normalize(reference, articles=articles).split()
    common = sum((Counter(got) & Counter(want)).values())
    if not got or not want or common == 0:
        return 0.0, 0.0, float(got == want)
    precision, recall = common / len(got), common / len(want)
    return precision, recall, 2 * precision * recall / (precision + recall)


class TokenF1(ReferenceKind):
    """``token_f1``: overlap of normalised tokens, 0..1, as SQuAD scores extractive answers."""

    kind = "token_f1"
    version = "1"
    params = TokenF1Params

    @classmethod
    def compare(cls, params: TokenF1Params) -> Compare:
        def judge(answer: Answer, reference: str) -> list[Verdict]:
            precision, recall, f1 = token_f1(answer.text, reference, articles=params.articles)
            passed, label = _passes(f1, params.min_f1)
            return [Verdict("token_f1", f1, passed, label, f"precision {precision:.3f}, recall {recall:.3f}")]

        return judge


class RougeLParams(Params):
    min_f: float = Field(strict=True, default=0.5, ge=0, le=1, description="Passes at or above this F-measure")
    use_stemmer: StrictBool = Field(default=True, description="Porter-stem English words before matching")
    max_chars: int = Field(strict=True, default=2000, ge=100, le=20_000, description="Characters of each text compared")


class RougeL(ReferenceKind):
    """``rouge_l``: ROUGE-L F-measure of the answer against the reference, 0..1 (``rouge-score``)."""

    kind = "rouge_l"
    version = "1"
    params = RougeLParams

    @classmethod
    def compare(cls, params: RougeLParams) -> Compare:
        # Imported when a rouge_l evaluator is built: rouge-score imports all of nltk, seconds of every start.
        from rouge_score import rouge_scorer, tokenize

        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=params.use_stemmer)
        cut = params.max_chars

        def judge(answer: Answer, reference: str) -> list[Verdict]:
            if not tokenize.tokenize(reference[:cut], None):
                return []
            score = scorer.score(reference[:cut], answer.text[:cut])["rougeL"]
            passed, label = _passes(score.fmeasure, params.min_f)
            why = f"precision {score.precision:.3f}, recall {score.recall:.3f}"
            if len(reference) > cut or len(answer.text) > cut:
                why += f"; first {cut} characters of each compared"
            return [Verdict("rouge_l", score.fmeasure, passed, label, why)]

        return judge


class BleuParams(Params):
    min_bleu: float = Field(
        strict=True, default=20.0, ge=0, le=100, description="Passes at or above this BLEU (0..100)"
    )
    smooth_method: Literal["exp", "floor", "add-k", "none"] = Field(
        default="exp", description="sacrebleu's smoothing for zero n-gram counts (sentence BLEU needs one)"
    )
    tokenize: Literal["13a", "intl", "zh", "char", "none"] = Field(
        default="13a", description="sacrebleu's tokenizer: 13a (WMT default), intl (Unicode), zh, char"
    )
    lowercase: StrictBool = False
    max_chars: int = Field(
        strict=True, default=20_000, ge=100, le=200_000, description="Characters of each text compared"
    )


class Bleu(ReferenceKind):
    """``bleu``: sentence BLEU of the answer against the reference, 0..100 (``sacrebleu``, smoothed)."""

    kind = "bleu"
    version = "1"
    params = BleuParams

    @classmethod
    def compare(cls, params: BleuParams) -> Compare:
        metric = BLEU(
            smooth_method=params.smooth_method,
            tokenize=params.tokenize,
            lowercase=params.lowercase,
            effective_order=True,  # short sentences have no 4-grams: score on the orders they have
        )

        def judge(answer: Answer, reference: str) -> list[Verdict]:
            cut = params.max_chars
            result = metric.sentence_score(answer.text[:cut], [reference[:cut]])
            score = min(max(result.score, 0.0), 100.0)  # float noise: a perfect match computes as 100.00000000000004
            passed, label = _passes(score, params.min_bleu)
            precisions = "/".join(f"{p:.1f}" for p in result.precisions)
            why = f"n-gram precisions {precisions}, brevity penalty {result.bp:.3f}"
            return [Verdict("bleu", score, passed, label, why, score_max=100.0)]

        return judge
