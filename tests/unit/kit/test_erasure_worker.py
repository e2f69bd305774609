"""The erasure worker: two passes, one receipt per request with counts per store, idempotent, bounded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from llmops_kit.erasure import ErasureLimits, ErasureWorker, Held, receipt_event_id
from llmops_kit.erasure_consumer import decode_erasure, erasure_handler
from llmops_kit.errors import PermanentError, TransientError
from llmops_kit.kafka.messages import ConsumedMessage, Delivery
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import PlatformCallError
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import erasure as v1
from llmops_schemas.v2 import AuditRecorded, ErasureProcessed, ErasureRequested
from llmops_schemas.v2.erasure import ErasureSubjectType

from tests.unit.kit.fake_erased_calls import FakeErasedCalls

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TOPIC = "llmops.review.items"


class Records:
    """A fake service state: record key -> (call id, text)."""

    stores: tuple[str, ...] = ("items", "examples")

    def __init__(self, **records: tuple[str, str]) -> None:
        self.records = dict(records)
        self.caught_up = True

    def _held(self, keys: list[str]) -> list[Held]:
        return [Held("items", TOPIC, f"t1:{key}") for key in keys]

    def holding_subject(self, tenant: str, subject_type: ErasureSubjectType, value: str) -> list[Held]:
        if subject_type == "call_id":
            return self._held([k for k, (call, _) in self.records.items() if call == value])
        if subject_type == "email":
            return self._held([k for k, (_, text) in self.records.items() if value in text])
        return []

    def holding_calls(self, tenant: str, call_ids: frozenset[str]) -> list[Held]:
        return self._held([k for k, (call, _) in self.records.items() if call in call_ids])

    def forget(self, tenant: str, held: Sequence[Held]) -> None:
        for record in held:
            self.records.pop(record.key.removeprefix("t1:"))


class Tombstones:
    def __init__(self) -> None:
        self.written: list[tuple[str, str]] = []

    async def write(self, records: Sequence[tuple[str, str]]) -> None:
        self.written.extend(records)


def request(subject_type: ErasureSubjectType = "user_id", value: str = "u-1", rid: str = "req-1") -> CloudEvent:
    data = ErasureRequested(request_id=rid, subject_type=subject_type, subject_value=value, requested_by="dpo",
                            reason="GDPR art. 17", requested_at=NOW)  # fmt: skip
    return CloudEvent.wrap(data, source="/services/governance-audit", tenant_id="t1")


def receipt(rid: str = "req-1", service: str = "warehouse", status: str = "completed") -> CloudEvent:
    data = ErasureProcessed(request_id=rid, service=service, subject_type="user_id", status=status,  # type: ignore[arg-type]
                            counts={"calls": 2}, rows_affected=2, completed_at=NOW,
                            error="boom" if status == "failed" else None)  # fmt: skip
    return CloudEvent.wrap(data, source="/services/warehouse", tenant_id="t1")


@pytest.fixture
def state() -> Records:
    return Records(a=("call-1", "hi"), b=("call-2", "mail bob@example.com"), c=("call-3", "other"))


@pytest.fixture
def parts(state: Records) -> tuple[ErasureWorker, Tombstones, InMemoryPublisher, FakeErasedCalls]:
    tombstones, publisher, calls = Tombstones(), InMemoryPublisher(), FakeErasedCalls()
    worker = ErasureWorker(service="feedback", source="/services/feedback", state=state, tombstones=tombstones,
                           publisher=publisher, calls=calls, limits=ErasureLimits(page_size=1, max_calls=10),
                           clock=lambda: NOW)  # fmt: skip
    return worker, tombstones, publisher, calls


async def test_a_user_is_erased_through_the_warehouses_calls(state: Records, parts) -> None:
    worker, tombstones, publisher, calls = parts
    calls.seed("t1", "req-1", ["call-1", "call-3", "call-9"])
    await worker.handle([request()])
    assert tombstones.written == [] and publisher.published == []  # nothing of a user id is held directly
    await worker.handle([receipt()])
    assert tombstones.written == [(TOPIC, "t1:a"), (TOPIC, "t1:c")]
    assert list(state.records) == ["b"]
    (sent,) = publisher.on(ErasureProcessed.topic)
    assert sent.id == receipt_event_id("t1", "req-1", "feedback")
    assert sent.data.service == "feedback" and sent.data.status == "completed"
    assert sent.data.counts == {"items": 2, "examples": 0} and sent.data.rows_affected == 2
    assert sent.data.purge_deadline == NOW + timedelta(days=1)
    (audit,) = publisher.of(AuditRecorded)
    assert (audit.action, audit.resource.id, audit.outcome) == ("erasure.erase", "req-1", "success")
    assert audit.details == {"status": "completed", "counts": {"items": 2, "examples": 0}}


async def test_a_request_and_its_receipt_in_one_batch_count_both_passes(parts) -> None:
    worker, _tombstones, publisher, calls = parts
    calls.seed("t1", "req-1", ["call-1"])
    await worker.handle([receipt(), request("email", "bob@example.com")])
    assert publisher.of(ErasureProcessed)[0].counts["items"] == 2


async def test_first_pass_counts_join_the_receipt(state: Records, parts) -> None:
    worker, tombstones, publisher, calls = parts
    calls.seed("t1", "req-1", ["call-1"])
    await worker.handle([request("email", "bob@example.com"), receipt()])
    assert tombstones.written == [(TOPIC, "t1:b"), (TOPIC, "t1:a")]
    assert publisher.of(ErasureProcessed)[0].counts == {"items": 2, "examples": 0}


async def test_a_subject_not_held_gets_zero_counts(parts) -> None:
    worker, tombstones, publisher, calls = parts
    calls.seed("t1", "req-1", [])
    await worker.handle([request("call_id", "call-404"), receipt()])
    assert tombstones.written == []
    assert publisher.of(ErasureProcessed)[0].counts == {"items": 0, "examples": 0}


async def test_redelivery_tombstones_nothing_twice_and_repeats_the_receipts_id(parts) -> None:
    worker, tombstones, publisher, calls = parts
    calls.seed("t1", "req-1", ["call-1"])
    for _ in range(2):
        await worker.handle([request("call_id", "call-1"), receipt()])
    assert tombstones.written == [(TOPIC, "t1:a")]
    first, second = publisher.on(ErasureProcessed.topic)
    assert first.id == second.id  # a sink deduplicating on event ids keeps the first


async def test_other_receipts_are_ignored(parts) -> None:
    worker, _tombstones, publisher, calls = parts
    await worker.handle([receipt(service="feedback"), receipt(service="evaluation")])
    assert publisher.published == [] and calls.reads == []


async def test_a_failed_warehouse_receipt_gives_a_failed_receipt(parts) -> None:
    worker, _tombstones, publisher, calls = parts
    await worker.handle([receipt(status="failed")])
    (sent,) = publisher.of(ErasureProcessed)
    assert sent.status == "failed" and "warehouse could not erase" in (sent.error or "")
    assert calls.reads == []


async def test_more_calls_than_the_bound_is_a_failed_receipt(parts) -> None:
    worker, _tombstones, publisher, calls = parts
    calls.seed("t1", "req-1", [f"call-x{n}" for n in range(11)] + ["call-1"])
    await worker.handle([receipt()])
    (sent,) = publisher.of(ErasureProcessed)
    assert sent.status == "failed" and "more than 10" in (sent.error or "")
    assert len(calls.reads) == 11  # stopped at the bound, before the rest


async def test_waits_for_the_state_and_for_the_warehouse(state: Records, parts) -> None:
    worker, _tombstones, publisher, _calls = parts
    state.caught_up = False
    with pytest.raises(TransientError, match="still loading"):
        await worker.handle([request()])
    state.caught_up = True
    with pytest.raises(TransientError, match="not listed the calls"):
        await worker.handle([receipt()])  # the route answers 404 until the warehouse has processed it
    assert publisher.published == []


async def test_a_pass_interrupted_by_the_warehouse_keeps_its_counts(state: Records, parts) -> None:
    worker, tombstones, publisher, calls = parts
    calls.seed("t1", "req-1", ["call-1", "call-3"])
    real = calls.erased_calls

    async def fail_on_second_page(tenant: str, request_id: str, **kwargs: Any) -> Any:
        if kwargs.get("cursor"):
            raise TransientError("the warehouse is restarting")
        return await real(tenant, request_id, **kwargs)

    calls.erased_calls = fail_on_second_page  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        await worker.handle([request("call_id", "call-2"), receipt()])
    calls.erased_calls = real  # type: ignore[method-assign]
    await worker.handle([request("call_id", "call-2"), receipt()])  # the batch again
    assert len(tombstones.written) == 3
    assert publisher.of(ErasureProcessed)[0].counts["items"] == 3


async def test_pending_requests_are_bounded(state: Records) -> None:
    publisher, calls = InMemoryPublisher(), FakeErasedCalls()
    worker = ErasureWorker(service="feedback", source="/s", state=state, tombstones=Tombstones(), publisher=publisher,
                           calls=calls, limits=ErasureLimits(max_pending=1), clock=lambda: NOW)  # fmt: skip
    await worker.handle([request("call_id", "call-1", "req-1"), request("call_id", "call-2", "req-2")])
    calls.seed("t1", "req-1", [])
    await worker.handle([receipt("req-1")])
    assert publisher.of(ErasureProcessed)[0].counts["items"] == 0  # req-1's first pass was pushed out


def message(value: bytes) -> ConsumedMessage:
    return ConsumedMessage("llmops.erasure.requests", 0, 0, b"t1", value, (), 0)


def test_decode_upcasts_v1_and_refuses_the_rest() -> None:
    old = v1.ErasureRequested(request_id="r1", subject_type="user_id", subject_value="u-1", requested_by="dpo",
                              reason="why", requested_at=NOW)  # fmt: skip
    event = CloudEvent.wrap(old, source="/s", tenant_id="t1")
    assert isinstance(decode_erasure(message(event.to_json_bytes())).data, ErasureRequested)
    with pytest.raises(PermanentError, match="not an erasure event"):
        decode_erasure(message(b"{not json"))
    other = receipt().model_copy(update={"type": "llmops.call.recorded.v2"})
    with pytest.raises(PermanentError):
        decode_erasure(message(other.to_json_bytes()))


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (PlatformCallError("warehouse", 503, "busy"), TransientError),
        (PlatformCallError("warehouse", 0, "ConnectError"), TransientError),
        (KafkaTimeoutError(), TransientError),
        (PlatformCallError("warehouse", 403, "role 'service' may not read it"), PermanentError),
    ],
)
async def test_the_handler_classes_failures(parts, failure: Exception, raised: type[Exception]) -> None:
    worker, _tombstones, _publisher, calls = parts

    async def fail(*_: Any, **__: Any) -> Any:
        raise failure

    calls.erased_calls = fail  # type: ignore[method-assign]
    delivery = Delivery(message(b""), receipt())
    with pytest.raises(raised):
        await erasure_handler(worker)([delivery])
