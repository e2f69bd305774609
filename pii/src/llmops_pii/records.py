"""Tenants' PII policies from their ``pii_redaction`` policy records on ``llmops.policies`` (docs/pii.md).

A tenant's enabled ``pii_redaction`` policies, together, give its actions per type: each names built-in
entities and one action (v1's ``mask`` writes ``[EMAIL]``, which is this engine's ``redact``; ``hash`` is
``hash``; ``drop`` removes the whole text, as here), and ``options.actions`` may set any type's action by name
(``{"email": "mask", "credit_card": "block"}``), since v1's action field has no ``mask`` with a shape nor
``block``. Policies apply in policy-id order, a later one winning for a type both name. A tenant without such
records keeps the configured policy (``LLMOPS_PII_POLICY``). Custom regex patterns and ``targets`` of the
record are not applied yet (the engine's types are built in, and every text of a call is looked at).

:class:`PolicyRecordsView` is what the kit's ``CompactedTopicMaterializer`` feeds (it needs no kit import: the
materialiser's view is a protocol).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v1.governance import PiiRedactionSettings, PolicyPublished

from llmops_pii.findings import PII_TYPES, PiiType
from llmops_pii.policy import ACTIONS, Action, PolicyBook, PolicyError, parse_actions

__all__ = ["ENTITY_TYPES", "PolicyRecordsView", "actions_of"]

log = logging.getLogger(__name__)
POLICIES_TOPIC = PolicyPublished.topic
ENTITY_TYPES: Mapping[str, PiiType] = {
    **{t: t for t in PII_TYPES},
    "phone_number": "phone",
    "card": "credit_card",
    "ip": "ip_address",
    "ssn": "national_id",
    "dob": "date_of_birth",
    "address": "postal_address",
    "name": "person",
    "secret": "api_key",
}
"""Entity names a policy record may use, with the type each means (the type names themselves included)."""
_V1_ACTIONS: Mapping[str, Action] = {"mask": "redact", "hash": "hash", "drop": "drop"}


def actions_of(settings: PiiRedactionSettings) -> dict[PiiType, Action]:
    """The actions one ``pii_redaction`` record sets; raises ``PolicyError`` for an entity or action unknown here."""
    unknown = sorted(set(settings.entities) - set(ENTITY_TYPES))
    if unknown:
        raise PolicyError(f"unknown PII entities {unknown}; known: {', '.join(sorted(ENTITY_TYPES))}")
    actions: dict[PiiType, Action] = {ENTITY_TYPES[e]: _V1_ACTIONS[settings.action] for e in settings.entities}
    overrides = settings.options.get("actions", {})
    if not isinstance(overrides, dict) or not all(isinstance(a, str) for a in overrides.values()):
        raise PolicyError(f"options.actions maps types to one of {', '.join(ACTIONS)}")
    actions.update(parse_actions({str(k): str(v) for k, v in overrides.items()}))
    return actions


class PolicyRecordsView:
    """Folds ``llmops.policies`` records into a :class:`PolicyBook`'s tenant entries; thread-safe."""

    topic = POLICIES_TOPIC

    def __init__(self, book: PolicyBook) -> None:
        self._book = book
        self._records: dict[str, dict[str, dict[PiiType, Action]]] = {}
        self._lock = threading.Lock()
        self.caught_up = False

    def mark_caught_up(self) -> None:
        self.caught_up = True

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        """One record: a ``pii_redaction`` policy (enabled or not) or a tombstone; other kinds are ignored."""
        if value is None:
            tenant, _, policy_id = (key or b"").decode().partition(":")
            self._set(tenant, policy_id, None)
            return
        try:
            event = parse_event(value)
        except EventValidationError as exc:
            log.warning("ignoring an invalid record on %s (key %r): %s", self.topic, key, exc)
            return
        policy = event.data
        if not isinstance(policy, PolicyPublished) or not isinstance(policy.settings, PiiRedactionSettings):
            return
        settings = policy.settings
        try:
            actions = actions_of(settings) if policy.enabled else None
        except PolicyError as exc:
            log.warning("ignoring PII policy %s of tenant %s: %s", policy.policy_id, event.tenant_id, exc)
            return
        self._set(event.tenant_id, policy.policy_id, actions)

    def _set(self, tenant: str, policy_id: str, actions: dict[PiiType, Action] | None) -> None:
        with self._lock:
            policies = self._records.setdefault(tenant, {})
            if actions is None:
                policies.pop(policy_id, None)
            else:
                policies[policy_id] = actions
            merged: dict[PiiType, Action] = {}
            for pid in sorted(policies):
                merged.update(policies[pid])
            try:
                self._book.set_tenant_record(tenant, merged if policies else None)
            except PolicyError as exc:  # hashing without the platform key: the tenant keeps what it had
                log.warning("ignoring PII policy %s of tenant %s: %s", policy_id, tenant, exc)
