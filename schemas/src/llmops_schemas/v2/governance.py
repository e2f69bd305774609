"""``llmops.policy.published.v2``: a governance policy, with the kinds the gateway enforces (docs/adr/0045).

Against v1 it adds four kinds of policy, new values of ``kind`` that :mod:`llmops_schemas.compat` refuses in v1:

* ``model_allowlist``: the models a tenant's app (or every app of the tenant) may call;
* ``blocked_terms``: literal words or phrases a prompt may not contain (matched case-insensitively, as whole
  words); regular expressions are refused, since a pattern's cost has no bound;
* ``data_classification``: the classification of one app's data (``public`` < ``internal`` < ``confidential``
  < ``restricted``);
* ``model_classification``: the highest classification each model may receive.

The payload is a subclass of v1's and the settings of ``pii_redaction``, ``retention`` and ``rbac_role`` are v1's
classes themselves (not copies), so every reader of those kinds reads v1 and v2 records alike. A v1 record is a
valid v2 record as it is: the upcaster (:mod:`llmops_schemas.upcasters`) re-validates it with
:meth:`PolicyPublished.from_v1`.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from llmops_schemas.v1 import governance as v1
from llmops_schemas.v1.common import Name, StrictModel
from llmops_schemas.v1.governance import Options, PiiRedactionSettings, RbacRoleSettings, RetentionSettings

__all__ = [
    "CLASSIFICATIONS",
    "MAX_MODELS",
    "MAX_TERMS",
    "MAX_TERM_CHARS",
    "BlockedTermsSettings",
    "Classification",
    "DataClassificationSettings",
    "ModelAllowlistSettings",
    "ModelClassificationSettings",
    "PolicyKind",
    "PolicyPublished",
    "PolicySettings",
]

PolicyKind = Literal[
    "pii_redaction", "retention", "rbac_role", "model_allowlist", "blocked_terms", "data_classification",
    "model_classification",
]  # fmt: skip
Classification = Literal["public", "internal", "confidential", "restricted"]
CLASSIFICATIONS: tuple[Classification, ...] = ("public", "internal", "confidential", "restricted")
"""The labels, lowest first: data of one label may go to a model cleared for it or a higher one."""
MAX_TERMS = 1_000
"""Most terms one ``blocked_terms`` policy may list (the gateway compiles every applicable term into one matcher)."""
MAX_TERM_CHARS = 128
MAX_MODELS = 256
_REGEX_LIKE = re.compile(r"[\\^$*+?{}\[\]|()]|\.[*+?]")


def _check_literal(index: int, term: str) -> None:
    """A term is a literal phrase: one that looks like a regular expression is refused, saying where."""
    found = _REGEX_LIKE.search(term)
    if found is not None:
        raise ValueError(
            f"terms[{index}] {term!r} is not a literal word or phrase ({found.group()!r} at position "
            f"{found.start()}): regular expressions are refused, a pattern's matching cost has no bound"
        )
    if not term.strip():
        raise ValueError(f"terms[{index}] is only white space")


Term = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TERM_CHARS)]
AppName = Annotated[Name, Field(description="The app (the calls' `app`)")]


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value.casefold() in seen else seen).add(value.casefold())
    if repeated:
        raise ValueError(f"{what} {sorted(repeated)} are listed more than once")


class ModelAllowlistSettings(StrictModel):
    """The models an app may call; without ``app``, every app of the tenant. A model the gateway does not
    serve may be listed (it is a list of names)."""

    kind: Literal["model_allowlist"] = "model_allowlist"
    app: AppName | None = None
    models: Annotated[list[Name], Field(min_length=1, max_length=MAX_MODELS)]
    options: Options = Field(default_factory=dict)

    @model_validator(mode="after")
    def _distinct(self) -> ModelAllowlistSettings:
        _unique(self.models, "models")
        return self


class BlockedTermsSettings(StrictModel):
    """Literal words or phrases a prompt of the app (without ``app``: of any app) may not contain; matched
    case-insensitively as whole words."""

    kind: Literal["blocked_terms"] = "blocked_terms"
    app: AppName | None = None
    terms: Annotated[list[Term], Field(min_length=1, max_length=MAX_TERMS)]
    options: Options = Field(default_factory=dict)

    @model_validator(mode="after")
    def _literal_and_distinct(self) -> BlockedTermsSettings:
        for index, term in enumerate(self.terms):
            _check_literal(index, term)
        _unique(self.terms, "terms")
        return self


class DataClassificationSettings(StrictModel):
    """The classification of one app's data: its calls go only to models cleared for it."""

    kind: Literal["data_classification"] = "data_classification"
    app: AppName
    classification: Classification
    options: Options = Field(default_factory=dict)


class ModelClassificationSettings(StrictModel):
    """The highest classification each model may receive. A model no policy names is cleared for ``public``
    data only (docs/adr/0045)."""

    kind: Literal["model_classification"] = "model_classification"
    max_classification: Annotated[dict[Name, Classification], Field(min_length=1, max_length=MAX_MODELS)]
    options: Options = Field(default_factory=dict)


PolicySettings = Annotated[
    PiiRedactionSettings | RetentionSettings | RbacRoleSettings | ModelAllowlistSettings | BlockedTermsSettings
    | DataClassificationSettings | ModelClassificationSettings,
    Field(discriminator="kind"),
]  # fmt: skip


# A subclass of v1's payload with a wider ``kind`` and ``settings``: the other fields, the kind check and the key
# are v1's, and a reader written for v1 (``isinstance(data, v1.PolicyPublished)``) also takes a v2 record.
class PolicyPublished(v1.PolicyPublished):
    """A policy's current version (compacted: the latest record per policy wins; a tombstone deletes it)."""

    event_type: ClassVar[str] = "llmops.policy.published.v2"

    kind: PolicyKind  # type: ignore[assignment]
    settings: PolicySettings  # type: ignore[assignment]

    @classmethod
    def from_v1(cls, old: v1.PolicyPublished) -> PolicyPublished:
        """The same policy as v2 (every v1 policy is one: v2 only adds kinds; the settings are the same objects)."""
        return cls.model_validate(old.model_dump(exclude_unset=True))
