"""The YAML examples of docs/prompts-and-experiments.md are valid, the prompt example renders as described, and
the chain example passes the gateway's check against the doc's prompts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_inference.experiments.model import ExperimentDraft, validated
from llmops_inference.prompts.model import PromptVersionDraft
from llmops_inference.prompts.resolve import check_chain, parse_chain
from llmops_inference.prompts.router import router
from llmops_inference.prompts.service import PromptRegistry
from llmops_inference.prompts.templating import template_problems

from tests.unit.inference.prompts.fakes import ACTOR, TENANT, app_with, auth, write_keys

DOC = Path(__file__).resolve().parents[4] / "docs" / "prompts-and-experiments.md"


def yaml_blocks() -> list[dict[str, Any]]:
    blocks = re.findall(r"^```yaml\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [yaml.safe_load(block) for block in blocks]


def curl_bodies() -> list[dict[str, Any]]:
    """The JSON bodies of the doc's ``curl -d '...'`` examples."""
    return [json.loads(body) for body in re.findall(r"-d '(\{.*?\})'", DOC.read_text(encoding="utf-8"), flags=re.S)]


PROMPTS = [b for b in yaml_blocks() if "template" in b]
EXPERIMENTS = [b for b in yaml_blocks() if "kind" in b]


def test_the_doc_has_examples_of_each() -> None:
    assert len(PROMPTS) == 1
    assert {e["kind"] for e in EXPERIMENTS} == {"ab", "canary", "shadow"}


@pytest.mark.parametrize("example", EXPERIMENTS, ids=lambda e: e["id"])
def test_experiment_examples_are_valid(example: dict[str, Any]) -> None:
    body = {("experiment_id" if k == "id" else k): v for k, v in example.items()}
    draft = ExperimentDraft.model_validate(body)
    fields = {**draft.model_dump(exclude={"start"}), "status": "running", "version": 1}
    validated({**fields, "updated_by": "docs", "updated_at": "2026-03-01T12:00:00Z"})


async def test_the_prompt_example_publishes_and_renders(tmp_path: Path, registry: PromptRegistry) -> None:
    (example,) = PROMPTS
    body = {k: v for k, v in example.items() if k != "name"}
    draft = PromptVersionDraft.model_validate(body)
    assert template_problems(draft.template, [v.name for v in draft.variables]) == []

    app = app_with(write_keys(tmp_path / "keys.yaml"), prompt_registry=registry)
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        created = await client.post(f"/v1/prompts/{example['name']}/versions", json=body, headers=auth("admin"))
        assert created.status_code == 201, created.text
        rendered = await client.post(
            "/v1/prompts/render",
            json={"name": example["name"], "label": "staging", "variables": {"question": "Where is my parcel?"}},
            headers=auth("reader"),
        )
    assert rendered.status_code == 200, rendered.text
    system, user = rendered.json()["messages"]
    assert system["content"] == "You answer questions about orders for Acme.\n"
    assert user["content"] == "Where is my parcel?"


async def test_the_chain_example_passes_the_check_against_the_docs_prompts(registry: PromptRegistry) -> None:
    (answer,) = PROMPTS
    summarise = next(b for b in curl_bodies() if "labels" in b and "template" in b)
    (request,) = [b for b in curl_bodies() if "chain" in b]
    fields = {k: v for k, v in answer.items() if k != "name"} | {"labels": ["production"]}
    await registry.create_version(TENANT, answer["name"], PromptVersionDraft.model_validate(fields), ACTOR)
    await registry.create_version(TENANT, "summarise-ticket", PromptVersionDraft.model_validate(summarise), ACTOR)
    check_chain(registry.store, TENANT, parse_chain(request["chain"]))
