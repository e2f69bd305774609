"""The registry's use cases: immutable versions (409), labels that move and roll back, diffs, audit entries."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_inference.prompts.errors import (
    InvalidPrompt,
    LabelHasNoHistory,
    RegistryUnavailable,
    UnknownLabel,
    UnknownPrompt,
    UnknownVersion,
    VersionConflict,
)
from llmops_inference.prompts.model import PromptVersionDraft
from llmops_inference.prompts.resolve import PromptSelector
from llmops_inference.prompts.service import PromptRegistry
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import PromptLabelMoved, PromptVersionPublished
from llmops_schemas.v2 import AuditRecorded

from tests.unit.inference.prompts.fakes import ACTOR, TENANT, draft, prompt_registry

NAME = "support-answer"


def v(text: str, **fields: Any) -> PromptVersionDraft:
    return PromptVersionDraft.model_validate(
        draft(("system", text), ("user", "{{ question }}"), variables=[{"name": "question"}], **fields)
    )


async def publish(registry: PromptRegistry, *texts: str, **fields: Any) -> list[PromptVersionPublished]:
    return [(await registry.create_version(TENANT, NAME, v(t, **fields), ACTOR))[0] for t in texts]


# --- versions ----------------------------------------------------------------------------------------


async def test_versions_are_numbered_in_order_and_point_at_their_parent(registry: PromptRegistry) -> None:
    first, second = await publish(registry, "Be brief.", "Be brief and kind.")
    assert (first.version, first.parent) == (1, None)
    assert second.version == 2
    assert second.parent is not None and second.parent.version == 1
    assert second.created_by == "alice-admin"
    assert registry.store.latest(TENANT, NAME) == second


async def test_the_same_version_with_other_content_is_a_409(registry: PromptRegistry, sink: InMemoryPublisher) -> None:
    await registry.create_version(TENANT, NAME, v("Be brief.", version=1), ACTOR)
    published = len(sink.events)

    with pytest.raises(VersionConflict) as caught:
        await registry.create_version(TENANT, NAME, v("Be verbose.", version=1), ACTOR)

    assert caught.value.status == 409
    assert caught.value.detail == (
        "prompt 'support-answer' version 1 already exists with other content; versions are immutable, "
        "publish version 2 instead"
    )
    assert len(sink.events) == published, "nothing was published"
    assert registry.store.version(TENANT, NAME, 1).template[0].content == "Be brief."  # type: ignore[union-attr]


async def test_the_same_version_with_the_same_content_is_an_idempotent_retry(
    registry: PromptRegistry, sink: InMemoryPublisher
) -> None:
    first, created = await registry.create_version(TENANT, NAME, v("Be brief.", version=1), ACTOR)
    published = len(sink.events)
    again, created_again = await registry.create_version(TENANT, NAME, v("Be brief.", version=1), ACTOR)
    assert (created, created_again) == (True, False)
    assert again == first
    assert len(sink.events) == published


async def test_a_version_number_that_skips_ahead_is_a_409(registry: PromptRegistry) -> None:
    await publish(registry, "Be brief.")
    with pytest.raises(VersionConflict, match="cannot get version 5: the next version is 2"):
        await registry.create_version(TENANT, NAME, v("x", version=5), ACTOR)


async def test_concurrent_writers_of_one_version_get_one_success_and_one_409(registry: PromptRegistry) -> None:
    import asyncio

    results = await asyncio.gather(
        registry.create_version(TENANT, NAME, v("A", version=1), ACTOR),
        registry.create_version(TENANT, NAME, v("B", version=1), ACTOR),
        return_exceptions=True,
    )
    assert sum(isinstance(r, tuple) for r in results) == 1
    assert sum(isinstance(r, VersionConflict) for r in results) == 1


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{% if tone %}Be nice.{% endif %}", "template[0] (system) uses undeclared variables: tone"),
        ("{{ question ", "template[0] (system), line 1: unexpected end of template"),
        ("{{ shop }}", "(root): template uses undeclared variables: shop"),  # the schema's own check
    ],
)
async def test_invalid_templates_are_refused_with_a_422(registry: PromptRegistry, template: str, problem: str) -> None:
    with pytest.raises(InvalidPrompt) as caught:
        await registry.create_version(TENANT, NAME, v(template), ACTOR)
    assert caught.value.status == 422
    assert problem in caught.value.detail


async def test_writes_wait_until_the_topic_is_loaded(sink: InMemoryPublisher) -> None:
    registry = prompt_registry(sink)
    registry.store._caught_up = False
    with pytest.raises(RegistryUnavailable) as caught:
        await registry.create_version(TENANT, NAME, v("x"), ACTOR)
    assert caught.value.status == 503


async def test_a_failed_publish_is_a_503_and_changes_nothing(registry: PromptRegistry, sink: InMemoryPublisher) -> None:
    sink.failure = ConnectionError("broker down")
    with pytest.raises(RegistryUnavailable, match=r"could not publish the change \(ConnectionError\)"):
        await publish(registry, "Be brief.")
    assert not registry.store.exists(TENANT, NAME)


# --- labels ------------------------------------------------------------------------------------------


async def test_labels_move_with_their_history_and_roll_back(registry: PromptRegistry, sink: InMemoryPublisher) -> None:
    await publish(registry, "one", "two", "three")

    await registry.move_label(TENANT, NAME, "production", 1, ACTOR)
    await registry.move_label(TENANT, NAME, "production", 2, ACTOR)
    moved = await registry.move_label(TENANT, NAME, "production", 3, ACTOR, reason="friendlier")
    assert (moved.version, moved.history) == (3, [1, 2])

    back = await registry.rollback(TENANT, NAME, "production", ACTOR)
    assert (back.version, back.history) == (2, [1])
    back = await registry.rollback(TENANT, NAME, "production", ACTOR)
    assert (back.version, back.history) == (1, [])
    with pytest.raises(LabelHasNoHistory) as caught:
        await registry.rollback(TENANT, NAME, "production", ACTOR)
    assert caught.value.status == 409
    assert "has never pointed at another version than 1" in caught.value.detail

    record = sink.of(PromptLabelMoved)[-1]
    assert (record.action, record.version, record.moved_by) == ("rollback", 1, "alice-admin")
    assert registry.store.label(TENANT, NAME, "production").version == 1  # type: ignore[union-attr]


async def test_moving_a_label_republishes_the_versions_it_leaves_and_reaches(
    registry: PromptRegistry, sink: InMemoryPublisher
) -> None:
    await publish(registry, "one", "two")
    await registry.move_label(TENANT, NAME, "production", 1, ACTOR)
    sink.events.clear()

    await registry.move_label(TENANT, NAME, "production", 2, ACTOR)

    republished = {p.version: p.labels for p in sink.of(PromptVersionPublished)}
    assert republished == {1: [], 2: ["production"]}
    assert registry.get_version(TENANT, NAME, 2).labels == ["production"]
    assert registry.get_version(TENANT, NAME, 1).labels == []


async def test_labels_given_with_a_new_version_move_to_it(registry: PromptRegistry, sink: InMemoryPublisher) -> None:
    await publish(registry, "one", labels=["staging"])
    second, _ = await registry.create_version(TENANT, NAME, v("two", labels=["staging", "canary"]), ACTOR)
    assert second.labels == ["canary", "staging"]
    staging = registry.store.label(TENANT, NAME, "staging")
    assert staging is not None and (staging.version, staging.history) == (2, [1])
    assert registry.get_version(TENANT, NAME, 1).labels == []


async def test_moving_a_label_to_where_it_is_publishes_nothing(
    registry: PromptRegistry, sink: InMemoryPublisher
) -> None:
    await publish(registry, "one")
    await registry.move_label(TENANT, NAME, "production", 1, ACTOR)
    published = len(sink.events)
    await registry.move_label(TENANT, NAME, "production", 1, ACTOR)
    assert len(sink.events) == published


async def test_label_errors_say_what_exists(registry: PromptRegistry) -> None:
    with pytest.raises(UnknownPrompt, match="no prompt named 'nope'"):
        await registry.move_label(TENANT, "nope", "production", 1, ACTOR)
    await publish(registry, "one")
    with pytest.raises(UnknownVersion, match=r"prompt 'support-answer' has no version 9 \(versions are 1 to 1\)"):
        await registry.move_label(TENANT, NAME, "production", 9, ACTOR)
    await registry.move_label(TENANT, NAME, "staging", 1, ACTOR)
    with pytest.raises(UnknownLabel, match=r"has no label 'production' \(its labels: staging\)"):
        await registry.rollback(TENANT, NAME, "production", ACTOR)


# --- reads -------------------------------------------------------------------------------------------


async def test_diff_lists_changed_fields_and_a_unified_diff(registry: PromptRegistry) -> None:
    await publish(registry, "Be brief.")
    await registry.create_version(
        TENANT, NAME, v("Be brief and kind.", model="gpt-4o", parameters={"temperature": 0.2}), ACTOR
    )
    await registry.move_label(TENANT, NAME, "production", 1, ACTOR)

    diff = registry.diff(TENANT, NAME, "production", None)

    assert (diff.from_version, diff.to_version) == (1, 2)
    assert diff.changed == ["template", "model", "parameters"]
    assert diff.diff.splitlines() == [
        "--- a/support-answer@v1",
        "+++ b/support-answer@v2",
        "@@ -1,10 +1,10 @@",
        "-model: -",
        "+model: gpt-4o",
        " provider: -",
        "-parameters: -",
        '+parameters: {"temperature": 0.2}',
        " description: -",
        " variables:",
        "   - question",
        " --- system ---",
        "-Be brief.",
        "+Be brief and kind.",
        " --- user ---",
        " {{ question }}",
    ]
    assert registry.diff(TENANT, NAME, "2", "2").diff == ""
    with pytest.raises(InvalidPrompt, match="version 1 of prompt 'support-answer' has no predecessor"):
        registry.diff(TENANT, NAME, None, "1")


async def test_summaries_and_detail(registry: PromptRegistry) -> None:
    await publish(registry, "one", "two")
    await registry.move_label(TENANT, NAME, "production", 1, ACTOR)
    await registry.move_label(TENANT, NAME, "production", 2, ACTOR)

    (summary,) = registry.summaries(TENANT)
    assert (summary.name, summary.latest_version, summary.versions, summary.labels) == (NAME, 2, 2, {"production": 2})
    detail = registry.detail(TENANT, NAME)
    assert [b.version for b in detail.versions] == [2, 1]
    assert detail.versions[0].labels == ["production"]
    assert [(p.label, p.version, p.history) for p in detail.labels] == [("production", 2, [1])]
    assert registry.summaries("globex") == []


async def test_render_is_a_dry_run_of_the_gateway_path(registry: PromptRegistry) -> None:
    await publish(registry, "Be brief.", labels=["production"])
    rendered = await registry.render(TENANT, PromptSelector(name=NAME, variables={"question": "Hi?"}))
    assert [m.content for m in rendered.messages] == ["Be brief.", "Hi?"]
    assert rendered.ref.label == "production"


# --- audit -------------------------------------------------------------------------------------------


async def test_every_change_is_audited_with_its_digest(registry: PromptRegistry, sink: InMemoryPublisher) -> None:
    await publish(registry, "one", "two")
    await registry.move_label(TENANT, NAME, "production", 1, ACTOR)
    await registry.move_label(TENANT, NAME, "production", 2, ACTOR)
    await registry.rollback(TENANT, NAME, "production", ACTOR)

    entries = sink.of(AuditRecorded)
    assert [e.action for e in entries] == [
        "prompt.publish",
        "prompt.publish",
        "prompt.label.move",
        "prompt.label.move",
        "prompt.label.rollback",
    ]
    assert all(e.resource.model_dump() == {"type": "prompt", "id": NAME} for e in entries)
    assert all(e.actor.model_dump() == {"type": "api_key", "id": "alice-admin"} for e in entries)
    assert entries[-1].details == {"label": "production", "version": 1, "previous_version": 2}
    assert all(e.after_digest is not None for e in entries), "the published state's digest, not the state"
    audit_events = [e for e in sink.events if isinstance(e.data, AuditRecorded)]
    assert {e.tenant_id for e in audit_events} == {TENANT}
    # Every event the change published names the key that made it, as the warehouse stores per row.
    assert {e.key_id for e in sink.events} == {"alice-admin"}
