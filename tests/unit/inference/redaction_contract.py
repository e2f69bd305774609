"""What every BatchRedaction must do, as one suite run against each implementation.

Subclass :class:`BatchRedactionContract` and provide ``redaction``: ``redaction(book)`` -> the implementation
over ``book.for_tenant``, not started. test_redaction.py runs it on
:class:`~llmops_inference.recording.redaction.InThreadRedaction` and on
:class:`~llmops_inference.recording.redaction_process.ProcessRedaction`. Every result is checked against what
the engine gives in this process (``EventRedactor``), so an implementation that serialises, parses or applies a
policy differently fails here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from llmops_inference.ports import CallContext
from llmops_inference.recording.records import CallDraft, to_recorded_messages
from llmops_inference.recording.redaction import BatchRedaction, EventRedactor, Redacted
from llmops_kit.kafka.publisher import EncodedEvent
from llmops_pii.patterns import compile_pattern
from llmops_pii.policy import PolicyBook, PolicyRule
from llmops_pii.redact import PiiBlocked
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import CallRecorded

Factory = Callable[[PolicyBook], BatchRedaction]
PROMPT = "I am Priya Sharma, call me on +44 20 7946 0958"
ANSWER = "Noted, Priya Sharma: your order EMP-204511 ships today."
HASH_KEY = b"contract-suite-hash-key"


def call(n: int, tenant: str = "acme", text: str = PROMPT, output: str | None = ANSWER) -> CloudEvent[CallRecorded]:
    """A recorded call of ``tenant`` with ``text`` as its message, ``output`` as its answer, a metadata value."""
    context = CallContext(tenant_id=tenant, key_id="k", app="bot", endpoint="chat", call_id=f"chatcmpl-{n:06d}")
    draft = CallDraft(
        context=context,
        model="m",
        messages=to_recorded_messages([("system", "Be brief.", None, None), ("user", text, None, None)]),
        started_at=datetime(2026, 3, 1, 12, 0, n % 60, tzinfo=UTC),
        source="/services/inference",
        environment="test",
        metadata={"ticket": f"opened by {text}"},
        output=output,
    )
    return draft.event()


def expected(book: PolicyBook, event: CloudEvent[CallRecorded]) -> Redacted:
    """What the engine gives for ``event`` in this process."""
    try:
        return EncodedEvent.of(EventRedactor(book.for_tenant)(event))
    except PiiBlocked as exc:
        return exc


def same(got: Redacted, want: Redacted) -> bool:
    if isinstance(want, PiiBlocked):
        return isinstance(got, PiiBlocked) and got.types == want.types and str(got) == str(want)
    return isinstance(got, EncodedEvent) and got == want


class BatchRedactionContract:
    @pytest.fixture
    def redaction(self) -> Factory:
        raise NotImplementedError

    @pytest.fixture
    async def started(self, redaction: Factory) -> AsyncIterator[Callable[[PolicyBook], Any]]:
        """``await started(book)`` -> the implementation, started (and stopped at the end)."""
        running: list[BatchRedaction] = []

        async def start(book: PolicyBook) -> BatchRedaction:
            implementation = redaction(book)
            await implementation.start()
            running.append(implementation)
            return implementation

        yield start
        for implementation in running:
            await implementation.stop()

    async def test_texts_with_personal_data_are_redacted_in_every_part_of_the_call(self, started: Any) -> None:
        book = PolicyBook()
        event = call(1)
        [got] = await (await started(book)).redact([event])
        assert isinstance(got, EncodedEvent) and same(got, expected(book, event))
        stored = parse_event(got.value, upcast_to_latest=False)
        assert stored.id == event.id and stored.tenant_id == "acme"
        assert stored.data.messages[1].content == "I am [PERSON], call me on [PHONE]"
        assert stored.data.output == "Noted, [PERSON]: your order EMP-204511 ships today."
        assert stored.data.metadata == {"ticket": "opened by I am [PERSON], call me on [PHONE]"}
        assert b"Priya" not in got.value and b"7946" not in got.value

    async def test_a_call_without_personal_data_is_serialised_as_it_is(self, started: Any) -> None:
        event = call(2, text="Where is my parcel?", output="It ships today.")
        [got] = await (await started(PolicyBook())).redact([event])
        assert got == EncodedEvent.of(event)
        assert (got.topic, got.key, got.type) == ("llmops.calls.recorded", b"acme", "llmops.call.recorded.v2")

    async def test_a_type_the_policy_blocks_refuses_that_call_only(self, started: Any) -> None:
        book = PolicyBook(tenants={"acme": {"phone": "block"}})
        blocked, clean = call(3), call(4, text="no personal data here", output="fine")
        got = await (await started(book)).redact([blocked, clean])
        assert isinstance(got[0], PiiBlocked) and got[0].types == ["phone"]
        assert same(got[0], expected(book, blocked)) and got[1] == EncodedEvent.of(clean)

    async def test_each_tenant_of_a_batch_gets_its_own_policy_in_order(self, started: Any) -> None:
        book = PolicyBook(tenants={"beta": {"person": "mask", "phone": "hash"}}, hash_key=HASH_KEY)
        batch = [call(n, tenant="beta" if n % 3 == 0 else "acme") for n in range(30)]
        got = await (await started(book)).redact(batch)
        assert [parse_event(g.value).id for g in got if isinstance(g, EncodedEvent)] == [e.id for e in batch]
        assert all(same(g, expected(book, e)) for g, e in zip(got, batch, strict=True))
        masked = parse_event(got[0].value).data.messages[1].content  # type: ignore[union-attr]
        assert masked.startswith("I am P. S., call me on [PHONE:") and "7946" not in masked

    async def test_a_tenants_custom_pattern_and_keyed_hash_apply(self, started: Any) -> None:
        book = PolicyBook(tenants={"acme": {"person": "hash"}}, hash_key=HASH_KEY)
        book.set_tenant_rules("acme", [PolicyRule({}, (compile_pattern("EMPLOYEE_ID", r"EMP-\d{6}", "redact"),))])
        event = call(5)
        [got] = await (await started(book)).redact([event])
        assert same(got, expected(book, event))
        output = parse_event(got.value).data.output  # type: ignore[union-attr]
        assert "[EMPLOYEE_ID]" in output and "204511" not in output and "[PERSON:" in output

    async def test_a_policy_changed_between_batches_applies_to_the_next(self, started: Any) -> None:
        book = PolicyBook()
        redaction = await started(book)
        [before] = await redaction.redact([call(6)])
        book.set_tenant("acme", {"phone": "block"})
        [after] = await redaction.redact([call(7)])
        assert isinstance(before, EncodedEvent) and isinstance(after, PiiBlocked)

    async def test_it_redacts_before_start_and_after_stop(self, redaction: Factory) -> None:
        book = PolicyBook()
        implementation = redaction(book)
        event = call(8)
        [early] = await implementation.redact([event])
        await implementation.start()
        await implementation.stop()
        [late] = await implementation.redact([event])
        assert same(early, expected(book, event)) and same(late, expected(book, event))

    async def test_an_empty_batch_gives_nothing(self, started: Any) -> None:
        assert await (await started(PolicyBook())).redact([]) == []

    async def test_the_result_is_valid_json_with_every_field_of_the_call(self, started: Any) -> None:
        book = PolicyBook()
        event = call(9)
        [got] = await (await started(book)).redact([event])
        document = json.loads(got.value)  # type: ignore[union-attr]
        original = json.loads(event.to_json_bytes())
        assert set(document) == set(original) and set(document["data"]) == set(original["data"])
