"""The audit entries of configuration changes (``llmops.audit.recorded.v1``), published with the change itself.

Every service whose API changes configuration (the gateway's prompts and experiments, the evaluation service's
evaluators) publishes the change and its entry through :class:`AuditTrail`; :class:`Actor` says who asked.

The change's events and its audit entry go out in one ``publish_many`` call, which returns only when
Kafka acknowledged all of them: a change the caller is told succeeded has its audit entry on the log.

Hash chain: each entry carries ``sequence``/``prev_hash``/``hash`` linking it to the previous entry of
the same tenant *published by this process*; the chain starts again at sequence 0 (``GENESIS_HASH``)
when the process starts. The governance-audit service, once it exists, owns the tenant-wide chain and
re-links entries from every producer; until then a verifier must group entries by ``source`` and
process start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Request
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import AuditRecorded
from pydantic import JsonValue

from llmops_kit.auth import Principal
from llmops_kit.kafka.publisher import EventPublisher

__all__ = ["Actor", "AuditTrail", "identifier"]

_NOT_ID = re.compile(r"[^A-Za-z0-9._:@/-]")


def identifier(text: str) -> str:
    """``text`` as a schema ``Identifier`` (letters, digits, ``._:@/-``; at most 128 characters)."""
    cleaned = _NOT_ID.sub("-", text)[:128]
    return cleaned if cleaned[:1].isalnum() else f"k{cleaned}"[:128]


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: the API key's id (never the key) and where the request came from."""

    key_id: str
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    @property
    def id(self) -> str:
        return identifier(self.key_id)

    @classmethod
    def of(cls, principal: Principal, request: Request | None = None) -> Actor:
        """The actor of an HTTP request (its ``X-Request-ID``, client address and user agent when present)."""
        if request is None:
            return cls(key_id=principal.key_id)
        host = request.client.host if request.client else None
        request_id = request.headers.get("x-request-id")
        agent = request.headers.get("user-agent")
        return cls(
            key_id=principal.key_id,
            request_id=identifier(request_id) if request_id else None,
            ip=host if host and _is_ip(host) else None,
            user_agent=agent[:1024] if agent else None,
        )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    """Builds chained audit entries per tenant and publishes them together with the change they record."""

    def __init__(self, sink: EventPublisher, *, source: str, clock: Callable[[], datetime] = _now) -> None:
        self._sink = sink
        self._source = source
        self._clock = clock
        self._previous: dict[str, AuditRecorded] = {}
        self._locks: dict[str, asyncio.Lock] = {}

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
    ) -> CloudEvent[AuditRecorded]:
        """Publish ``events`` and the entry for ``action`` on ``resource`` (type, id); raises if Kafka refuses."""
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            entry = AuditRecorded.chained(
                self._previous.get(tenant),
                actor={"type": "api_key", "id": actor.id},
                action=action,
                resource={"type": resource[0], "id": resource[1]},
                outcome=outcome,
                request_id=actor.request_id,
                ip=actor.ip,
                user_agent=actor.user_agent,
                details=details,
                occurred_at=self._clock(),
            )
            audit = CloudEvent.wrap(
                entry,
                source=self._source,
                tenant_id=tenant,
                subject=f"{resource[0]}/{resource[1]}",
                key_id=actor.key_id,
            )
            await self._sink.publish_many([*events, audit])
            self._previous[tenant] = entry
            return audit
