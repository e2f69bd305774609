"""A pinned dataset reference with embeddings (docs/adr/0058): a bounded, hash-picked sample of its prompts
embedded through the gateway client in requests of at most 64, stored in the references table within one record
(float16) and recovered from it without the warehouse or the embedder; the gateway down leaves the reference
without embeddings, the report saying why, and the next window's close tries again."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from llmops_drift import DriftConfig
from llmops_drift_detection.embeddings import FEATURE, PromptEmbedder
from llmops_drift_detection.kept import PACKED
from llmops_drift_detection.references import _MAX_ENTRY_BYTES, References
from llmops_drift_detection.reports import build_report
from llmops_kit.platform_client import GatewayClient, PlatformClient
from llmops_schemas.v2 import DriftReference

from tests.unit.drift_detection.test_features_and_reports import SCOPE, SPAN, _Reader
from tests.unit.evaluation.calls import call

PERIOD = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))


def _vector(text: str, dimensions: int = 16) -> list[float]:
    """A fake embedder: texts about parcels and texts about invoices land in two distant regions."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    centre = 1.0 if "parcel" in text else -1.0
    return [centre + rng.gauss(0, 0.3) for _ in range(dimensions)]


class Gateway:
    """The gateway's ``/v1/embeddings`` as a mock transport: answers, or fails with ``status``."""

    def __init__(self, status: int = 200, dimensions: int = 16) -> None:
        self.status, self.dimensions, self.requests = status, dimensions, []  # type: ignore[var-annotated]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        self.requests.append(texts)
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "down"})
        return httpx.Response(
            200, json={"data": [{"index": i, "embedding": _vector(t, self.dimensions)} for i, t in enumerate(texts)]}
        )


@asynccontextmanager
async def _embedder(gateway: Gateway) -> AsyncIterator[PromptEmbedder]:
    client = PlatformClient("gateway", "http://gw", "svc-key", transport=httpx.MockTransport(gateway), attempts=1)
    await client.start()
    try:
        yield PromptEmbedder(GatewayClient(client), rate=0.05, model="local-embedder", timeout_s=5, backoff_s=0,
                             max_chars=2000)  # fmt: skip
    finally:
        await client.stop()


def _stored(count: int, topic: str = "parcel") -> list[dict[str, Any]]:
    return [
        json.loads(call(call_id=f"c-{i}", messages=[{"role": "user", "content": f"{topic} question {i}"}],
                        latency_ms=200.0 + (i * 37) % 100).data.model_dump_json())
        for i in range(count)
    ]  # fmt: skip


def _references(reader: _Reader, embedder: PromptEmbedder | None, max_embeddings: int = 100) -> References:
    return References("dataset", 30, reader=reader, period=PERIOD, max_calls=400,  # type: ignore[arg-type]
                      max_embeddings=max_embeddings, embedder=embedder)  # fmt: skip


async def test_a_sample_of_the_datasets_prompts_is_embedded_stored_packed_and_recovered() -> None:
    gateway, reader, table = Gateway(), _Reader(_stored(300)), {}  # type: ignore[var-annotated]
    async with _embedder(gateway) as embedder:
        references = _references(reader, embedder)
        _, rows = await references.reference(SCOPE, SPAN, table)
        entry = references.after_close(SCOPE, SPAN, rows, table)

    embedded = [row for row in rows if FEATURE in row]
    assert 70 <= len(embedded) <= 100 and len(rows) == 300  # the cap, picked by a hash of the call id
    assert all(len(texts) <= 64 for texts in gateway.requests) and sum(map(len, gateway.requests)) == len(embedded)
    assert entry is not None and entry["dataset_id"] == references.dataset_id
    packed = [row[FEATURE] for row in entry["rows"] if FEATURE in row]
    assert len(packed) == len(embedded) and all(value.startswith(PACKED) for value in packed)
    assert references.notes(SCOPE) == {}
    assert references.after_close(SCOPE, SPAN, rows, table) is None  # stored once, never replaced

    table[SCOPE.encode()] = entry  # a restarted worker: the table recovered from its changelog
    restarted = _references(_Reader([]), None)
    _, recovered = await restarted.reference(SCOPE, SPAN, table)
    assert len(recovered) == 300 and sum(FEATURE in row for row in recovered) == len(embedded)
    assert abs(recovered[0]["latency_ms"] - rows[0]["latency_ms"]) < 1e-9
    assert restarted.after_close(SCOPE, SPAN, recovered, table) is None


async def test_the_stored_entry_stays_within_one_record() -> None:
    async with _embedder(Gateway(dimensions=768)) as embedder:  # twice the model server embedder's 384
        references = _references(_Reader(_stored(1000)), embedder, max_embeddings=1000)
        references.datasets.max_calls = 1000  # type: ignore[union-attr]
        _, rows = await references.reference(SCOPE, SPAN, {})
        entry = references.after_close(SCOPE, SPAN, rows, {})

    assert entry is not None and len(json.dumps(entry["rows"])) <= _MAX_ENTRY_BYTES
    assert 300 < len(entry["rows"]) < 1000 and all(FEATURE in row for row in entry["rows"])  # thinned evenly


async def test_the_gateway_down_leaves_the_reference_without_embeddings_and_the_report_says_why() -> None:
    down, reader = Gateway(status=503), _Reader(_stored(120))
    async with _embedder(down) as embedder:
        references = _references(reader, embedder)
        _, rows = await references.reference(SCOPE, SPAN, {})
        assert references.after_close(SCOPE, SPAN, rows, {}) is None  # not stored: tried again next window
        window = [row | {FEATURE: _vector(f"parcel again {i}")} for i, row in enumerate(rows[:60])]
        report = build_report(SCOPE, SPAN, _dataset(references), window, rows, config=DriftConfig(), min_samples=30,
                              include_platform=False, reference_notes=references.notes(SCOPE))  # fmt: skip
        _, again = await references.reference(SCOPE, SPAN, {})

    assert not any(FEATURE in row for row in rows) and len(rows) == 120
    [embedding] = [f for f in report.features if f.feature == FEATURE]
    assert embedding.drifted is None and any("failed, refused, timed out" in note for note in embedding.notes)
    assert report.dataset_drift is False  # the other features still have their verdict
    assert len(reader.asked) == 2 and len(again) == 120  # read again at the next close


async def test_a_topic_shift_is_found_against_a_dataset_reference_and_none_without_one() -> None:
    async with _embedder(Gateway()) as embedder:
        references = _references(_Reader(_stored(300)), embedder)
        _, rows = await references.reference(SCOPE, SPAN, {})
    same = [{"latency_ms": 200.0 + (i * 37) % 100, FEATURE: _vector(f"parcel later {i}")} for i in range(120)]
    shifted = [{"latency_ms": 200.0 + (i * 37) % 100, FEATURE: _vector(f"invoice later {i}")} for i in range(120)]

    calm = _check(references, same, rows)
    moved = _check(references, shifted, rows)

    assert calm.dataset_drift is False
    assert moved.dataset_drift is True and FEATURE in {f.feature for f in moved.features if f.drifted}
    [tested] = [f for f in moved.features if f.feature == FEATURE]
    assert tested.test in {"mmd", "domain_classifier"} and tested.baseline_sample_size >= 70


def _dataset(references: References) -> DriftReference:
    return DriftReference(kind="dataset", dataset_id=references.dataset_id)


def _check(references: References, window: list[dict[str, Any]], rows: list[dict[str, Any]]) -> Any:
    return build_report(SCOPE, SPAN, _dataset(references), window, rows, config=DriftConfig(), min_samples=30,
                        include_platform=False)  # fmt: skip
