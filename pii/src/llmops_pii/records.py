"""Tenants' PII policies from their ``pii_redaction`` policy records on ``llmops.policies`` (docs/pii.md).

A tenant's enabled ``pii_redaction`` policies, together, give its actions per type: each names built-in
entities and one action (v1's ``mask`` writes ``[EMAIL]``, which is this engine's ``redact``; ``hash`` is
``hash``; ``drop`` removes the whole text, as here), and ``options.actions`` may set any type's action by name
(``{"email": "mask", "credit_card": "block"}``), since v1's action field has no ``mask`` with a shape nor
``block``. A record's ``custom_patterns`` are the tenant's own types (named by the pattern, run by RE2 within
bounds: :mod:`llmops_pii.patterns`), with the record's action or the one ``options.actions`` gives their name;
its ``targets`` say which texts of a call its actions and patterns apply to (elsewhere the configured policy
holds). Policies apply in policy-id order, a later one winning for a type or pattern both name. A tenant
without such records keeps the configured policy (``LLMOPS_PII_POLICY``). A record that cannot be applied
(an unknown entity, a pattern RE2 refuses or out of bounds, hashing without the platform key) is logged with
its cause and counted (``ignored``), and the tenant keeps what it had: :func:`rule_of` is the check a policy
API runs before it publishes (422 with the same cause).

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
from llmops_pii.patterns import MAX_PATTERNS, CustomPattern, compile_pattern
from llmops_pii.policy import ACTIONS, Action, PolicyBook, PolicyError, PolicyRule, parse_actions

__all__ = ["ENTITY_TYPES", "PolicyRecordsView", "actions_of", "rule_of"]

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
    custom = {p.name for p in settings.custom_patterns}
    overrides = {k: v for k, v in _overrides(settings).items() if k not in custom}
    actions.update(parse_actions(overrides))
    return actions


def rule_of(settings: PiiRedactionSettings) -> PolicyRule:
    """What one ``pii_redaction`` record does: actions, compiled custom patterns, targets.

    Raises ``PolicyError`` with the cause (the entity, the pattern and why) when the record cannot be applied.
    """
    return PolicyRule(actions_of(settings), _patterns(settings), frozenset(settings.targets))


def _overrides(settings: PiiRedactionSettings) -> dict[str, str]:
    overrides = settings.options.get("actions", {})
    if not isinstance(overrides, dict) or not all(isinstance(a, str) for a in overrides.values()):
        raise PolicyError(f"options.actions maps types to one of {', '.join(ACTIONS)}")
    return {str(k): str(v) for k, v in overrides.items()}


def _patterns(settings: PiiRedactionSettings) -> tuple[CustomPattern, ...]:
    if len(settings.custom_patterns) > MAX_PATTERNS:
        raise PolicyError(f"{len(settings.custom_patterns)} custom patterns, at most {MAX_PATTERNS}")
    overrides, compiled = _overrides(settings), list[CustomPattern]()
    for i, pattern in enumerate(settings.custom_patterns):
        where = f"custom_patterns[{i}]"
        if pattern.name in ENTITY_TYPES:
            raise PolicyError(f"{where} {pattern.name!r}: the name of a built-in type; choose another")
        if pattern.name in {p.name for p in compiled}:
            raise PolicyError(f"{where} {pattern.name!r}: a second pattern with this name")
        action = overrides.get(pattern.name, _V1_ACTIONS[settings.action])
        if action not in ACTIONS:
            raise PolicyError(f"{where} {pattern.name!r}: unknown action {action!r}; actions: {', '.join(ACTIONS)}")
        compiled.append(compile_pattern(pattern.name, pattern.regex, action, where=where))
    return tuple(compiled)


class PolicyRecordsView:
    """Folds ``llmops.policies`` records into a :class:`PolicyBook`'s tenant entries; thread-safe."""

    topic = POLICIES_TOPIC

    def __init__(self, book: PolicyBook) -> None:
        self._book = book
        self._records: dict[str, dict[str, PolicyRule]] = {}
        self._lock = threading.Lock()
        self.caught_up = False
        self.ignored = 0
        """Records not applied (logged with their cause)."""

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
        # Only the settings' class is looked at, so a later version of the policy event that keeps it applies too.
        settings = getattr(policy, "settings", None)
        if not isinstance(settings, PiiRedactionSettings):
            return
        try:
            rule = rule_of(settings) if policy.enabled else None
        except PolicyError as exc:
            self._ignore(policy.policy_id, event.tenant_id, exc)
            return
        self._set(event.tenant_id, policy.policy_id, rule)

    def _set(self, tenant: str, policy_id: str, rule: PolicyRule | None) -> None:
        with self._lock:
            policies = dict(self._records.get(tenant, {}))
            if rule is None:
                policies.pop(policy_id, None)
            else:
                policies[policy_id] = rule
            try:
                self._book.set_tenant_rules(tenant, [policies[pid] for pid in sorted(policies)])
            except PolicyError as exc:  # hashing without the platform key, too many patterns: as it was
                self._ignore(policy_id, tenant, exc)
                return
            self._records[tenant] = policies

    def _ignore(self, policy_id: str, tenant: str, cause: PolicyError) -> None:
        self.ignored += 1
        log.warning("ignoring PII policy %s of tenant %s: %s", policy_id, tenant, cause)
