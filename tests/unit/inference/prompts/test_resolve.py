"""What the gateway calls: resolve_prompt (by label, version, default label), its typed errors, and chains
(parsed, checked before any step is sent, resolved step by step)."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_inference.prompts.errors import (
    ChainError,
    InvalidSelector,
    MissingVariables,
    PromptError,
    RegistryUnavailable,
    UnknownLabel,
    UnknownPrompt,
    UnknownVersion,
)
from llmops_inference.prompts.model import PromptVersionDraft
from llmops_inference.prompts.resolve import (
    PromptSelector,
    check_chain,
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
    """Answers each step with its index and prompt name, and remembers the selectors it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, PromptSelector]] = []

    async def __call__(self, index: int, selector: PromptSelector) -> str:
        self.calls.append((index, selector))
        return f"<{index}:{selector.name}>"


@pytest.fixture
async def chain_store(registry: PromptRegistry) -> PromptStore:
    await create(
        registry,
        "summarise",
        ("user", "Summarise: {{ ticket }}"),
        variables=[{"name": "ticket"}],
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


THREE_STEPS: dict[str, Any] = {
    "variables": {"ticket": "parcel late", "tone": "calm"},
    "steps": [
        {"output": "summary", "prompt": {"name": "summarise"}},
        {"output": "draft", "prompt": {"name": "reply", "variables": {"tone": "formal"}}},
        {"output": "answer", "prompt": {"name": "reply", "version": 1}},
    ],
}


async def test_each_answer_is_a_variable_of_the_later_steps_and_the_last_is_left_to_the_caller() -> None:
    model = FakeModel()

    last = await resolve_chain(parse_chain(THREE_STEPS), model)

    assert [(i, s.name, s.variables) for i, s in model.calls] == [
        (0, "summarise", {"ticket": "parcel late", "tone": "calm"}),
        (1, "reply", {"ticket": "parcel late", "tone": "formal", "summary": "<0:summarise>"}),
    ]
    assert (last.name, last.version) == ("reply", 1)
    assert last.variables == {
        "ticket": "parcel late",
        "tone": "calm",
        "summary": "<0:summarise>",
        "draft": "<1:reply>",
    }


async def test_a_one_step_chain_sends_nothing_itself() -> None:
    model = FakeModel()
    last = await resolve_chain(parse_chain({"steps": [{"output": "a", "prompt": {"name": "reply"}}]}), model)
    assert model.calls == [] and last.name == "reply"


def test_a_sound_chain_passes_its_check(chain_store: PromptStore) -> None:
    check_chain(chain_store, TENANT, parse_chain(THREE_STEPS))  # step 2 reads `summary`, an earlier answer


@pytest.mark.parametrize(
    ("steps", "error", "detail"),
    [
        (
            [{"output": "summary", "prompt": {"name": "summarise"}}, {"output": "x", "prompt": {"name": "nope"}}],
            UnknownPrompt,
            "chain step 1 ('x'): no prompt named 'nope'",
        ),
        (
            [{"output": "x", "prompt": {"name": "reply", "label": "qa"}}],
            UnknownLabel,
            "chain step 0 ('x'): prompt 'reply' has no label 'qa' (its labels: production)",
        ),
        (
            [{"output": "x", "prompt": {"name": "reply"}}, {"output": "summary", "prompt": {"name": "summarise"}}],
            MissingVariables,
            "chain step 0 ('x'): prompt 'reply' version 1 needs variables: summary",
        ),
    ],
)
def test_a_chain_is_refused_before_any_step_naming_the_step(
    chain_store: PromptStore, steps: list[dict[str, Any]], error: type[PromptError], detail: str
) -> None:
    with pytest.raises(error) as caught:
        check_chain(chain_store, TENANT, parse_chain({"variables": {"ticket": "t"}, "steps": steps}))
    assert caught.value.detail == detail
    index = int(detail.split()[2])
    assert caught.value.extensions["step"] == index
    assert caught.value.extensions["param"] == f"chain.steps.{index}.prompt"


def test_a_chain_check_while_the_store_loads_is_a_plain_503() -> None:
    with pytest.raises(RegistryUnavailable):
        check_chain(PromptStore(), TENANT, parse_chain({"steps": [{"output": "a", "prompt": {"name": "x"}}]}))


@pytest.mark.parametrize(
    ("chain", "message", "param"),
    [
        (
            {"steps": [{"output": "a", "prompt": {"name": "x"}}, {"output": "a", "prompt": {"name": "y"}}]},
            "step outputs must be distinct: a",
            "chain",
        ),
        (
            {"variables": {"a": 1}, "steps": [{"output": "a", "prompt": {"name": "x"}}]},
            "step outputs may not shadow chain variables: a",
            "chain",
        ),
        ({"steps": []}, "steps: List should have at least 1 item", "chain.steps"),
        (
            {"steps": [{"output": "1a", "prompt": {"name": "x"}}]},
            "steps.0.output: String should match",
            "chain.steps.0.output",
        ),
        (
            {"steps": [{"output": "a", "prompt": {"name": "x"}}] * 3},
            "at most 2 steps are allowed, not 3",
            "chain.steps",
        ),
    ],
)
def test_malformed_chains_are_a_422_saying_where(chain: dict[str, Any], message: str, param: str) -> None:
    with pytest.raises(ChainError, match=message) as caught:
        parse_chain(chain, max_steps=2)
    assert caught.value.status == 422
    assert caught.value.extensions["param"] == param
