"""Audit entries (``llmops.audit.recorded.v2``), published with the change they record (docs/adr/0034).

Every configuration write, key and role change, export, erasure and privileged read in any service publishes
an entry through :class:`AuditTrail`; :class:`Actor` says who asked (the API key's id, never the key).

The change's events and its entry go out in one ``publish_many`` call, which returns only when Kafka
acknowledged all of them: a change the caller is told succeeded has its audit entry on the log.

Entries are not chained here: the governance-audit service is the one writer of each tenant's hash chain
(``llmops.audit.chain``), which it builds from every producer's entries. An entry holds ids and digests, never
subject data: ``before_digest``/``after_digest`` are SHA-256 digests of the resource's canonical JSON
(:func:`digest`), so the chain proves what changed without holding the configuration or personal data.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Request
from llmops_schemas import CloudEvent
from llmops_schemas.v1.audit_chain import canonical_json
from llmops_schemas.v2 import AuditRecorded
from pydantic import JsonValue

from llmops_kit.auth import Principal
from llmops_kit.kafka.publisher import EventPublisher

__all__ = ["Actor", "AuditTrail", "digest", "identifier"]

_NOT_ID = re.compile(r"[^A-Za-z0-9._:@/-]")


def identifier(text: str) -> str:
    """``text`` as a schema ``Identifier`` (letters, digits, ``._:@/-``; at most 128 characters)."""
    cleaned = _NOT_ID.sub("-", text)[:128]
    return cleaned if cleaned[:1].isalnum() else f"k{cleaned}"[:128]


def digest(value: JsonValue) -> str:
    """SHA-256 (hex) of ``value``'s canonical JSON: what ``before_digest``/``after_digest`` hold."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: the API key's id (never the key) and the request's id, to join logs.

    The caller's address and user agent are left out on purpose: they are personal data, and an entry of
    the chain must never need erasing.
    """

    key_id: str
    request_id: str | None = None

    @property
    def id(self) -> str:
        return identifier(self.key_id)

    @classmethod
    def of(cls, principal: Principal, request: Request | None = None) -> Actor:
        """The actor of an HTTP request (with its ``X-Request-ID`` when present)."""
        request_id = request.headers.get("x-request-id") if request is not None else None
        return cls(key_id=principal.key_id, request_id=identifier(request_id) if request_id else None)


def _now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    """Builds audit entries and publishes them together with the change they record."""

    def __init__(self, sink: EventPublisher, *, source: str, clock: Callable[[], datetime] = _now) -> None:
        self._sink = sink
        self._source = source
        self._clock = clock

    async def publish_with(
        self,
        tenant: str,
        actor: Actor,
        *,
        action: str,
        resource: tuple[str, str],
        details: dict[str, JsonValue],
        events: Sequence[CloudEvent[Any]] = (),
        outcome: Literal["success", "denied", "failure"] = "success",
        before: JsonValue = None,
        after: JsonValue = None,
    ) -> CloudEvent[AuditRecorded]:
        """Publish ``events`` and the entry for ``action`` on ``resource`` (type, id); raises if Kafka refuses.

        ``before``/``after`` are the resource's JSON before and after a change (None: it did not exist, or
        the action changes nothing); only their digests are published. Without ``after``, the digest of the
        published ``events``' payloads stands for the state after the change.
        """
        if after is None and events:
            after = [event.data.model_dump(mode="json") for event in events]
        entry = AuditRecorded(
            actor={"type": "api_key", "id": actor.id},
            action=action,
            resource={"type": resource[0], "id": resource[1]},
            outcome=outcome,
            request_id=actor.request_id,
            before_digest=None if before is None else digest(before),
            after_digest=None if after is None else digest(after),
            details=details,
            occurred_at=self._clock(),
        )
        audit = CloudEvent.wrap(
            entry, source=self._source, tenant_id=tenant, subject=f"{resource[0]}/{resource[1]}", key_id=actor.key_id
        )
        await self._sink.publish_many([*events, audit])
        return audit
