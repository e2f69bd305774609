"""The gateway's recorded calls are redacted before Kafka and the spool, in a thread or a helper process; the
client's answer is not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from llmops_inference.recording.redaction import BatchRedaction, InThreadRedaction
from llmops_inference.recording.redaction_process import ProcessRedaction
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_pii.policy import PolicyBook
from prometheus_client import REGISTRY

from tests.unit.inference.support import chat
from tests.unit.inference.test_recording import event, recorder, wait_until

PROMPT = "I am Priya Sharma, call me on +44 20 7946 0958"


@pytest.fixture(params=["thread", "process"])
def redaction(request: pytest.FixtureRequest) -> Callable[[PolicyBook], BatchRedaction]:
    """The recorder's redaction, in a thread of this process or in a helper process (INFERENCE_REDACT_IN)."""
    if request.param == "thread":
        return lambda book: InThreadRedaction(book.for_tenant)
    return lambda book: ProcessRedaction(book.for_tenant)


def refused_pii() -> float:
    return REGISTRY.get_sample_value("llmops_inference_events_refused_total", {"reason": "pii_blocked"}) or 0.0


async def test_the_client_gets_the_answer_and_the_stored_call_is_redacted(
    make_harness: Callable[..., Any], auth: dict[str, str]
) -> None:
    async with make_harness(pii=PolicyBook()) as gw:
        gw.backends["primary"].reply = "Noted, Priya Sharma: +44 20 7946 0958."
        response = await gw.client.post("/v1/chat/completions", json=chat(content=PROMPT), headers=auth)
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "Noted, Priya Sharma: +44 20 7946 0958."
        [call] = await gw.events()
    assert call.messages[0].content == "I am [PERSON], call me on [PHONE]"
    assert call.output == "Noted, [PERSON]: [PHONE]."


async def test_the_spool_holds_only_redacted_events(tmp_path: Path, redaction: Any) -> None:
    publisher = InMemoryPublisher()
    publisher.failure = KafkaConnectionError("broker down")
    rec = recorder(publisher, tmp_path, redact=redaction(PolicyBook()))
    await rec.start()
    rec.record(event(1, text=PROMPT))
    await rec.flush()
    await wait_until(lambda: rec.spool.pending == 1)
    # Through the spool, not the directory: its replay task seals (renames) the open segment meanwhile.
    spooled = b"\n".join(line for segment in rec.spool.segments() for line in rec.spool.read(segment))
    assert b"Priya" not in spooled and b"7946" not in spooled and b"[PERSON]" in spooled
    publisher.failure = None
    await wait_until(lambda: len(publisher.events) == 1)
    assert publisher.events[0].data.messages[0].content == "I am [PERSON], call me on [PHONE]"
    await rec.stop()


async def test_a_blocked_call_is_refused_and_counted_not_recorded(tmp_path: Path, redaction: Any) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path, redact=redaction(PolicyBook(tenants={"acme": {"phone": "block"}})))
    await rec.start()
    before = refused_pii()
    rec.record(event(1, text=PROMPT))
    rec.record(event(2, text="no personal data here"))
    await rec.flush()
    assert [e.data.call_id for e in publisher.events] == ["chatcmpl-000002"]
    assert refused_pii() == before + 1
    await rec.stop()


async def test_events_spilled_from_a_full_buffer_are_redacted_too(tmp_path: Path, redaction: Any) -> None:
    rec = recorder(InMemoryPublisher(), tmp_path, buffer_size=1, redact=redaction(PolicyBook()))
    for n in range(3):  # not started: the first fills the buffer, the others spill to the spool
        rec.record(event(n, text=PROMPT))
    await wait_until(lambda: rec.spool.pending == 2)
    spooled = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"Priya" not in spooled and spooled.count(b"[PHONE]") == 2
