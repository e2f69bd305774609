"""Prompt chains on /v1/chat/completions: each step's answer feeds the later steps, the last step is the request's
call (streamed when asked), every step is recorded with the request's trace id and its place in the chain, and
experiments choose each step's arm as for a request naming that step's prompt.
"""

from __future__ import annotations

import json
import re

from tests.unit.inference.chain_support import (
    ADMIN,
    REPLY,
    SUMMARY,
    WRITER,
    calls,
    chain_body,
    echo_backend,
    publish,
    shadow_reply_v2,
    step,
)
from tests.unit.inference.support import Harness

TRACE = "0af7651916cd43dd8448eb211c80319c"


async def test_two_steps_the_first_answer_is_a_variable_of_the_second(chain_gw: Harness) -> None:
    body = chain_body(step("summary", "summarise"), step("answer", "reply"))
    response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["choices"][0]["message"]["content"] == REPLY
    assert echo_backend(chain_gw).sent() == [["Summarise: parcel late"], ["Tone: warm", f"Reply to {SUMMARY}"]]
    assert echo_backend(chain_gw).methods == ["generate", "generate"]
    first, last = await calls(chain_gw)
    assert (first.output, last.output) == (SUMMARY, REPLY)
    assert last.call_id == answer["id"] and first.call_id != answer["id"]
    assert [(c.prompt.name, c.prompt.version, c.prompt.label) for c in (first, last) if c.prompt] == [
        ("summarise", 1, "production"),
        ("reply", 1, "production"),
    ]
    assert first.trace_id == last.trace_id and re.fullmatch(r"[0-9a-f]{32}", first.trace_id or "")
    for index, (call, output) in enumerate(((first, "summary"), (last, "answer"))):
        assert call.tags == ["chain"]
        assert call.metadata["chain_id"] == answer["id"]
        assert (call.metadata["chain_step"], call.metadata["chain_steps"]) == (str(index), "2")
        assert call.metadata["chain_output"] == output
        assert call.status == "ok" and call.usage is not None


async def test_three_steps_share_the_callers_trace_and_a_steps_own_variables_win(chain_gw: Harness) -> None:
    body = chain_body(
        step("summary", "summarise"),
        step("draft", "reply", variables={"tone": "formal"}),
        step("final", "polish", version=1),
        variables={"ticket": "parcel late", "customer": "Ada"},
    )
    headers = {**WRITER, "traceparent": f"00-{TRACE}-b7ad6b7169203331-01"}
    response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=headers)

    assert response.status_code == 200, response.text
    formal_reply = f"[Reply to {SUMMARY}]"
    assert response.json()["choices"][0]["message"]["content"] == f"[Polish {formal_reply} for Ada]"
    assert echo_backend(chain_gw).sent()[1][0] == "Tone: formal"
    recorded = await calls(chain_gw)
    assert [c.trace_id for c in recorded] == [TRACE] * 3
    assert [c.metadata["chain_step"] for c in recorded] == ["0", "1", "2"]
    assert {c.metadata["chain_steps"] for c in recorded} == {"3"}
    assert recorded[2].prompt is not None and recorded[2].prompt.label is None  # selected by version


async def test_the_last_step_streams_and_the_steps_before_it_do_not(chain_gw: Harness) -> None:
    body = chain_body(
        step("summary", "summarise"), step("answer", "reply"), stream=True, stream_options={"include_usage": True}
    )
    async with chain_gw.client.stream("POST", "/v1/chat/completions", json=body, headers=WRITER) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join([piece async for piece in response.aiter_text()])

    events = [line.removeprefix("data: ") for line in text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == REPLY
    assert echo_backend(chain_gw).methods == ["generate", "stream"]
    first, last = await calls(chain_gw)
    assert last.call_id == chunks[0]["id"] and last.output == REPLY and last.time_to_first_token_ms is not None
    assert first.trace_id == last.trace_id and first.output == SUMMARY


async def test_the_callers_messages_follow_the_last_steps_rendered_ones_only(chain_gw: Harness) -> None:
    body = chain_body(step("summary", "summarise"), step("answer", "reply"))
    body["messages"] = [{"role": "user", "content": "PS: be quick"}]
    response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

    assert response.json()["choices"][0]["message"]["content"] == "[PS: be quick]"
    assert echo_backend(chain_gw).sent() == [
        ["Summarise: parcel late"],
        ["Tone: warm", f"Reply to {SUMMARY}", "PS: be quick"],
    ]


async def test_an_experiment_chooses_the_arm_of_each_step_naming_its_prompt(chain_gw: Harness) -> None:
    v2 = {"template": [{"role": "user", "content": "v2 answers {{ summary }}"}], "variables": [{"name": "summary"}]}
    await publish(chain_gw, "reply", v2)
    experiment = {
        "experiment_id": "reply-v2",
        "name": "reply v2 for everyone",
        "app": "default",
        "kind": "ab",
        "control": "v1",
        "variants": [
            {"name": "v1", "weight": 0, "prompt": {"name": "reply", "version": 1}},
            {"name": "v2", "weight": 1, "prompt": {"name": "reply", "version": 2}},
        ],
    }
    created = await chain_gw.client.post("/v1/experiments", json=experiment, headers=ADMIN)
    assert created.status_code == 201, created.text

    body = chain_body(step("summary", "summarise"), step("answer", "reply"), user="u-1")
    response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

    assert response.json()["choices"][0]["message"]["content"] == f"[v2 answers {SUMMARY}]"
    first, last = await calls(chain_gw)
    assert first.experiment is None, "no experiment takes the calls naming 'summarise'"
    assert last.experiment is not None and (last.experiment.experiment_id, last.experiment.variant) == (
        "reply-v2",
        "v2",
    )
    assert last.prompt is not None and last.prompt.version == 2


async def test_a_steps_shadow_copy_carries_the_steps_chain_labels(chain_gw: Harness) -> None:
    await shadow_reply_v2(chain_gw)

    ids = []
    for n in range(6):
        body = chain_body(step("summary", "summarise"), step("answer", "reply"), user=f"u-{n}")
        response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)
        assert response.json()["choices"][0]["message"]["content"] == REPLY, "the copy is never returned"
        ids.append(response.json()["id"])
    await chain_gw.wiring.gateway.drain()  # every copy started has ended and been recorded

    recorded = await calls(chain_gw)
    shadows = [c for c in recorded if c.experiment is not None and c.experiment.shadow]
    assert shadows, "most users get a copy"
    for copy in shadows:
        (last,) = [c for c in recorded if c.call_id == copy.metadata["chain_id"]]
        assert copy.call_id not in ids and last.call_id in ids
        assert copy.status == "ok" and copy.output == f"[v2 answers {SUMMARY}]"
        assert copy.tags == ["shadow", "chain"] and copy.trace_id == last.trace_id
        assert (copy.metadata["chain_step"], copy.metadata["chain_steps"]) == ("1", "2")
        assert copy.metadata["chain_output"] == "answer"
