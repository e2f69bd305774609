"""What a tenant's policies allow one app, precomputed: :class:`AppRules` answers a call in a few lookups.

Which policies apply to a call of app A: those naming A and those naming no app (the tenant's). Together:

* ``model_allowlist``: the model must be on every applicable list (each list narrows what the app may call);
* ``blocked_terms``: no applicable term may appear in the prompt;
* ``data_classification`` of A (the highest, when several name it) against ``model_classification``: the model
  must be cleared for it; a model no policy names is cleared for ``public`` only, and where two policies name
  a model the lower clearance holds (docs/adr/0045).

Disabled policies do not apply. A refusal names the policy and the rule, never the prompt's text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from llmops_schemas.v2.governance import (
    CLASSIFICATIONS,
    BlockedTermsSettings,
    DataClassificationSettings,
    ModelAllowlistSettings,
    ModelClassificationSettings,
    PolicyPublished,
)

from llmops_inference.policies.terms import TermMatcher

__all__ = ["GATEWAY_KINDS", "AppRules", "Refusal", "rules_for"]

GATEWAY_KINDS = frozenset({"model_allowlist", "blocked_terms", "data_classification", "model_classification"})
_RANK: dict[str, int] = {label: rank for rank, label in enumerate(CLASSIFICATIONS)}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call is refused: the policy, its kind and a reason that quotes no prompt text."""

    policy_id: str
    kind: str
    reason: str

    @property
    def message(self) -> str:
        return f"refused by policy {self.policy_id!r} ({self.kind}): {self.reason}"


@dataclass(frozen=True, slots=True)
class AppRules:
    """The checks of one (tenant, app), compiled once per change of the tenant's policies."""

    app: str
    allowlists: tuple[tuple[str, frozenset[str]], ...] = ()
    terms: TermMatcher | None = None
    classification: tuple[str, str] | None = None
    """(policy id, label) of the app's data, if a policy classifies it."""
    clearances: Mapping[str, tuple[str, str]] | None = None
    """model -> (policy id, highest label it may receive)."""

    def check(self, model: str, texts: Iterable[str]) -> Refusal | None:
        """The first rule ``model`` with these prompt ``texts`` breaks, or None."""
        for policy_id, models in self.allowlists:
            if model not in models:
                return Refusal(policy_id, "model_allowlist", f"model {model!r} is not allowed for app {self.app!r}")
        refusal = self._classified(model)
        if refusal is not None or self.terms is None:
            return refusal
        blocked = self.terms.blocked_by(texts)
        if blocked is not None:
            return Refusal(blocked, "blocked_terms", "the prompt contains a blocked term")
        return None

    def _classified(self, model: str) -> Refusal | None:
        if self.classification is None:
            return None
        policy_id, label = self.classification
        cleared_by, cleared = (self.clearances or {}).get(model, ("", "public"))
        if _RANK[cleared] >= _RANK[label]:
            return None
        by = f"policy {cleared_by!r}" if cleared_by else "no policy clears it beyond public"
        reason = f"app {self.app!r} handles {label} data; model {model!r} is cleared for {cleared} data ({by})"
        return Refusal(policy_id, "data_classification", reason)


def rules_for(app: str, policies: Sequence[PolicyPublished]) -> AppRules:
    """The rules of ``app`` from its tenant's enabled gateway policies (any order: sorted by id here)."""
    allowlists: list[tuple[str, frozenset[str]]] = []
    terms: dict[str, str] = {}
    classification: tuple[str, str] | None = None
    clearances: dict[str, tuple[str, str]] = {}
    for policy in sorted(policies, key=lambda p: p.policy_id):
        settings, pid = policy.settings, policy.policy_id
        if not policy.enabled:
            continue
        if isinstance(settings, ModelAllowlistSettings) and settings.app in (None, app):
            allowlists.append((pid, frozenset(settings.models)))
        elif isinstance(settings, BlockedTermsSettings) and settings.app in (None, app):
            for term in settings.terms:
                terms.setdefault(term, pid)
        elif isinstance(settings, DataClassificationSettings) and settings.app == app:
            if classification is None or _RANK[settings.classification] > _RANK[classification[1]]:
                classification = (pid, settings.classification)
        elif isinstance(settings, ModelClassificationSettings):
            for model, label in settings.max_classification.items():
                if model not in clearances or _RANK[label] < _RANK[clearances[model][1]]:
                    clearances[model] = (pid, label)
    matcher = TermMatcher(terms) if terms else None
    return AppRules(app, tuple(allowlists), matcher, classification, clearances)
