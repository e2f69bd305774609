"""Publishing registry changes: config events on their compacted topic, with an audit entry in the same batch."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from llmops_kit.auth import Principal
from llmops_schemas import CloudEvent, EventPayload
from llmops_schemas.v1 import PromptLabelMoved, PromptVersionPublished

from llmops_inference.prompts.audit import AuditTrail

__all__ = ["SOURCE", "Actor", "PromptPublisher", "identifier"]

SOURCE = "/services/inference"
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


class PromptPublisher:
    """Publishes prompt versions and label moves of one tenant, each change with its audit entry."""

    def __init__(self, audit: AuditTrail, *, source: str = SOURCE) -> None:
        self._audit = audit
        self._source = source

    async def publish(
        self,
        tenant: str,
        payloads: Sequence[PromptVersionPublished | PromptLabelMoved],
        actor: Actor,
        *,
        action: str,
        prompt: str,
        details: dict[str, Any],
    ) -> list[CloudEvent[Any]]:
        """Publish ``payloads`` and the audit entry of ``action``; returns the config events (to apply locally)."""
        events = [wrap(payload, tenant, self._source, key_id=actor.key_id) for payload in payloads]
        await self._audit.publish_with(
            tenant, actor, action=action, resource=("prompt", prompt), details=details, events=events
        )
        return events


def wrap(payload: EventPayload, tenant: str, source: str, *, key_id: str | None = None) -> CloudEvent[Any]:
    """The CloudEvent of ``payload`` (its subject is the record key's entity part when it has one), carrying the
    id of the API key that made the change as ``keyid``."""
    entity = getattr(payload, "entity_key", None)
    subject = entity() if callable(entity) else None
    return CloudEvent.wrap(payload, source=source, tenant_id=tenant, subject=subject, key_id=key_id)
