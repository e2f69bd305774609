"""What the gateway calls: resolve_prompt (by label, version, default label), its typed errors, and chains."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_inference.prompts.errors import (
    ChainError,
    InvalidSelector,
    MissingVariables,
    RegistryUnavailable,
    UnknownLabel,
    UnknownPrompt,
    UnknownVersion,
)
from llmops_inference.prompts.model import PromptVersionDraft
from llmops_inference.prompts.resolve import (
    PromptSelector,
    parse_chain,
    parse_selector,
    resolve_chain,
    resolve_prompt,
)
from llmops_inference.prompts.service import PromptRegistry
from llmops_inference.prompts.store import PromptStore
from llmops_schemas.v1 import CallParameters, ChatMessage

from tests.unit.inference.prompts.fakes import ACTOR, TENANT, draft


async def create(registry: PromptRegistry, name: str, *messages: tuple[str, str], **fields: Any) -> None:
    await registry.create_version(TENANT, name, PromptVersionDraft.model_validate(draft(*messages, **fields)), ACTOR)


@pytest.fixture
async def store(registry: PromptRegistry) -> PromptStore:
    question = [{"name": "question"}]
    await create(registry, "answer", ("user", "v1: {{ question }}"), variables=question)
    await create(
        registry,
        "answer",
        ("user", "v2: {{ question }}"),
        variables=question,
        model="gpt-4o-mini",
        parameters={"temperature": 0.2},
        labels=["production"],
    )
    await create(registry, "answer", ("user", "v3: {{ question }}"), variables=question, labels=["staging"])
    return registry.store


def test_by_label_with_the_versions_model_and_parameters(store: PromptStore) -> None:
    selector = PromptSelector(name="answer", label="production", variables={"question": "Hi?"})
    rendered = resolve_prompt(store, TENANT, selector)
    assert rendered.messages == [ChatMessage(role="user", content="v2: Hi?")]
    assert (rendered.model, rendered.parameters) == ("gpt-4o-mini", CallParameters(temperature=0.2))
    assert rendered.ref.model_dump() == {"name": "answer", "version": 2, "label": "production"}


def test_by_version_by_default_label_and_latest(store: PromptStore) -> None:
    def content(**selector: Any) -> str:
        rendered = resolve_prompt(store, TENANT, PromptSelector(name="answer", variables={"question": "q"}, **selector))
        return rendered.messages[0].content

    assert content(version=1) == "v1: q"
    assert content() == "v2: q", "no label and no version: production"
    assert content(label="staging") == "v3: q"
    assert content(label="latest") == "v3: q"


@pytest.mark.parametrize(
    ("selector", "error", "status", "message"),
    [
        ({"name": "nope"}, UnknownPrompt, 404, "no prompt named 'nope'"),
        ({"name": "answer", "label": "qa"}, UnknownLabel, 404, "has no label 'qa' (its labels: production, staging)"),
        ({"name": "answer", "version": 7}, UnknownVersion, 404, "has no version 7 (versions are 1 to 3)"),
        ({"name": "answer"}, MissingVariables, 422, "prompt 'answer' version 2 needs variables: question"),
    ],
)
def test_errors_carry_a_status_and_a_precise_message(
    store: PromptStore, selector: dict[str, Any], error: type[Exception], status: int, message: str
) -> None:
    with pytest.raises(error) as caught:
        resolve_prompt(store, TENANT, PromptSelector.model_validate(selector))
    assert caught.value.status == status  # type: ignore[attr-defined]
    assert message in caught.value.detail  # type: ignore[attr-defined]


def test_the_tenant_is_the_callers(store: PromptStore) -> None:
    with pytest.raises(UnknownPrompt):
        resolve_prompt(store, "globex", PromptSelector(name="answer", variables={"question": "q"}))


def test_a_store_still_loading_answers_503() -> None:
    with pytest.raises(RegistryUnavailable) as caught:
        resolve_prompt(PromptStore(), TENANT, PromptSelector(name="answer"))
    assert caught.value.status == 503


def test_parse_selector_explains_what_is_wrong() -> None:
    with pytest.raises(InvalidSelector, match="give a label or a version, not both") as caught:
        parse_selector({"name": "answer", "label": "production", "version": 2})
    assert caught.value.status == 422
    with pytest.raises(InvalidSelector, match="name: Field required"):
        parse_selector({"variables": {}})
    assert parse_selector({"name": "answer"}).label is None


# --- chains ------------------------------------------------------------------------------------------


class FakeModel:
    """Answers each call with a tag and the last message, and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    async def __call__(self, messages: list[ChatMessage], model: str | None, params: CallParameters | None) -> str:
        self.calls.append(([m.content for m in messages], model))
        return f"<{messages[-1].content}>"


@pytest.fixture
async def chain_store(registry: PromptRegistry) -> PromptStore:
    await create(
        registry,
        "summarise",
        ("user", "Summarise: {{ ticket }}"),
        variables=[{"name": "ticket"}],
        model="small",
        labels=["production"],
    )
    await create(
        registry,
        "reply",
        ("system", "Tone: {{ tone }}"),
        ("user", "Reply to {{ summary }}"),
        variables=[{"name": "summary"}, {"name": "tone", "default": "warm"}],
        labels=["production"],
    )
    return registry.store


async def test_a_chain_feeds_each_answer_to_the_later_steps(chain_store: PromptStore) -> None:
    chain = parse_chain(
        {
            "variables": {"ticket": "parcel late"},
            "steps": [
                {"output": "summary", "prompt": {"name": "summarise"}},
                {"output": "answer", "prompt": {"name": "reply", "variables": {"tone": "formal"}}},
            ],
        }
    )
    model = FakeModel()

    result = await resolve_chain(chain_store, TENANT, chain, model)

    assert model.calls == [
        (["Summarise: parcel late"], "small"),
        (["Tone: formal", "Reply to <Summarise: parcel late>"], None),
    ]
    assert [s.output for s in result.steps] == ["summary", "answer"]
    assert result.output == "<Reply to <Summarise: parcel late>>"
    assert result.steps[1].rendered.ref.name == "reply"


async def test_the_last_step_can_be_left_to_the_gateway(chain_store: PromptStore) -> None:
    chain = parse_chain(
        {
            "variables": {"ticket": "t"},
            "steps": [
                {"output": "summary", "prompt": {"name": "summarise"}},
                {"output": "answer", "prompt": {"name": "reply"}},
            ],
        }
    )
    model = FakeModel()
    result = await resolve_chain(chain_store, TENANT, chain, model, complete_last=False)
    assert len(model.calls) == 1
    assert result.final is not None
    assert [m.content for m in result.final.messages] == ["Tone: warm", "Reply to <Summarise: t>"]


async def test_a_failing_step_says_which(chain_store: PromptStore) -> None:
    chain = parse_chain({"steps": [{"output": "summary", "prompt": {"name": "summarise"}}]})
    with pytest.raises(MissingVariables) as caught:
        await resolve_chain(chain_store, TENANT, chain, FakeModel())
    assert caught.value.detail == "chain step 0 ('summary'): prompt 'summarise' version 1 needs variables: ticket"
    assert caught.value.extensions["step"] == 0


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        (
            {"steps": [{"output": "a", "prompt": {"name": "x"}}, {"output": "a", "prompt": {"name": "y"}}]},
            "step outputs must be distinct: a",
        ),
        (
            {"variables": {"a": 1}, "steps": [{"output": "a", "prompt": {"name": "x"}}]},
            "step outputs may not shadow chain variables: a",
        ),
        ({"steps": []}, "steps: List should have at least 1 item"),
    ],
)
def test_malformed_chains_are_a_422(chain: dict[str, Any], message: str) -> None:
    with pytest.raises(ChainError, match=message) as caught:
        parse_chain(chain)
    assert caught.value.status == 422
