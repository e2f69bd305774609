"""The chain writer's components for the service's runtime: the heads' materialiser, the writer, the consumer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmops_kit.audit_digests import DigestSigner
from llmops_kit.http.app import Component, ReadinessCheck
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v1 import AuditChained, AuditChainHead, AuditDigest
from llmops_schemas.v2 import AuditRecorded

from llmops_governance_audit.chain.heads import ChainHeads
from llmops_governance_audit.chain.settings import ChainSettings
from llmops_governance_audit.chain.writer import ChainWriter

__all__ = ["CHAIN_TOPICS", "ChainRuntime", "chain_runtime"]

CHAIN_TOPICS = [AuditRecorded.topic, AuditChained.topic, AuditDigest.topic, AuditChainHead.topic]
"""The topics the writer reads or writes."""


@dataclass
class ChainRuntime:
    """What the bootstrap starts (in this order) and the readiness checks it adds."""

    components: list[Component]
    checks: dict[str, ReadinessCheck]
    writer: ChainWriter


def _decode(message: ConsumedMessage) -> CloudEvent[Any]:
    """An audit entry (a v1 entry is upcast); anything else raises, and the consumer dead-letters it."""
    return parse_event(message.value, expect=AuditRecorded)


def chain_runtime(
    bootstrap: str, security: KafkaSecurity, producer: EventProducer, *, source: str, service: str,
    settings: ChainSettings | None = None,
) -> ChainRuntime:  # fmt: skip
    """The writer over ``producer``, fed by a consumer of ``llmops.audit.records`` once the heads are loaded."""
    settings = settings or ChainSettings()
    key = settings.signing_key
    signer = DigestSigner.from_text(key.get_secret_value()) if key is not None else None
    heads = ChainHeads()
    materializer = CompactedTopicMaterializer(
        bootstrap_servers=bootstrap, topic=heads.topic, view=heads, client_id=f"llmops-{service}-heads",
        security=security,
    )  # fmt: skip
    writer = ChainWriter(
        heads, producer, signer, source=source, digest_interval_s=settings.digest_interval_s,
        synced=lambda: materializer.caught_up_now(settings.heads_sync_s),
    )  # fmt: skip
    consumer: ConsumerLoop[CloudEvent[Any]] = ConsumerLoop(
        bootstrap_servers=bootstrap, group_id=settings.chain_group, topics=[AuditRecorded.topic], decode=_decode,
        handle=writer.handle, dead_letters=producer, service=service, max_batch=settings.chain_batch,
        security=security,
    )  # fmt: skip

    async def consuming() -> bool:
        return consumer.ready

    checks: dict[str, ReadinessCheck] = {"audit_chain_heads": materializer.check, "audit_chain": consuming}
    return ChainRuntime(components=[materializer, writer, consumer], checks=checks, writer=writer)
