"""Recall and false-positive rate of the redaction engine per type, on one split of the frozen evaluation set.

    python benchmarks/pii/evaluate.py --split dev           # tuning
    python benchmarks/pii/evaluate.py --split held --json   # once, at the end (docs/pii.md)

A labelled value is caught when findings cover every character of it (of any type: what matters is that it is
not stored; a finding of another type is reported as a confusion). A text has a false positive of type T when a
finding of type T covers no labelled character. ``--show`` prints the misses and false positives (dev only:
the held half is not looked at).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from llmops_pii.detector import find
from llmops_pii.findings import PII_TYPES

SET = Path(__file__).resolve().parents[1] / "data" / "pii_eval.jsonl"


def evaluate(rows: list[dict[str, Any]], show: bool) -> dict[str, Any]:
    positives, caught, fp_texts = Counter[str](), Counter[str](), Counter[str]()
    any_fp = 0
    started = time.perf_counter()
    for row in rows:
        text, findings = row["text"], find(row["text"])
        covered = {i for f in findings for i in range(f.start, f.end)}
        labelled: set[int] = set()
        for label in row["labels"]:
            start = text.index(label["value"])
            span = set(range(start, start + len(label["value"])))
            labelled |= span
            positives[label["type"]] += 1
            if span <= covered:
                caught[label["type"]] += 1
            elif show:
                print(f"MISS {label['type']}: {row['id']} {label['value']!r} in {text!r} -> {findings}")
        wrong = {f.type for f in findings if not set(range(f.start, f.end)) & labelled}
        for kind in wrong:
            fp_texts[kind] += 1
            if show:
                print(
                    f"FP {kind}: {row['id']} {[text[f.start : f.end] for f in findings if f.type == kind]} in {text!r}"
                )
        any_fp += bool(wrong)
    seconds = time.perf_counter() - started
    per_type = {
        t: {
            "positives": positives[t],
            "recall": round(caught[t] / positives[t], 4) if positives[t] else None,
            "fp_texts": fp_texts[t],
            "fp_rate": round(fp_texts[t] / len(rows), 4),
        }
        for t in PII_TYPES
    }
    return {
        "texts": len(rows),
        "texts_with_fp": any_fp,
        "fp_rate": round(any_fp / len(rows), 4),
        "negatives": sum(1 for r in rows if not r["labels"]),
        "per_type": per_type,
        "ms_per_text": round(seconds * 1000 / len(rows), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=["dev", "held"], required=True)
    parser.add_argument("--show", action="store_true", help="print misses and false positives (dev only)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.show and args.split == "held":
        sys.exit("the held half is measured, not looked at")
    rows = [json.loads(line) for line in SET.read_text().splitlines()]
    result = evaluate([r for r in rows if r["split"] == args.split], args.show)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for kind, figures in result["per_type"].items():
        print(f"{kind:15} recall {figures['recall']}  fp texts {figures['fp_texts']}")
    print(f"texts {result['texts']}, with a false positive {result['texts_with_fp']} ({result['fp_rate']:.2%})")


if __name__ == "__main__":
    main()
