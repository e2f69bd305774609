"""Creating, changing and stopping experiments: validation, conflicts (409) and the audit entry of each change."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_inference.experiments.errors import (
    ExperimentConflict,
    ExperimentsUnavailable,
    InvalidExperiment,
    UnknownExperiment,
)
from llmops_inference.experiments.model import ExperimentChange, ExperimentDraft
from llmops_inference.experiments.resolve import choose_variant
from llmops_inference.experiments.service import ExperimentRegistry
from llmops_inference.experiments.store import ExperimentStore
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import ExperimentConfigured
from llmops_schemas.v2 import AuditRecorded

from tests.unit.inference.experiments.definitions import AB, CANARY, SHADOW
from tests.unit.inference.prompts.fakes import ACTOR, TENANT


def new(definition: dict[str, Any], **changes: Any) -> ExperimentDraft:
    return ExperimentDraft.model_validate({**definition, **changes})


def change(**fields: Any) -> ExperimentChange:
    return ExperimentChange.model_validate(fields)


def audit_actions(sink: InMemoryPublisher) -> list[str]:
    return [entry.action for entry in sink.of(AuditRecorded)]


async def test_creating_starts_it_and_audits_the_start(registry: ExperimentRegistry, sink: InMemoryPublisher) -> None:
    experiment = await registry.create(TENANT, new(AB), ACTOR)

    assert (experiment.status, experiment.version, experiment.updated_by) == ("running", 1, "alice-admin")
    assert experiment.starts_at is not None
    assert sink.of(ExperimentConfigured) == [experiment]
    assert {e.key_id for e in sink.events} == {"alice-admin"}  # the experiment and its audit name the key
    (entry,) = sink.of(AuditRecorded)
    assert (entry.action, entry.resource.type, entry.resource.id, entry.outcome) == (
        "experiment.start",
        "experiment",
        "exp-mini-vs-4o",
        "success",
    )
    assert entry.details == {
        "kind": "ab",
        "status": "running",
        "version": 1,
        "weights": {"mini": 0.7, "full": 0.2, "local": 0.1},
    }
    assert registry.get(TENANT, "exp-mini-vs-4o") == experiment


async def test_a_draft_is_created_not_started(registry: ExperimentRegistry, sink: InMemoryPublisher) -> None:
    experiment = await registry.create(TENANT, new(AB, start=False), ACTOR)
    assert (experiment.status, experiment.starts_at) == ("draft", None)
    started = await registry.change(TENANT, "exp-mini-vs-4o", change(status="running"), ACTOR)
    assert started.status == "running" and started.starts_at is not None
    assert audit_actions(sink) == ["experiment.create", "experiment.start"]


async def test_ids_are_generated_when_not_given(registry: ExperimentRegistry) -> None:
    experiment = await registry.create(TENANT, new(AB, experiment_id=None), ACTOR)
    assert experiment.experiment_id.startswith("exp-")


async def test_changing_weights_bumps_the_version_and_is_audited(
    registry: ExperimentRegistry, sink: InMemoryPublisher
) -> None:
    await registry.create(TENANT, new(AB), ACTOR)
    changed = await registry.change(TENANT, "exp-mini-vs-4o", change(weights={"full": 0.5, "local": 0.25}), ACTOR)
    assert {v.name: v.weight for v in changed.variants} == {"mini": 0.25, "full": 0.5, "local": 0.25}
    assert changed.version == 2
    assert audit_actions(sink) == ["experiment.start", "experiment.update"]
    assert sink.of(AuditRecorded)[-1].details["weights"] == {"mini": 0.25, "full": 0.5, "local": 0.25}


async def test_a_canary_is_raised_stepwise(registry: ExperimentRegistry, sink: InMemoryPublisher) -> None:
    await registry.create(TENANT, new(CANARY), ACTOR)
    for step in (0.1, 0.25, 0.5):
        raised = await registry.change(TENANT, "canary-v3", change(canary_weight=step), ACTOR)
        assert {v.name: v.weight for v in raised.variants} == {"v2": round(1 - step, 12), "v3": step}
    assert raised.version == 4
    assert audit_actions(sink) == ["experiment.start", *["experiment.update"] * 3]


async def test_pause_resume_and_stop(registry: ExperimentRegistry, sink: InMemoryPublisher) -> None:
    await registry.create(TENANT, new(SHADOW), ACTOR)
    store = registry.store
    assert choose_variant(store, TENANT, "gpt-4o-mini", None, "u1", None) is not None

    await registry.change(TENANT, "shadow-llama", change(status="paused"), ACTOR)
    assert choose_variant(store, TENANT, "gpt-4o-mini", None, "u1", None) is None
    await registry.change(TENANT, "shadow-llama", change(status="running"), ACTOR)
    assert choose_variant(store, TENANT, "gpt-4o-mini", None, "u1", None) is not None

    stopped = await registry.stop(TENANT, "shadow-llama", ACTOR)
    assert (stopped.status, stopped.version) == ("completed", 4)
    assert stopped.ends_at is not None
    assert choose_variant(store, TENANT, "gpt-4o-mini", None, "u1", None) is None, (
        "a stopped experiment assigns nothing"
    )

    again = await registry.stop(TENANT, "shadow-llama", ACTOR)
    assert again == stopped
    assert audit_actions(sink) == ["experiment.start", "experiment.pause", "experiment.resume", "experiment.stop"]
    digests = [entry.after_digest for entry in sink.of(AuditRecorded)]
    assert None not in digests and len(set(digests)) == len(digests), "each change's state has its own digest"


async def test_a_stopped_experiment_cannot_change(registry: ExperimentRegistry) -> None:
    await registry.create(TENANT, new(AB), ACTOR)
    await registry.stop(TENANT, "exp-mini-vs-4o", ACTOR)
    with pytest.raises(ExperimentConflict, match="is stopped; create a new one instead") as caught:
        await registry.change(TENANT, "exp-mini-vs-4o", change(status="running"), ACTOR)
    assert caught.value.status == 409


async def test_expected_version_is_a_compare_and_set(registry: ExperimentRegistry) -> None:
    await registry.create(TENANT, new(AB), ACTOR)
    await registry.change(
        TENANT, "exp-mini-vs-4o", change(weights={"full": 0.1, "local": 0.1}, expected_version=1), ACTOR
    )
    with pytest.raises(ExperimentConflict, match="is at version 2, not 1: it changed meanwhile"):
        await registry.change(TENANT, "exp-mini-vs-4o", change(status="paused", expected_version=1), ACTOR)


async def test_the_same_id_twice_is_a_409(registry: ExperimentRegistry) -> None:
    await registry.create(TENANT, new(AB), ACTOR)
    with pytest.raises(ExperimentConflict, match="exists already"):
        await registry.create(TENANT, new(AB), ACTOR)


async def test_two_running_experiments_may_not_take_the_same_calls(registry: ExperimentRegistry) -> None:
    await registry.create(TENANT, new(AB), ACTOR)
    with pytest.raises(ExperimentConflict, match="'exp-mini-vs-4o' already routes this traffic") as caught:
        await registry.create(TENANT, new(SHADOW), ACTOR)  # same app, same control model
    assert caught.value.extensions["conflicting_experiment"] == "exp-mini-vs-4o"
    draft = await registry.create(TENANT, new(SHADOW, start=False), ACTOR)
    assert draft.status == "draft", "a draft takes no traffic"
    await registry.stop(TENANT, "exp-mini-vs-4o", ACTOR)
    await registry.change(TENANT, "shadow-llama", change(status="running"), ACTOR)


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({**AB, "variants": [{**v, "weight": 0.5} for v in AB["variants"]]}, "weights must sum to 1 (they sum to 1.5)"),
        ({**AB, "control": "nope"}, "control 'nope' is not one of the variants"),
        (
            {**CANARY, "variants": [*CANARY["variants"], {"name": "v4", "weight": 0, "model": "m"}]},
            "a canary has exactly two variants",
        ),
        (
            {
                **CANARY,
                "variants": [
                    CANARY["variants"][0],
                    {**CANARY["variants"][1], "prompt": {"name": "support-answer", "version": 9}},
                ],
            },
            "variant 'v3' names prompt 'support-answer' version 9, which does not exist",
        ),
        (
            {**AB, "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}], "control": "a"},
            "must name a prompt version or a model",
        ),
        (
            {**SHADOW, "variants": [{**SHADOW["variants"][0], "weight": 0}, {**SHADOW["variants"][1], "weight": 1}]},
            "answers every call",
        ),
    ],
)
async def test_invalid_definitions_are_a_422(
    registry: ExperimentRegistry, sink: InMemoryPublisher, definition: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidExperiment) as caught:
        await registry.create(TENANT, new(definition), ACTOR)
    assert caught.value.status == 422
    assert message in caught.value.detail
    assert sink.events == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weights": {"nope": 0.5}}, "no such variants: nope"),
        ({"weights": {"full": 0.2}}, "give a weight for every variant but the control; missing: local"),
        ({"weights": {"full": 0.8, "local": 0.8}}, "add up to more than 1"),
        ({"canary_weight": 0.3}, "canary_weight applies to canary experiments; this one is ab"),
    ],
)
async def test_invalid_changes_are_a_422(registry: ExperimentRegistry, fields: dict[str, Any], message: str) -> None:
    await registry.create(TENANT, new(AB), ACTOR)
    with pytest.raises(InvalidExperiment, match=message):
        await registry.change(TENANT, "exp-mini-vs-4o", change(**fields), ACTOR)


def test_a_change_must_change_something() -> None:
    with pytest.raises(ValueError, match="nothing to change"):
        change(expected_version=3)
    with pytest.raises(ValueError, match="give weights or canary_weight, not both"):
        change(weights={"a": 1}, canary_weight=0.1)


async def test_unknown_experiments_are_404(registry: ExperimentRegistry) -> None:
    with pytest.raises(UnknownExperiment) as caught:
        await registry.stop(TENANT, "nope", ACTOR)
    assert caught.value.status == 404
    await registry.create(TENANT, new(AB), ACTOR)
    with pytest.raises(UnknownExperiment):
        registry.get("globex", "exp-mini-vs-4o")


async def test_a_failed_publish_is_a_503_and_changes_nothing(
    registry: ExperimentRegistry, sink: InMemoryPublisher
) -> None:
    sink.failure = ConnectionError("broker down")
    with pytest.raises(ExperimentsUnavailable):
        await registry.create(TENANT, new(AB), ACTOR)
    assert registry.experiments(TENANT) == []


async def test_a_store_still_loading_is_a_503(registry: ExperimentRegistry) -> None:
    registry.store = ExperimentStore()
    with pytest.raises(ExperimentsUnavailable):
        await registry.create(TENANT, new(AB), ACTOR)


async def test_the_store_rebuilt_from_the_records_is_the_same(
    registry: ExperimentRegistry, sink: InMemoryPublisher
) -> None:
    await registry.create(TENANT, new(AB), ACTOR)
    await registry.create(TENANT, new(CANARY), ACTOR)
    await registry.change(TENANT, "canary-v3", change(canary_weight=0.2), ACTOR)
    await registry.stop(TENANT, "exp-mini-vs-4o", ACTOR)

    rebuilt = ExperimentStore()
    for key, value in sink.records(ExperimentConfigured.topic):
        rebuilt.apply_record(key, value)
    assert rebuilt.snapshot() == registry.store.snapshot()
    rebuilt.apply_record(b"acme:canary-v3", None)
    assert [e.experiment_id for e in rebuilt.experiments(TENANT)] == ["exp-mini-vs-4o"]
