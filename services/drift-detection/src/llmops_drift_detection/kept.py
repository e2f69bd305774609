"""What a window reference keeps of its rows: embeddings included, within one Kafka record.

A window reference is one record of the references table's changelog (``llmops.drift.references``), and a
record over the producer's limit (:data:`~llmops_kit.kafka.producer.MAX_RECORD_BYTES`, about 1 MB) would fail
the close it belongs to, every round. So before it is stored:

* embeddings (a feature whose value is a list of numbers, such as ``prompt_embedding``) stay on at most
  ``max_embeddings`` rows, spread evenly over the window; the other rows keep every other feature. They are
  kept as ``f16:`` + base64 of float16 values: 2 bytes a dimension (about 1 KiB for the embedder's 384), about
  a tenth of the JSON of the floats, and a relative error of 1e-3, far under the distances the tests compare
  (a vector beyond float16's range is kept as it is);
* then, while the entry's JSON is over ``max_bytes``, the rows are thinned evenly.

:func:`unpacked` turns the stored form back into lists of floats when the reference is read.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Sequence

from llmops_drift_detection.features import Row

__all__ = ["PACKED", "bounded", "is_embedding", "pack", "unpack", "unpacked"]

PACKED = "f16:"


def is_embedding(value: object) -> bool:
    """Whether a feature's value is an embedding (a non-empty list), as the drift engine infers it."""
    return isinstance(value, list) and bool(value)


def pack(vector: list[float]) -> str | list[float]:
    """``vector`` as ``f16:`` + base64 of float16 values (kept as it is beyond float16's range)."""
    try:
        return PACKED + base64.b64encode(struct.pack(f"<{len(vector)}e", *vector)).decode()
    except (OverflowError, struct.error):  # beyond float16 (65504) or not numbers: kept as it is
        return vector


def unpack(value: object) -> object:
    """A packed vector as a list of floats again; any other value as it is."""
    if isinstance(value, str) and value.startswith(PACKED):
        packed = base64.b64decode(value[len(PACKED) :])
        return list(struct.unpack(f"<{len(packed) // 2}e", packed))
    return value


def _evenly(count: int, keep: int) -> set[int]:
    """``keep`` of ``count`` positions, spread evenly (all of them when ``keep`` is not smaller)."""
    if keep >= count:
        return set(range(count))
    if keep <= 1:
        return set(range(max(keep, 0)))
    return {round(i * (count - 1) / (keep - 1)) for i in range(keep)}


def _packed(rows: Sequence[Row], max_embeddings: int) -> list[Row]:
    holders = [i for i, row in enumerate(rows) if any(is_embedding(v) for v in row.values())]
    kept = {holders[i] for i in _evenly(len(holders), max_embeddings)}
    return [
        {name: (pack(value) if i in kept else None) if is_embedding(value) else value for name, value in row.items()}
        for i, row in enumerate(rows)
    ]


def bounded(rows: Sequence[Row], *, max_embeddings: int, max_bytes: int) -> list[Row]:
    """``rows`` as a reference keeps them: at most ``max_embeddings`` embeddings, at most ``max_bytes`` of JSON."""
    kept = [{name: value for name, value in row.items() if value is not None} for row in _packed(rows, max_embeddings)]
    size = len(json.dumps(kept))
    while size > max_bytes and kept:
        keep = _evenly(len(kept), int(len(kept) * max_bytes / size * 0.95))
        kept = [row for i, row in enumerate(kept) if i in keep]
        size = len(json.dumps(kept))
    return kept


def unpacked(rows: Sequence[Row]) -> list[Row]:
    """Stored reference rows with their embeddings as lists of floats again."""
    return [{name: unpack(value) for name, value in row.items()} for row in rows]
