"""Embeddings of a sample of calls' prompts, from the model server's embedder through the gateway.

A call is sampled when a hash of its call id falls under ``embedding_sample_rate``: the same calls are sampled
again when a batch is folded again after a restart. The sampled calls of a fold batch go out as one
``/v1/embeddings`` request per tenant (the gateway records platform traffic per tenant; at most
:data:`PER_REQUEST` texts a request), through the kit's gateway client, the one way a service calls models, with
at most ``embedding_max_in_flight`` requests at once. The batch waits for them at most ``embedding_timeout_s``:
a failed, refused or late answer leaves its rows without the embedding (counted by
``llmops_drift_embeddings_total``) and pauses embedding for ``embedding_backoff_s``, so a slow embedder costs a
batch one timeout per pause, never a stall or a lost window.

The vector is stored in the row as the feature :data:`FEATURE`, packed as float16 (``kept.pack``: 2 bytes a
dimension, about a tenth of its JSON, and cheap to write; rows written before hold lists of rounded floats,
and both read back as lists when a window closes). The prompt text itself is never stored nor logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from llmops_kit.platform_client import GatewayClient, PlatformCallError
from llmops_kit.tasks import cancel_and_wait

from llmops_drift_detection.features import Row
from llmops_drift_detection.kept import pack
from llmops_drift_detection.metrics import EMBEDDINGS

__all__ = ["FEATURE", "PER_REQUEST", "PromptEmbedder", "Wanted", "sampled"]

FEATURE = "prompt_embedding"
PER_REQUEST = 64
"""Texts per request: under the gateway's own limit (256), as the evaluation service sends them."""
MAX_DIMENSIONS = 4096
log = logging.getLogger(__name__)

Wanted = tuple[str, str, Row]
"""A sampled call: its tenant, its prompt text and the row its embedding goes into."""


def sampled(call_id: str, rate: float) -> bool:
    """Whether ``call_id`` is in the sample of ``rate`` (deterministic: by a hash of the id)."""
    digest = hashlib.blake2b(call_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < rate * 2**64


def _packed(vector: Any) -> str | list[float]:
    """``vector`` packed as float16 (:func:`llmops_drift_detection.kept.pack`); ValueError when it is not one."""
    if not isinstance(vector, list) or not 0 < len(vector) <= MAX_DIMENSIONS:
        raise ValueError("an embedding must be a list of 1 to 4096 numbers")
    values = [float(value) for value in vector]
    if not all(math.isfinite(value) for value in values):
        raise ValueError("an embedding holds a value that is not finite")
    return pack(values)


class PromptEmbedder:
    """Puts an embedding of their prompt into the rows of a batch's sampled calls (a no-op without a gateway)."""

    def __init__(
        self,
        gateway: GatewayClient | None,
        *,
        rate: float,
        model: str,
        timeout_s: float,
        backoff_s: float,
        max_chars: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway, self.rate, self.model = gateway, rate if gateway is not None else 0.0, model
        self.timeout_s, self.backoff_s, self.max_chars, self.clock = timeout_s, backoff_s, max_chars, clock
        self._paused_until = float("-inf")

    def wants(self, call_id: str) -> bool:
        """Whether the call ``call_id`` gets an embedding."""
        return self.rate > 0 and sampled(call_id, self.rate)

    async def embed(self, wanted: Sequence[Wanted]) -> None:
        """Embed ``wanted``'s prompts into their rows, within ``timeout_s``; rows left without one are counted."""
        if not wanted or self.gateway is None:
            return
        if self.clock() < self._paused_until:
            EMBEDDINGS.labels("paused").inc(len(wanted))
            return
        by_tenant: dict[str, list[Wanted]] = defaultdict(list)
        for item in wanted:
            by_tenant[item[0]].append(item)
        chunks = [items[i : i + PER_REQUEST] for items in by_tenant.values() for i in range(0, len(items), PER_REQUEST)]
        tasks = [asyncio.create_task(self._request(chunk), name="drift-embeddings") for chunk in chunks]
        done, late = await asyncio.wait(tasks, timeout=self.timeout_s)
        await cancel_and_wait(late)
        timed_out = sum(len(chunk) for chunk, task in zip(chunks, tasks, strict=True) if task in late)
        failed = sum(len(chunk) for chunk, task in zip(chunks, tasks, strict=True) if task in done and task.result())
        if timed_out:
            EMBEDDINGS.labels("timeout").inc(timed_out)
        if timed_out or failed:
            self._paused_until = self.clock() + self.backoff_s
            log.warning("no embedding for %d sampled calls; paused for %.0f s", timed_out + failed, self.backoff_s)
        EMBEDDINGS.labels("embedded").inc(len(wanted) - timed_out - failed)

    async def _request(self, chunk: Sequence[Wanted]) -> bool:
        """One request for ``chunk`` (one tenant's); True when it failed (counted here), False when embedded."""
        assert self.gateway is not None
        texts = [text[: self.max_chars] for _, text, _ in chunk]
        try:
            vectors = await self.gateway.embeddings(chunk[0][0], self.model, texts)
            if len(vectors) != len(chunk):
                raise ValueError(f"the gateway returned {len(vectors)} embeddings for {len(chunk)} texts")
            packed = [_packed(vector) for vector in vectors]
        except Exception as exc:  # optional: any failure leaves the rows without it (never the text in the log)
            EMBEDDINGS.labels("failed").inc(len(chunk))
            cause = f"status {exc.status}" if isinstance(exc, PlatformCallError) else type(exc).__name__
            log.warning("embedding request failed: %s", cause)
            return True
        for (_, _, row), vector in zip(chunk, packed, strict=True):
            row[FEATURE] = vector
        return False
