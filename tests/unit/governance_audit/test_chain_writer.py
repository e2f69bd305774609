"""The audit chain's writer on the kit's in-memory publisher: links, resumes, signs, and never forks a chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from llmops_governance_audit.chain.heads import ChainHeads
from llmops_governance_audit.chain.writer import ChainWriter
from llmops_kit.audit_digests import DigestChecker, DigestSigner, generate_private_key
from llmops_kit.audit_verify import verify_chain
from llmops_kit.errors import TransientError
from llmops_kit.kafka.messages import ConsumedMessage, Delivery
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import AuditChained, AuditChainHead, AuditDigest
from llmops_schemas.v2 import AuditRecorded

SIGNER = DigestSigner.from_text(generate_private_key())
CHECKER = DigestChecker([SIGNER.public_key])
AT = datetime(2026, 3, 1, tzinfo=UTC)


def entry(tenant: str, n: int) -> CloudEvent[AuditRecorded]:
    payload = AuditRecorded(
        actor={"type": "api_key", "id": f"key-{n}"}, action="prompt.publish",
        resource={"type": "prompt", "id": "p"}, outcome="success", occurred_at=AT + timedelta(seconds=n),
    )  # fmt: skip
    return CloudEvent.wrap(payload, source="/services/inference", tenant_id=tenant)


def deliveries(events: list[CloudEvent[Any]], first_offset: int = 0) -> list[Delivery[CloudEvent[Any]]]:
    def message(offset: int) -> ConsumedMessage:
        return ConsumedMessage(AuditRecorded.topic, 0, offset, None, b"", (), 0)

    return [Delivery(message(first_offset + i), event) for i, event in enumerate(events)]


def loaded_heads() -> ChainHeads:
    heads = ChainHeads()
    heads.mark_caught_up()
    return heads


def writer_of(sink: InMemoryPublisher, heads: ChainHeads | None = None) -> ChainWriter:
    return ChainWriter(heads or loaded_heads(), sink, SIGNER, source="/services/governance-audit", clock=lambda: AT)


def stored(sink: InMemoryPublisher, payload: type[Any], tenant: str) -> list[dict[str, Any]]:
    return [
        e.data.model_dump(mode="json") for e in sink.events if isinstance(e.data, payload) and e.tenant_id == tenant
    ]


async def test_each_tenant_gets_one_gapless_chain_that_verifies_with_its_digest() -> None:
    sink = InMemoryPublisher()
    writer = writer_of(sink)
    batch = [entry("acme", 0), entry("globex", 1), entry("acme", 2), entry("acme", 3)]
    await writer.handle(deliveries(batch))
    assert [c.sequence for c in sink.of(AuditChained)] == [0, 0, 1, 2]
    assert await writer.sign_due() == 2
    for tenant, count in (("acme", 3), ("globex", 1)):
        report = verify_chain(tenant, stored(sink, AuditChained, tenant), stored(sink, AuditDigest, tenant), CHECKER)
        assert report.intact, report.findings
        assert (report.entries, report.signed_through) == (count, count - 1)
    assert await writer.sign_due() == 0, "nothing new, no digest"


async def test_the_entry_is_chained_as_the_service_sent_it_and_the_head_follows() -> None:
    sink = InMemoryPublisher()
    audit = entry("acme", 0)
    await writer_of(sink).handle(deliveries([audit], first_offset=41))
    [chained] = sink.on(AuditChained.topic)
    record = chained.data.record()
    assert (record["record_id"], record["source"], record["tenant_id"]) == (audit.id, "/services/inference", "acme")
    assert record["record"] == audit.data.model_dump(mode="json", exclude_defaults=True)
    assert chained.time == audit.time, "a chained entry's time is its entry's, so a re-link is byte-identical"
    [head] = sink.of(AuditChainHead)
    assert (head.next_sequence, head.hash, head.source_offset) == (1, chained.data.hash, 41)
    assert sink.topics == [AuditChained.topic, AuditChainHead.topic], "the head is published after the entries"


async def test_a_batch_redelivered_after_a_restart_is_not_chained_twice() -> None:
    sink = InMemoryPublisher()
    batch = deliveries([entry("acme", n) for n in range(3)])
    await writer_of(sink).handle(batch)
    restarted = loaded_heads()
    for event in sink.on(AuditChainHead.topic):
        restarted.apply(event)
    await writer_of(sink, restarted).handle([*batch, *deliveries([entry("acme", 9)], first_offset=3)])
    assert [c.sequence for c in sink.of(AuditChained)] == [0, 1, 2, 3]


async def test_a_relink_after_a_lost_head_gives_the_same_records() -> None:
    """The crash between publishing the entries and their head: the same records again, folded by event id."""
    sink = InMemoryPublisher()
    batch = deliveries([entry("acme", n) for n in range(3)])
    await writer_of(sink).handle(batch)
    await writer_of(sink).handle(batch)  # a writer that never saw the head
    first, second = sink.on(AuditChained.topic)[:3], sink.on(AuditChained.topic)[3:]
    assert [e.to_json_bytes() for e in first] == [e.to_json_bytes() for e in second]
    report = verify_chain("acme", stored(sink, AuditChained, "acme"), [], CHECKER)
    assert report.intact and report.entries == 3


async def test_nothing_is_chained_before_the_heads_are_loaded() -> None:
    sink = InMemoryPublisher()
    with pytest.raises(TransientError, match="still loading"):
        await writer_of(sink, ChainHeads()).handle(deliveries([entry("acme", 0)]))
    assert sink.events == []


async def test_kafka_down_moves_no_head_and_is_transient() -> None:
    sink = InMemoryPublisher()
    writer = writer_of(sink)
    sink.failure = KafkaConnectionError()
    with pytest.raises(TransientError):
        await writer.handle(deliveries([entry("acme", 0)]))
    sink.failure = None
    await writer.handle(deliveries([entry("acme", 1)], first_offset=1))
    assert [c.sequence for c in sink.of(AuditChained)] == [0], "the failed batch did not take sequence 0"


async def test_digests_number_on_and_cover_only_what_is_new() -> None:
    sink = InMemoryPublisher()
    writer = writer_of(sink)
    await writer.handle(deliveries([entry("acme", n) for n in range(2)]))
    await writer.sign_due()
    await writer.handle(deliveries([entry("acme", n) for n in range(2, 5)], first_offset=2))
    await writer.sign_due()
    spans = [(d.digest_number, d.first_sequence, d.last_sequence) for d in sink.of(AuditDigest)]
    assert spans == [(0, 0, 1), (1, 2, 4)]


async def test_without_a_signing_key_the_chain_is_written_unsigned() -> None:
    sink = InMemoryPublisher()
    writer = ChainWriter(loaded_heads(), sink, None, source="/services/governance-audit")
    await writer.handle(deliveries([entry("acme", 0)]))
    assert (await writer.sign_due(), len(sink.of(AuditChained))) == (0, 1)


async def test_nothing_is_chained_while_the_heads_are_behind_their_topic() -> None:
    """After a rebalance: the previous owner's last head may not have reached this replica yet."""
    sink = InMemoryPublisher()
    behind = True

    async def synced() -> bool:
        return not behind

    writer = ChainWriter(loaded_heads(), sink, SIGNER, source="/services/governance-audit", synced=synced)
    with pytest.raises(TransientError, match="behind"):
        await writer.handle(deliveries([entry("acme", 0)]))
    behind = False
    await writer.handle(deliveries([entry("acme", 0)]))
    assert [c.sequence for c in sink.of(AuditChained)] == [0]
