"""A fold batch end to end, without a broker: dead letters first, platform calls left out, one entry per scope
and window, duplicates and late calls counted, and the sampled calls' prompt embeddings in their rows."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

import httpx
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.embeddings import FEATURE, PromptEmbedder
from llmops_drift_detection.entries import WindowEntries
from llmops_drift_detection.kept import unpack
from llmops_drift_detection.metrics import CALLS
from llmops_drift_detection.references import References
from llmops_drift_detection.stream import DriftStream
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_kit.platform_client import GatewayClient, PlatformClient

from tests.unit.drift_detection.test_entries import FakeTable
from tests.unit.evaluation.calls import STARTED, call


class FakeProducer:
    """The dead-letter producer: records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send_many(self, records: Any) -> None:
        self.sent.extend(records)


def _message(offset: int, value: bytes) -> ConsumedMessage:
    return ConsumedMessage("llmops.calls.recorded", 2, offset, b"acme", value, (), 0)


def _count(outcome: str) -> float:
    return CALLS.labels(outcome)._value.get()


async def test_a_batch_is_folded_with_its_sampled_embeddings_and_its_dead_letters() -> None:
    texts: list[str] = []

    def embed(request: httpx.Request) -> httpx.Response:
        texts.extend(json.loads(request.content)["input"])
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [0.5, 0.25]}]})

    client = PlatformClient("gateway", "http://gw", "key", transport=httpx.MockTransport(embed), attempts=1)
    embedder = PromptEmbedder(
        GatewayClient(client), rate=1.0, model="local-embedder", timeout_s=5, backoff_s=30, max_chars=100
    )
    settings = DriftDetectionSettings(kafka_bootstrap_servers="127.0.0.1:1", window_s=600, grace_s=10)
    producer = FakeProducer()
    clock = STARTED.timestamp() + 60
    references = References("previous_window", 30)
    stream = DriftStream(
        settings, out=cast(Any, None), dead_letters=cast(Any, producer), references=references, embedder=embedder,
        clock=lambda: clock,
    )  # fmt: skip
    table = FakeTable()
    stream.entries = WindowEntries(cast(Any, table), settings.max_calls_per_window)
    late = call(call_id="late-1", started_at=STARTED - timedelta(hours=1))
    platform = call(call_id="judge", origin="platform")
    values = [b"not json", call(call_id="c-1").to_json_bytes(), platform.to_json_bytes(), late.to_json_bytes(),
              call(call_id="c-1").to_json_bytes()]  # fmt: skip
    outcomes = {name: _count(name) for name in ("dead_lettered", "platform", "late", "duplicate", "windowed")}
    await client.start()
    try:
        await stream.fold_batch([_message(10 + i, value) for i, value in enumerate(values)])
    finally:
        await client.stop()

    assert [record[2] for record in producer.sent] == [b"not json"]
    assert {name: _count(name) - before for name, before in outcomes.items()} == {
        "dead_lettered": 1, "platform": 1, "late": 1, "duplicate": 1, "windowed": 1,
    }  # fmt: skip
    [(partition, _, entry)] = table.changelog
    assert partition == 2 and list(entry["r"]) == ["c-1"]
    assert unpack(entry["r"]["c-1"][FEATURE]) == [0.5, 0.25] and texts == ["Where is my parcel?"]
    assert "parcel" not in json.dumps(entry)  # the prompt text never reaches the changelog
