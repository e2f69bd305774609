"""What a tenant does with each type of personal data: redact, mask, hash with the tenant's secret, or block.

A :class:`PolicyBook` holds the default policy and each tenant's own (a tenant's entry replaces the default for
the types it names), from configuration or, overriding that, from the tenant's policy records
(:mod:`llmops_pii.records`). Its configuration is JSON (``LLMOPS_PII_POLICY``, docs/pii.md)::

    {"default": {"email": "redact", "person": "mask"},
     "tenants": {"acme": {"email": "hash", "credit_card": "block"}}}

Hashing is keyed per tenant: the tenant's secret is HMAC-SHA256(platform key, tenant id), so the same value
hashes alike within a tenant (joins still work) and differently across tenants, and nobody without the platform
key can test a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from llmops_pii.findings import PII_TYPES, PiiType

__all__ = ["ACTIONS", "DEFAULT_ACTIONS", "Action", "PiiPolicy", "PolicyBook", "PolicyError", "parse_actions"]

Action = Literal["redact", "mask", "hash", "drop", "block"]
ACTIONS: tuple[Action, ...] = get_args(Action)
DEFAULT_ACTIONS: Mapping[PiiType, Action] = {t: "redact" for t in PII_TYPES}
"""Without configuration every type is redacted: nothing personal is stored unless a policy says how."""


class PolicyError(ValueError):
    """A policy names an unknown type or action, or hashes without a key."""


@dataclass(frozen=True)
class PiiPolicy:
    """One tenant's actions per type (a type not listed is kept as it is) and its hashing secret."""

    actions: Mapping[PiiType, Action]
    hash_secret: bytes = b""
    public_names: frozenset[str] = field(default_factory=frozenset)

    @property
    def types(self) -> frozenset[PiiType]:
        return frozenset(self.actions)


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
        self._check_key(self._default)

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
        self.set_tenant_record(tenant_id, None)

    def set_tenant_record(self, tenant_id: str, actions: Mapping[PiiType, Action] | None) -> None:
        """The actions of ``tenant_id``'s policy records, over its configured ones; None: back to those.

        Raises ``PolicyError`` (the tenant's entry unchanged) when they hash and no key is configured.
        """
        merged = {**self._default, **self._configured.get(tenant_id, {}), **(actions or {})}
        self._check_key(merged)
        self._tenants[tenant_id] = PiiPolicy(merged, self._secret(tenant_id))

    def for_tenant(self, tenant_id: str) -> PiiPolicy:
        policy = self._tenants.get(tenant_id)
        if policy is None:
            policy = PiiPolicy(self._default, self._secret(tenant_id))
            self._tenants[tenant_id] = policy
        return policy

    def _secret(self, tenant_id: str) -> bytes:
        return hmac.new(self._hash_key, b"llmops-pii|" + tenant_id.encode(), hashlib.sha256).digest()

    def _check_key(self, actions: Mapping[PiiType, Action]) -> None:
        if "hash" in actions.values() and len(self._hash_key) < 16:
            raise PolicyError("a policy hashes values but LLMOPS_PII_HASH_KEY is unset or shorter than 16 bytes")


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
