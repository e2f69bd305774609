"""How well the ``groundedness`` evaluator finds unsupported answer sentences, against a lexical-overlap baseline.

The labelled set is ``benchmarks/data/groundedness.jsonl``: 24 contexts (museum opening hours, a drug's dosage,
a train timetable, a company's earnings...), each with 6 answer sentences written for it, half supported by the
context (a near copy and two paraphrases) and half not (a changed number, a flipped negation, a swapped name, a
plausible addition that the context does not state). The positive class is **unsupported**: precision is the
share of flagged sentences that are unsupported, recall the share of unsupported sentences flagged.

Detectors, each "unsupported when its support score is below a threshold":

* ``lexical overlap`` (the baseline): the share of the sentence's normalised words found in the context;
* ``lexical overlap + checks``: the same, with the evaluator's number and negation checks;
* ``embeddings``: the cosine of the sentence and its closest context sentence (the model server's embedder);
* ``embeddings + checks``: the evaluator as it ships (docs/adr/0026).

**No tuning on the test data**: 4-fold cross-validation grouped by context (a context's six sentences are in one
fold, so no paraphrase is judged with a threshold tuned on its twin). For each fold the threshold that gives
the best F1 on the other three folds is applied to it; the figures pool the held-out predictions of all folds.

The embeddings are the model server's: its ``Embedder`` (all-MiniLM-L6-v2, texts cut at 256 tokens, the same
code and weights that Triton's ``embedder`` runs) loaded from ``.cache/models/embedder``, built by
``ensure_models`` as the model server's build step does.

    uv run python benchmarks/bench_groundedness.py [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

from llmops_evaluation.heuristics.reference import normalize
from llmops_evaluation.semantic.base import Embedder
from llmops_evaluation.semantic.grounding import support
from llmops_evaluation.semantic.sentences import split_sentences

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "groundedness.jsonl"
FOLDS = 4
GRID = [i / 100 for i in range(-20, 101)]
SECTION = "## Groundedness and hallucination detection"


@dataclass(frozen=True)
class Judged:
    """One labelled sentence with what each detector saw."""

    topic: str
    fold: int
    unsupported: bool
    kind: str
    similarity: float
    overlap: float
    check_failed: bool


class ModelServerEmbedder:
    """The model server's embedder in this process (its numpy ``Embedder``), behind the evaluator's port."""

    def __init__(self) -> None:
        from llmops_model_server.build import ensure_models
        from llmops_model_server.config import default_model_dir
        from llmops_model_server.models.embedder import load_embedder

        folder = default_model_dir()
        ensure_models(folder, log=lambda *_: None)
        self._model = load_embedder(folder / "embedder", max_length=256)  # the model server's default

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._model.embed(list(texts))]


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def overlap(sentence: str, context: str) -> float:
    """The share of the sentence's normalised words that occur in the context (the lexical baseline)."""
    words = normalize(sentence).split()
    known = set(normalize(context).split())
    return sum(1 for w in words if w in known) / len(words) if words else 0.0


async def judge_all(embedder: Embedder, rows: list[dict[str, Any]]) -> list[Judged]:
    """Every sentence's similarity, overlap and check result (thresholds are applied later)."""
    judged = []
    for index, row in enumerate(sorted(rows, key=lambda r: r["topic"])):
        premises = [s for passage in row["context"] for s in split_sentences(passage)]
        context = " ".join(row["context"])
        texts = [s["text"] for s in row["sentences"]]
        supports = await support(texts, premises, embedder, threshold=-2.0)  # similarity never fails at -2
        for labelled, found in zip(row["sentences"], supports, strict=True):
            judged.append(
                Judged(
                    topic=row["topic"],
                    fold=index % FOLDS,
                    unsupported=labelled["label"] == "unsupported",
                    kind=labelled["kind"],
                    similarity=found.similarity,
                    overlap=overlap(labelled["text"], context),
                    check_failed=not found.supported,  # with threshold -2 only a number or negation check fails
                )
            )
    return judged


Score = Callable[[Judged], float]
DETECTORS: dict[str, tuple[Score, bool]] = {
    "lexical overlap (baseline)": (lambda j: j.overlap, False),
    "lexical overlap + checks": (lambda j: j.overlap, True),
    "embeddings": (lambda j: j.similarity, False),
    "embeddings + checks (the evaluator)": (lambda j: j.similarity, True),
}


def flagged(j: Judged, score: Score, checks: bool, threshold: float) -> bool:
    return score(j) < threshold or (checks and j.check_failed)


def prf(pairs: Sequence[tuple[bool, bool]]) -> tuple[float, float, float]:
    """Precision, recall and F1 of (predicted unsupported, is unsupported) pairs."""
    tp = sum(1 for p, t in pairs if p and t)
    fp = sum(1 for p, t in pairs if p and not t)
    fn = sum(1 for p, t in pairs if not p and t)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def best_threshold(train: Sequence[Judged], score: Score, checks: bool) -> float:
    """The grid threshold with the best F1 on ``train`` (the lowest of equals)."""
    return max(GRID, key=lambda t: (prf([(flagged(j, score, checks, t), j.unsupported) for j in train])[2], -t))


def cross_validate(judged: Sequence[Judged]) -> dict[str, dict[str, Any]]:
    """Per detector: pooled held-out precision, recall, F1, the per-fold thresholds and recall by kind."""
    results = {}
    for name, (score, checks) in DETECTORS.items():
        pairs: list[tuple[bool, bool]] = []
        thresholds: list[float] = []
        by_kind: dict[str, list[bool]] = {}
        for fold in range(FOLDS):
            threshold = best_threshold([j for j in judged if j.fold != fold], score, checks)
            thresholds.append(threshold)
            for j in (j for j in judged if j.fold == fold):
                predicted = flagged(j, score, checks, threshold)
                pairs.append((predicted, j.unsupported))
                by_kind.setdefault(j.kind, []).append(predicted)
        precision, recall, f1 = prf(pairs)
        results[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "thresholds": thresholds,
            "flagged_by_kind": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())},
        }
    return results


def markdown(results: dict[str, dict[str, Any]], judged: Sequence[Judged]) -> str:
    unsupported = sum(1 for j in judged if j.unsupported)
    lines = [
        SECTION,
        "",
        "Generated by `uv run python benchmarks/bench_groundedness.py --write docs/benchmarks.md` (method in its",
        f"docstring). Labelled set: {len(judged)} answer sentences ({unsupported} unsupported) on "
        f"{len({j.topic for j in judged})} contexts,",
        "`benchmarks/data/groundedness.jsonl`; 4-fold cross-validation grouped by context, thresholds chosen on the",
        "training folds only. Positive class: unsupported. Embeddings: the model server's `embedder`",
        "(all-MiniLM-L6-v2) in process. `tests/unit/benchmarks/test_bench_groundedness.py` (slow) keeps the claim:",
        "the evaluator's F1 beats the baseline's by more than 0.05, with better precision.",
        "",
        "| detector | precision | recall | F1 | thresholds per fold |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        folds = ", ".join(f"{t:.2f}" for t in r["thresholds"])
        lines.append(f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {folds} |")
    lines += ["", "Sentences flagged unsupported, by kind of sentence (held-out predictions):", ""]
    kinds = sorted({j.kind for j in judged})
    lines.append("| detector | " + " | ".join(kinds) + " |")
    lines.append("| --- |" + " --- |" * len(kinds))
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(r["flagged_by_kind"].get(k, "-") for k in kinds) + " |")
    evaluator = results["embeddings + checks (the evaluator)"]
    chosen = median(evaluator["thresholds"])
    lines += ["", f"The evaluator's default `threshold` is the median of its per-fold choices: {chosen:.2f}.", ""]
    lines += READING

    return "\n".join(lines)


READING = [
    "Reading: embeddings alone do not separate the labels here. A changed number or a flipped negation keeps a",
    "sentence next to its source in embedding space, so their best threshold flags nearly everything (F1 of",
    "flagging all: 0.667). The number and negation checks catch those; the embeddings then tell paraphrases",
    "(supported, lexically far from the context) from additions (unsupported, often sharing its words) better",
    "than word overlap does. Known misses: a swapped name (`Europa` for `Ganymede`), numbers in words (`two",
    "bags`), negations without a cue word (`still available` against `was removed`); and a paraphrase that",
    "negates where the context does not (`do not have to pay` for `enter for free`) is flagged. The set was",
    "written by the evaluator's author; the checks were designed before the first measurement and nothing but",
    "the default threshold was set from it.",
    "",
]


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of ``path`` (up to the next ``## ``), or append it."""
    text = path.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    path.write_text(text)


async def measure(embedder: Embedder | None = None) -> tuple[dict[str, dict[str, Any]], list[Judged]]:
    judged = await judge_all(embedder or ModelServerEmbedder(), load())
    return cross_validate(judged), judged


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", type=Path, help="replace the section of this markdown file")
    args = parser.parse_args(argv)
    results, judged = asyncio.run(measure())
    section = markdown(results, judged)
    print(section)
    if args.write:
        write_section(args.write, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
