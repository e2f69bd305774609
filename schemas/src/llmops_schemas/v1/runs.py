"""Datasets and offline runs of the evaluation service (docs/evaluation.md, docs/adr/0028).

A dataset version is immutable: its examples (:class:`DatasetExampleAdded`, one record each) and then its
manifest (:class:`DatasetVersionCreated`, with the content digest and the example count) are published to the
compacted topic ``llmops.evaluations.datasets``. A version is complete once its manifest and every example
of the manifest's digest are there; a new upload of the same name is a new version. Example keys carry the
version's digest, so two uploads racing for one version number never mix their examples (the first manifest
of a version wins).

A run (:class:`RunUpdated`, compacted on ``llmops.evaluations.runs``) executes one dataset version with one
variant (a prompt version and/or a model, parameters) through the gateway and scores each answer with the
chosen evaluators; the latest record per run is its status and progress. Its scores are
``llmops.evaluation.scored.v2`` events carrying ``run_id`` and ``example_id``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, JsonValue, StringConstraints

from llmops_schemas.v1.common import (
    CompactedPayload,
    Identifier,
    Name,
    Sha256Hex,
    ShortText,
    Slug,
    StrictModel,
    Tags,
)

__all__ = [
    "MAX_EXAMPLE_CHARS",
    "DatasetExampleAdded",
    "DatasetVersionCreated",
    "RunEvaluator",
    "RunFailure",
    "RunUpdated",
    "RunVariant",
]

MAX_EXAMPLE_CHARS = 32_768
"""The most characters of an example's input, expected output, or all its context passages together."""

ExampleText = Annotated[str, StringConstraints(max_length=MAX_EXAMPLE_CHARS)]
Passages = Annotated[list[ExampleText], Field(max_length=32)]
Variables = Annotated[dict[Slug, ExampleText], Field(max_length=32)]
RunStatus = Literal["running", "completed", "failed", "cancelled"]


class DatasetExampleAdded(CompactedPayload):
    """One example of one dataset version (compacted; never changed once its version exists).

    ``input`` is what the variant is asked (the user message, or the prompt's ``input`` variable), ``expected``
    the reference answer, ``context`` the passages the answer should be grounded in. ``pair_group`` groups
    counterfactual examples (the same input with a demographic term swapped, ``pair_label`` naming which), whose
    score gap the bias check reports. ``source_call_id`` names the stored call an example was made from, so a
    review queue can name a dataset (docs/feedback.md#review-queues); examples stored before it had only the
    ``call:<id>`` tag.
    """

    event_type: ClassVar[str] = "llmops.evaluation.dataset_example.v1"
    topic: ClassVar[str] = "llmops.evaluations.datasets"

    dataset: Slug
    version: int = Field(ge=1, le=2**31 - 1)
    digest: Sha256Hex = Field(description="The version's content digest (the manifest's)")
    example_id: Slug = Field(description="The uploaded id, or a digest of the example's content")
    position: int = Field(ge=0, description="Order in the version (runs go through examples in this order)")
    input: ExampleText
    expected: ExampleText | None = None
    context: Passages = Field(default_factory=list)
    variables: Variables = Field(default_factory=dict, description="More variables for a prompt version")
    tags: Tags = Field(default_factory=list)
    pair_group: Slug | None = Field(default=None, description="Counterfactual group this example belongs to")
    pair_label: Name | None = Field(default=None, description="Which side of the pair, e.g. 'she' or 'he'")
    source_call_id: Identifier | None = Field(
        default=None, description="The stored call the example was made from (a 'calls' version) or an upload names"
    )

    def entity_key(self) -> str:
        return f"{self.dataset}:{self.version}:{self.digest[:12]}:{self.example_id}"


class DatasetVersionCreated(CompactedPayload):
    """The manifest of one immutable dataset version: published after all its examples."""

    event_type: ClassVar[str] = "llmops.evaluation.dataset_version.v1"
    topic: ClassVar[str] = "llmops.evaluations.datasets"

    name: Slug
    version: int = Field(ge=1, le=2**31 - 1)
    digest: Sha256Hex = Field(description="SHA-256 of the examples' canonical JSON, in order")
    examples: int = Field(ge=1, description="How many examples the version has")
    source: Literal["upload", "calls"]
    filter: Annotated[dict[str, JsonValue], Field(max_length=32)] | None = Field(
        default=None, description="The filter of stored calls a 'calls' version was built from"
    )
    description: ShortText | None = None
    created_at: AwareDatetime

    def entity_key(self) -> str:
        return f"{self.name}:{self.version}"


class RunVariant(StrictModel):
    """What a run asks: a prompt version and/or a model, and request parameters.

    With a prompt, an example's ``input`` fills the variable ``input_variable`` (its ``variables`` the others);
    without one, the input is the user message.
    """

    prompt_name: Name | None = None
    prompt_version: int | None = Field(strict=True, default=None, ge=1, le=2**32 - 1)
    model: Name | None = None
    input_variable: Slug = Field(default="input", description="The prompt variable an example's input fills")
    parameters: Annotated[dict[str, JsonValue], Field(max_length=32)] = Field(default_factory=dict)


class RunEvaluator(StrictModel):
    """An evaluator as the run uses it: a snapshot, so a resumed run scores with the same version."""

    name: Slug
    kind: Slug
    params: Annotated[dict[str, JsonValue], Field(max_length=32)] = Field(default_factory=dict)


class RunFailure(StrictModel):
    """An example the gateway did not answer (or whose answer could not be scored)."""

    example_id: Slug
    reason: ShortText


class RunUpdated(CompactedPayload):
    """The state of one offline run (compacted: the latest record per run).

    ``completed`` counts the examples done in dataset order (answered and scored, or failed); a restarted
    service resumes after them. ``failures`` lists the first failed examples (``failed`` counts all). ``worker``
    holds the run while its records keep coming: another replica takes a ``running`` run over only once its last
    record is older than the service's lease.
    """

    event_type: ClassVar[str] = "llmops.evaluation.run_updated.v1"
    topic: ClassVar[str] = "llmops.evaluations.runs"

    run_id: Slug
    dataset: Slug
    dataset_version: int = Field(ge=1, le=2**31 - 1)
    variant: RunVariant
    evaluators: Annotated[list[RunEvaluator], Field(min_length=1, max_length=16)]
    status: RunStatus
    total: int = Field(ge=0)
    completed: int = Field(ge=0)
    failed: int = Field(default=0, ge=0)
    failures: Annotated[list[RunFailure], Field(max_length=20)] = Field(default_factory=list)
    error: ShortText | None = Field(default=None, description="Why the run failed as a whole")
    worker: Slug | None = Field(
        default=None, description="The replica executing it; another takes over once its records stop (a lease)"
    )
    created_at: AwareDatetime
    updated_at: AwareDatetime

    def entity_key(self) -> str:
        return self.run_id
