"""A deterministic stand-in for the model server's ``embedder``: hashed bags of lower-cased words.

Texts that share words are close, texts that share none are orthogonal, so the semantic evaluators' logic can
be tested without a model; ``calls`` records every request, ``fail`` makes the next one raise.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

DIMENSION = 384
_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Bag-of-words vectors of ``DIMENSION`` dimensions, unit length (zero for a text without words)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.fail: Exception | None = None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if self.fail is not None:
            raise self.fail
        return [_vector(t) for t in texts]


def _vector(text: str) -> list[float]:
    vector = [0.0] * DIMENSION
    for word in _WORD.findall(text.lower()):
        vector[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big") % DIMENSION] += 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector
