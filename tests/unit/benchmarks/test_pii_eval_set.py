"""The PII evaluation set stays frozen, and the engine keeps the figures docs/pii.md gives for its dev half.

The held half is measured by hand, once (docs/pii.md): this test reads only the dev half.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SET = ROOT / "benchmarks" / "data" / "pii_eval.jsonl"
FROZEN_SHA256 = "f3ba3760eb07b3829e8638ba400f44103052740b6847c0d6cf6da15885fd8a5d"
PATTERN_TYPES = ("email", "phone", "credit_card", "iban", "national_id", "ip_address", "api_key", "jwt", "private_key")


def test_the_set_is_the_frozen_one_with_enough_positives_per_type_in_each_half() -> None:
    assert hashlib.sha256(SET.read_bytes()).hexdigest() == FROZEN_SHA256
    assert FROZEN_SHA256 in (ROOT / "docs" / "pii.md").read_text()
    rows = [json.loads(line) for line in SET.read_text().splitlines()]
    assert len(rows) >= 300
    for split in ("dev", "held"):
        labels = [label["type"] for row in rows if row["split"] == split for label in row["labels"]]
        assert min(labels.count(t) for t in set(labels)) >= 20 and len(set(labels)) == 12


def test_the_dev_half_meets_the_targets() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks" / "pii"))
    from evaluate import evaluate

    rows = [json.loads(line) for line in SET.read_text().splitlines()]
    result = evaluate([r for r in rows if r["split"] == "dev"], show=False)
    recall = {t: figures["recall"] for t, figures in result["per_type"].items()}
    assert all(recall[t] >= 0.99 for t in PATTERN_TYPES), recall
    assert all(recall[t] >= 0.9 for t in ("person", "postal_address", "date_of_birth")), recall
    assert result["fp_rate"] <= 0.02, result
