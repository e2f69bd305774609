"""What a tenant does with each type of personal data: redact, mask, hash with the tenant's secret, or block.

A :class:`PolicyBook` holds the default policy and each tenant's own (a tenant's entry replaces the default for
the types it names), from configuration or, overriding that, from the tenant's policy records
(:mod:`llmops_pii.records`). Its configuration is JSON (``LLMOPS_PII_POLICY``, docs/pii.md)::

    {"default": {"email": "redact", "person": "mask"},
     "tenants": {"acme": {"email": "hash", "credit_card": "block"}}}

A tenant's policy records may also bring their own patterns (:mod:`llmops_pii.patterns`) and name the texts of
a call they apply to (``targets``: ``messages``, ``output``, ``metadata``): :meth:`PiiPolicy.at` is the policy
for one of them, and the policy itself, the union of all, serves texts that are not a call's (dead letters, the
CLI).

Hashing is keyed per tenant: the tenant's secret is HMAC-SHA256(platform key, tenant id), so the same value
hashes alike within a tenant (joins still work) and differently across tenants, and nobody without the platform
key can test a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from llmops_pii.findings import PII_TYPES, PiiType

if TYPE_CHECKING:
    from llmops_pii.patterns import CustomPattern

__all__ = [
    "ACTIONS",
    "DEFAULT_ACTIONS",
    "TARGETS",
    "Action",
    "PiiPolicy",
    "PolicyBook",
    "PolicyError",
    "PolicyRule",
    "parse_actions",
]

Action = Literal["redact", "mask", "hash", "drop", "block"]
ACTIONS: tuple[Action, ...] = get_args(Action)
DEFAULT_ACTIONS: Mapping[PiiType, Action] = {t: "redact" for t in PII_TYPES}
"""Without configuration every type is redacted: nothing personal is stored unless a policy says how."""
TARGETS = ("messages", "output", "metadata")
"""The texts of a call a policy record may name: message contents, the output (and errors), metadata values."""
MAX_TENANT_PATTERNS = 32
"""Most custom patterns in force for one tenant, all its policy records together (each runs on every text)."""


class PolicyError(ValueError):
    """A policy names an unknown type or action, or hashes without a key."""


@dataclass(frozen=True)
class PiiPolicy:
    """One tenant's actions per type (a type not listed is kept as it is) and its hashing secret."""

    actions: Mapping[PiiType, Action]
    hash_secret: bytes = b""
    public_names: frozenset[str] = field(default_factory=frozenset)
    patterns: tuple[CustomPattern, ...] = ()
    """The tenant's own kinds of data, each with its action."""
    by_target: Mapping[str, PiiPolicy] = field(default_factory=dict)
    """The policy for each of :data:`TARGETS` when the tenant's records name targets; empty: this one everywhere."""

    @property
    def types(self) -> frozenset[PiiType]:
        return frozenset(self.actions)

    def at(self, target: str) -> PiiPolicy:
        """The policy for one of :data:`TARGETS` of a call."""
        return self.by_target.get(target, self) if self.by_target else self

    def action_of(self, kind: str) -> Action:
        """The action for a finding's type: a built-in type's, or a custom pattern's."""
        action = self.actions.get(kind)  # type: ignore[call-overload]
        if action is not None:
            return action  # type: ignore[no-any-return]
        return next(p.action for p in self.patterns if p.name == kind)


@dataclass(frozen=True)
class PolicyRule:
    """What one policy record of a tenant sets, in the texts it names: actions per type and custom patterns."""

    actions: Mapping[PiiType, Action]
    patterns: tuple[CustomPattern, ...] = ()
    targets: frozenset[str] = frozenset(TARGETS)


class PolicyBook:
    """The default policy and the tenants' own; thread-safe to read (entries are replaced whole)."""

    def __init__(
        self,
        default: Mapping[str, str] | None = None,
        tenants: Mapping[str, Mapping[str, str]] | None = None,
        *,
        hash_key: bytes = b"",
    ) -> None:
        self._default = dict(DEFAULT_ACTIONS) if default is None else _actions(default)
        self._hash_key = hash_key
        self._tenants: dict[str, PiiPolicy] = {}
        self._configured: dict[str, dict[PiiType, Action]] = {}
        for tenant, actions in (tenants or {}).items():
            self.set_tenant(tenant, actions)
        self._check_key(self._default.values())

    @classmethod
    def from_json(cls, text: str | None, *, hash_key: bytes = b"") -> PolicyBook:
        """The book a ``LLMOPS_PII_POLICY`` value describes (None or empty: redact everything)."""
        if not text:
            return cls(hash_key=hash_key)
        try:
            config: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"the PII policy is not valid JSON: {exc}") from exc
        if not isinstance(config, dict) or set(config) - {"default", "tenants"}:
            raise PolicyError('the PII policy is an object with "default" and "tenants" only')
        return cls(config.get("default"), config.get("tenants"), hash_key=hash_key)

    def set_tenant(self, tenant_id: str, actions: Mapping[str, str]) -> None:
        """Configure ``tenant_id``'s own actions (merged over the default)."""
        self._configured[tenant_id] = parse_actions(actions)
        self.set_tenant_rules(tenant_id, None)

    def set_tenant_rules(self, tenant_id: str, rules: Sequence[PolicyRule] | None) -> None:
        """``tenant_id``'s policy records, in order (a later one wins for a type or pattern both name), over its
        configured actions; None or empty: back to those.

        Raises ``PolicyError`` (the tenant's entry unchanged) when they hash and no key is configured, or bring
        more than :data:`MAX_TENANT_PATTERNS` patterns.
        """
        base = {**self._default, **self._configured.get(tenant_id, {})}
        secret = self._secret(tenant_id)
        if not rules:
            self._check_key(base.values())
            self._tenants[tenant_id] = PiiPolicy(base, secret)
            return
        actions, patterns = _combine(base, rules)
        if len(patterns) > MAX_TENANT_PATTERNS:
            raise PolicyError(f"{len(patterns)} custom patterns in force, at most {MAX_TENANT_PATTERNS} per tenant")
        self._check_key([*actions.values(), *(p.action for p in patterns)])
        by_target = {}
        if any(rule.targets != frozenset(TARGETS) for rule in rules):
            for target in TARGETS:
                chosen = _combine(base, [rule for rule in rules if target in rule.targets])
                by_target[target] = PiiPolicy(chosen[0], secret, patterns=chosen[1])
        self._tenants[tenant_id] = PiiPolicy(actions, secret, patterns=patterns, by_target=by_target)

    def for_tenant(self, tenant_id: str) -> PiiPolicy:
        policy = self._tenants.get(tenant_id)
        if policy is None:
            policy = PiiPolicy(self._default, self._secret(tenant_id))
            self._tenants[tenant_id] = policy
        return policy

    def _secret(self, tenant_id: str) -> bytes:
        return hmac.new(self._hash_key, b"llmops-pii|" + tenant_id.encode(), hashlib.sha256).digest()

    def _check_key(self, actions: Any) -> None:
        if "hash" in actions and len(self._hash_key) < 16:
            raise PolicyError("a policy hashes values but LLMOPS_PII_HASH_KEY is unset or shorter than 16 bytes")


def _combine(
    base: Mapping[PiiType, Action], rules: Sequence[PolicyRule]
) -> tuple[dict[PiiType, Action], tuple[CustomPattern, ...]]:
    actions, patterns = dict(base), {}
    for rule in rules:
        actions.update(rule.actions)
        patterns.update({p.name: p for p in rule.patterns})
    return actions, tuple(patterns.values())


def parse_actions(config: Mapping[str, str]) -> dict[PiiType, Action]:
    """``config`` checked: known types to known actions."""
    return _actions(config)


def _actions(config: Mapping[str, str]) -> dict[PiiType, Action]:
    if not isinstance(config, Mapping):
        raise PolicyError("a policy maps PII types to actions")
    unknown_types = sorted(set(config) - set(PII_TYPES))
    unknown_actions = sorted({str(a) for a in config.values()} - set(ACTIONS))
    if unknown_types or unknown_actions:
        raise PolicyError(
            f"unknown PII types {unknown_types} or actions {unknown_actions}; types: {', '.join(PII_TYPES)}; "
            f"actions: {', '.join(ACTIONS)}"
        )
    return {t: a for t, a in config.items()}  # type: ignore[misc]
