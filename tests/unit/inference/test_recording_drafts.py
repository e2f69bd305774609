"""A finished call is handed to the recorder as it is and becomes its event in the drain, off the request path.

Building a chat call's event (validating the payload and its envelope, serialising it for the size check) costs
tens of microseconds that the caller no longer waits for. Nothing changes in what is recorded: the same event,
published once; a call whose event cannot be built is refused and counted (``invalid``), logged by call id only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import pytest
from llmops_inference.recording import recorder as recorder_module
from llmops_inference.recording.records import CallDraft
from llmops_inference.recording.spool import Spool
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded

from tests.unit.inference.support import KEYS, Harness, chat
from tests.unit.inference.test_recording import draft as recorded_draft
from tests.unit.inference.test_recording import recorder
from tests.unit.inference.test_recording_bounds import SECRET, refused

WRITER = {"Authorization": f"Bearer {KEYS['writer'][0]}"}


def draft(n: int) -> CallDraft:
    call = recorded_draft(n, call_id=f"chatcmpl-d{n:05d}")
    call.end()
    return call


class Counted:
    """A finished call that counts how often its event is built (and can fail to build)."""

    def __init__(self, call: CallDraft, failure: Exception | None = None) -> None:
        self.call, self.failure, self.built = call, failure, 0

    @property
    def call_id(self) -> str:
        return self.call.call_id

    def event(self) -> CloudEvent[CallRecorded]:
        self.built += 1
        if self.failure is not None:
            raise self.failure
        return self.call.event()


async def test_a_finished_call_becomes_its_event_in_the_drain_not_when_recorded(tmp_path: Path) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path)
    await rec.start()
    call = Counted(draft(1))
    rec.record(call)
    assert call.built == 0, "recording a call builds nothing while the caller waits"
    await rec.flush()
    await rec.stop()
    assert call.built == 1
    (published,) = publisher.events
    assert published.id == draft(1).event().id, "the same event id as a draft built at once (derived from the call)"
    assert published.data.call_id == "chatcmpl-d00001" and published.data.status == "ok"


async def test_a_call_whose_event_cannot_be_built_is_refused_and_its_batch_still_goes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path, batch_size=10)
    calls = [Counted(draft(2)), Counted(draft(3), ValueError(f"input {SECRET} is not valid")), Counted(draft(4))]
    before = refused("invalid")
    with caplog.at_level(logging.ERROR, logger="llmops_inference.recording.recorder"):
        for call in calls:
            rec.record(call)
        await rec.start()  # one batch of all three
        await rec.flush()
        await rec.stop()
    assert refused("invalid") - before == 1
    assert [e.data.call_id for e in publisher.events] == ["chatcmpl-d00002", "chatcmpl-d00004"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "chatcmpl-d00003" in logged and "ValueError" in logged
    assert SECRET not in logged, "the exception's message may quote the call: only its type is logged"


async def test_a_call_the_full_buffer_cannot_take_gets_its_event_at_once_for_the_overflow(tmp_path: Path) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path, buffer_size=1)  # not started: nothing drains
    queued, overflowing = Counted(draft(5)), Counted(draft(6))
    rec.record(queued)
    rec.record(overflowing)
    assert (queued.built, overflowing.built) == (0, 1), "the overflow holds serialised events"
    await rec.start()
    await rec.flush()
    await rec.stop()
    assert queued.built == 1
    spool = Spool(tmp_path)
    spooled = [CloudEvent[CallRecorded].model_validate_json(line) for s in spool.segments() for line in spool.read(s)]
    assert [e.data.call_id for e in publisher.events] == ["chatcmpl-d00005"]
    assert [e.data.call_id for e in spooled] == ["chatcmpl-d00006"], "the overflow's event was spilled"


async def test_the_gateway_hands_the_recorder_the_finished_call_itself(
    gw: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[Any] = []
    record = gw.wiring.recorder.record

    def spy(call: Any) -> None:
        handed.append(call)
        record(call)

    monkeypatch.setattr(gw.wiring.recorder, "record", spy)
    response = await gw.client.post("/v1/chat/completions", json=chat(content=SECRET), headers=WRITER)
    assert response.status_code == 200, response.text
    (call,) = handed
    assert isinstance(call, CallDraft) and call.ended is not None
    (recorded,) = await gw.events()
    assert recorded.call_id == response.json()["id"] and recorded.messages[0].content == SECRET


async def test_the_event_is_timed_when_the_call_ended_not_when_it_was_built(tmp_path: Path) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path)
    call = draft(7)
    rec.record(call)
    await rec.start()
    await rec.flush()
    await rec.stop()
    (published,) = publisher.events
    assert call.ended_at is not None and published.time == call.ended_at


class Cancelling(Counted):
    """A call whose event, once built, cancels the drain that builds it (as ``stop()`` would, mid-batch)."""

    def __init__(self, call: CallDraft, drain: list[asyncio.Task[None]]) -> None:
        super().__init__(call)
        self.drain = drain

    def event(self) -> CloudEvent[CallRecorded]:
        self.drain[0].cancel()
        return super().event()


async def test_a_batch_cut_short_is_published_with_what_was_built_and_refuses_nothing_twice(tmp_path: Path) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path, batch_size=10)
    drain: list[asyncio.Task[None]] = []
    first, failing = Cancelling(draft(8), drain), Counted(draft(9), ValueError("no"))
    rec.record(first)
    rec.record(failing)
    before = refused("invalid")
    await rec.start()
    drain.append(rec._tasks[0])
    with contextlib.suppress(asyncio.CancelledError):
        await drain[0]
    await rec.stop()  # publishes the batch the cancelled drain held
    assert [e.data.call_id for e in publisher.events] == ["chatcmpl-d00008"]
    assert (first.built, failing.built) == (1, 1) and refused("invalid") - before == 1


@pytest.mark.parametrize(("slice_s", "interleaved"), [(3600.0, False), (0.0, True)])
async def test_the_drain_builds_in_slices_with_the_event_loop_serving_between_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_s: float, interleaved: bool
) -> None:
    monkeypatch.setattr(recorder_module, "BUILD_SLICE_S", slice_s)
    passes = [0]  # a task counting the event loop's passes while the batch is built
    seen: list[int] = []

    class Seen(Counted):
        def event(self) -> CloudEvent[CallRecorded]:
            seen.append(passes[0])
            return super().event()

    async def count() -> None:
        while True:
            passes[0] += 1
            await asyncio.sleep(0)

    counting = asyncio.create_task(count())
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path, batch_size=10)
    for n in range(5):
        rec.record(Seen(draft(10 + n)))
    await rec.start()
    await rec.flush()
    await rec.stop()
    counting.cancel()
    assert len(publisher.events) == 5
    assert (len(set(seen)) == 5) is interleaved, seen
