"""Presidio's predefined pattern recognisers (no NER model) on the evaluation set, measured like evaluate.py.

Presidio is not a dependency of the platform (ADR 0036); this runs in the scratch environment of
compare_ner.py after ``uv pip install --python /tmp/nerenv/bin/python presidio-analyzer==2.2.366``::

    /tmp/nerenv/bin/python benchmarks/pii/compare_presidio.py --split held

Every English pattern recogniser of Presidio's registry runs on each text (``analyze`` without NLP artefacts:
its context words cannot raise scores then, so every pattern match counts). A labelled value is caught when
findings cover it; a text has a false positive when a finding covers no labelled character.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from presidio_analyzer import PatternRecognizer, RecognizerRegistry  # type: ignore[import-not-found]

SET = Path(__file__).resolve().parents[1] / "data" / "pii_eval.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "held"], required=True)
    args = parser.parse_args()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    recognisers = [r for r in registry.recognizers if isinstance(r, PatternRecognizer)]
    rows = [json.loads(line) for line in SET.read_text().splitlines()]
    rows = [r for r in rows if r["split"] == args.split]
    positives, caught, fp_texts, clean_altered = Counter[str](), Counter[str](), 0, 0
    for row in rows:
        text = row["text"]
        found = [(x.start, x.end) for r in recognisers for x in r.analyze(text, r.supported_entities, None)]
        covered = {i for s, e in found for i in range(s, e)}
        gold: set[int] = set()
        for label in row["labels"]:
            start = text.index(label["value"])
            span = set(range(start, start + len(label["value"])))
            gold |= span
            positives[label["type"]] += 1
            caught[label["type"]] += span <= covered
        wrong = any(not set(range(s, e)) & gold for s, e in found)
        fp_texts += wrong
        clean_altered += wrong and not row["labels"]
    recall = {t: round(caught[t] / positives[t], 3) for t in positives}
    values = sum(positives.values())
    print(
        json.dumps(
            {
                "recall": recall,
                "values_caught": round(sum(caught.values()) / values, 3),
                "texts_with_fp": fp_texts,
                "fp_rate": round(fp_texts / len(rows), 3),
                "negatives_altered": round(clean_altered / sum(1 for r in rows if not r["labels"]), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
