"""``POST /v1/calls`` end to end in process: the real app, an in-memory publisher, a fixed clock."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from fastapi.responses import JSONResponse
from llmops_ingest.bootstrap import IngestPorts, create_app
from llmops_ingest.config import IngestSettings
from llmops_ingest.entrypoints.http import accepted_response
from llmops_kit.kafka.publisher import EncodedEvent, InMemoryPublisher
from llmops_schemas.v2 import CallRecorded
from prometheus_client import REGISTRY

from tests.unit.ingest.fakes import Hook, HookedPublisher, call_ids

MakeCall = Callable[..., dict[str, Any]]
MakeClient = Callable[..., httpx.AsyncClient]
PROBLEM = "application/problem+json"


def post(client: httpx.AsyncClient, auth: dict[str, str], body: Any, **kwargs: Any) -> Any:
    return client.post("/v1/calls", json=body, headers=auth, **kwargs)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


def records_counter(outcome: str, reason: str) -> float:
    labels = {"entrypoint": "http", "outcome": outcome, "reason": reason}
    return REGISTRY.get_sample_value("llmops_ingest_records_total", labels) or 0.0


# --- the happy path and per-record outcomes --------------------------------------------------------


async def test_batch_is_published_and_reported_by_index(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    before = records_counter("accepted", "ok"), records_counter("rejected", "schema")
    calls = [make_call(call_id="c-1"), make_call(latency_ms="slow"), make_call(call_id="c-3")]
    response = await post(client, auth, {"calls": calls})
    assert response.status_code == 202, response.text
    body = response.json()
    assert [(a["index"], a["call_id"]) for a in body["accepted"]] == [(0, "c-1"), (2, "c-3")]
    assert [e.id for e in publisher.events] == [a["event_id"] for a in body["accepted"]]
    [rejection] = body["rejected"]
    assert rejection["index"] == 1
    assert rejection["errors"] == [
        {"loc": ["latency_ms"], "msg": rejection["errors"][0]["msg"], "type": "float_parsing"}
    ]
    assert publisher.topics == ["llmops.calls.recorded"] * 2
    assert records_counter("accepted", "ok") == before[0] + 2
    assert records_counter("rejected", "schema") == before[1] + 1


async def test_v1_and_v2_records_share_the_endpoint_and_are_published_as_v2(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    v2 = make_call(
        call_id="c-v2",
        drop=("output",),
        messages=[{"role": "assistant", "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": "{}"}}]}],
        choices=[{"output": "a"}, {"output": "b"}],
    )
    oversized = make_call(call_id="c-big", drop=("output",), choices=[{"refusal": "x" * 1_000_001}])
    response = await post(client, auth, {"calls": [make_call(call_id="c-v1"), v2, oversized]})
    assert response.status_code == 202, response.text
    assert [a["call_id"] for a in response.json()["accepted"]] == ["c-v1", "c-v2"]
    [rejection] = response.json()["rejected"]
    assert rejection["errors"][0]["loc"] == ["choices", 0, "refusal"]
    assert {e.type for e in publisher.events} == {"llmops.call.recorded.v2"}
    assert [len(e.data.choices) for e in publisher.events] == [1, 2]


async def test_tenant_comes_from_the_key(
    make_client: MakeClient, keys: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    async with make_client() as client:
        response = await client.post(
            "/v1/calls",
            json={"calls": [make_call(), make_call(call_id="c-2", tenant_id="acme")]},
            headers={"X-API-Key": keys["ingest"]},
        )
    assert response.status_code == 202
    assert response.json()["rejected"][0]["errors"][0] == {
        "loc": ["tenant_id"],
        "msg": "Extra inputs are not permitted",
        "type": "extra_forbidden",
    }
    [event] = publisher.events
    assert event.tenant_id == "beta"
    assert b'"tenantid":"beta"' in event.to_json_bytes()


async def test_retry_with_the_same_call_id_gives_the_same_event_id(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall
) -> None:
    first = (await post(client, auth, {"calls": [make_call()]})).json()
    second = (await post(client, auth, {"calls": [make_call()]})).json()
    assert first["accepted"][0]["event_id"] == second["accepted"][0]["event_id"]


async def test_traceparent_becomes_the_event_traceid(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await post(client, {**auth, "traceparent": traceparent}, {"calls": [make_call()]})
    await post(client, auth, {"calls": [make_call()]})
    assert [e.trace_id for e in publisher.events] == ["4bf92f3577b34da6a3ce929d0e0e4736", None]


async def test_call_id_is_derived_from_the_content_when_absent(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    calls = [make_call(drop=("call_id",)), make_call(call_id=None, output="Another answer.")]
    accepted = (await post(client, auth, {"calls": calls})).json()["accepted"]
    assert len({a["call_id"] for a in accepted}) == 2
    assert all(len(a["call_id"]) == 36 for a in accepted)
    assert [e.subject for e in publisher.events] == [a["call_id"] for a in accepted]
    retried = (await post(client, auth, {"calls": calls})).json()["accepted"]
    assert retried == accepted  # same call ids and event ids: the warehouse stores each record once


async def test_the_event_names_the_key_it_was_submitted_under(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    await post(client, auth, {"calls": [make_call()]})
    [event] = publisher.events
    assert event.key_id == "writer-key"
    assert b'"keyid":"writer-key"' in event.to_json_bytes()


async def test_a_record_claiming_platform_origin_is_refused_alone(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    calls = [make_call(call_id="c-1", origin="platform"), make_call(call_id="c-2", origin="application")]
    response = await post(client, auth, {"calls": calls})
    assert response.status_code == 202, response.text
    [rejection] = response.json()["rejected"]
    assert rejection["index"] == 0
    assert [(e["loc"], e["type"]) for e in rejection["errors"]] == [(["origin"], "origin_not_allowed")]
    assert [e.subject for e in publisher.events] == ["c-2"]


async def test_all_rejected_is_a_422_problem_listing_each(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    calls = [make_call(started_at="2020-01-01T00:00:00Z"), make_call(started_at="2026-03-01T12:00:00")]
    body = assert_problem(await post(client, auth, {"calls": calls}), 422)
    assert body["accepted"] == []
    assert [(r["index"], r["errors"][0]["type"]) for r in body["rejected"]] == [
        (0, "timestamp_too_old"),
        (1, "timezone_aware"),
    ]
    assert publisher.events == []


async def test_oversized_record_is_rejected_alone(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall
) -> None:
    huge = make_call(call_id="big", output="x" * 999_000, messages=[{"role": "user", "content": "y" * 5_000}])
    body = (await post(client, auth, {"calls": [huge, make_call()]})).json()
    assert [a["index"] for a in body["accepted"]] == [1]
    assert body["rejected"][0]["errors"][0]["type"] == "record_too_large"


# --- whole-request errors ----------------------------------------------------------------------------


async def raw_post(client: httpx.AsyncClient, auth: dict[str, str], content: Any, **headers: str) -> httpx.Response:
    return await client.post(
        "/v1/calls", content=content, headers={"Content-Type": "application/json", **auth, **headers}
    )


async def test_malformed_json_names_the_position(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = assert_problem(await raw_post(client, auth, b'{"calls": [\n  {"app": }]}'), 400)
    assert body["position"] == {"line": 2, "column": 11, "char": 22}
    assert "line 2 column 11" in body["detail"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'{"calls": [{"app": "caf\xe9"}]}', "not valid UTF-8"),
        ('{"calls": []}'.encode("utf-16"), "not valid UTF-8"),
        (b'\xef\xbb\xbf{"calls": []}', "BOM"),
        (b'{"calls": [{"latency_ms": NaN}]}', "NaN is not valid JSON"),
        (b'{"calls": [{"latency_ms": -Infinity}]}', "Infinity is not valid JSON"),
        (b'{"calls": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"calls": [{"latency_ms": ' + b"9" * 5000 + b"}]}", "digits"),
        (b"", "Expecting value"),
    ],
)
async def test_undecodable_bodies_are_400(
    client: httpx.AsyncClient, auth: dict[str, str], content: bytes, needle: str
) -> None:
    assert needle in assert_problem(await raw_post(client, auth, content), 400)["detail"]


async def test_invalid_utf8_reports_the_byte_offset(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = assert_problem(await raw_post(client, auth, b'{"calls": ["\xff"]}'), 400)
    assert body["position"] == {"byte": 12}


@pytest.mark.parametrize(
    ("document", "loc", "type_"),
    [
        ([{"app": "bare array"}], [], "model_type"),
        ({}, ["calls"], "missing"),
        ({"calls": {"app": "x"}}, ["calls"], "list_type"),
        ({"calls": []}, ["calls"], "too_short"),
        ({"calls": [{}], "tenant_id": "acme"}, ["tenant_id"], "extra_forbidden"),
    ],
)
async def test_body_shape_errors_are_422(
    client: httpx.AsyncClient, auth: dict[str, str], document: Any, loc: list[Any], type_: str
) -> None:
    body = assert_problem(await post(client, auth, document), 422)
    assert [(e["loc"], e["type"]) for e in body["errors"]] == [(loc, type_)]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"]
)
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, content_type: str | None
) -> None:
    headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
    response = await client.post("/v1/calls", content=json.dumps({"calls": [make_call()]}), headers=headers)
    assert_problem(response, 415)


async def test_json_with_utf8_charset_is_fine(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall
) -> None:
    content = json.dumps({"calls": [make_call(output="café ☕")]}, ensure_ascii=False).encode()
    response = await raw_post(client, auth, content, **{"Content-Type": "Application/JSON; charset=UTF-8"})
    assert response.status_code == 202, response.text


async def test_more_records_than_allowed_is_413(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    body = assert_problem(await post(client, auth, {"calls": [make_call()] * 1001}), 413)
    assert "1001 records; at most 1000" in body["detail"]
    assert publisher.events == []
    response = await post(client, auth, {"calls": [make_call(call_id=f"c-{i}") for i in range(1000)]})
    assert response.status_code == 202
    assert len(response.json()["accepted"]) == 1000


class Chunks:
    """A request body that counts how much of it was read."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk, self.count, self.sent = chunk, count, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.sent += len(self.chunk)
            yield self.chunk


LIMIT = 10 * 1024 * 1024


async def test_declared_oversize_is_refused_before_reading(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = Chunks(b" " * 65_536, 200)
    response = await raw_post(client, auth, body, **{"Content-Length": str(LIMIT + 1)})
    assert_problem(response, 413)
    assert body.sent <= 65_536  # at most the chunk the transport had already pulled


async def test_oversize_without_content_length_is_cut_off_while_streaming(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = Chunks(b" " * 1_048_576, 40)
    response = await raw_post(client, auth, body)
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert body.sent <= LIMIT + 2 * 1_048_576


async def test_lying_content_length_does_not_bypass_the_limit(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = Chunks(b" " * 1_048_576, 40)
    assert_problem(await raw_post(client, auth, body, **{"Content-Length": "100"}), 413)


async def test_bad_content_length_is_400(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert_problem(await raw_post(client, auth, Chunks(b"{}", 1), **{"Content-Length": "lots"}), 400)


async def test_a_full_10_mib_batch_is_accepted_quickly(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall
) -> None:
    calls = [make_call(call_id=f"c-{i}", output="z" * 10_150) for i in range(1000)]
    content = json.dumps({"calls": calls}).encode()
    assert LIMIT - 200_000 < len(content) <= LIMIT
    started = time.perf_counter()
    response = await raw_post(client, auth, content)
    assert response.status_code == 202
    assert len(response.json()["accepted"]) == 1000
    assert time.perf_counter() - started < 10
    assert_problem(await raw_post(client, auth, content + b" " * (LIMIT - len(content) + 1)), 413)


# --- authentication ----------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer llmops_not_a_key"}, {"X-API-Key": "nope"}])
async def test_missing_or_unknown_key_is_401_before_the_body_is_read(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/v1/calls", content=b"not json", headers={"Content-Type": "text/plain", **headers})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_role_without_calls_write_is_403(
    client: httpx.AsyncClient, keys: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    response = await post(client, {"Authorization": f"Bearer {keys['reader']}"}, {"calls": [make_call()]})
    assert "calls:write" in assert_problem(response, 403)["detail"]
    assert publisher.events == []


# --- Kafka unavailable ---------------------------------------------------------------------------------


async def test_publish_failure_is_503_with_retry_after_and_nothing_accepted(
    client: httpx.AsyncClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    before = records_counter("accepted", "ok"), records_counter("rejected", "unavailable")
    publisher.failure = KafkaConnectionError("broker down")
    response = await post(client, auth, {"calls": [make_call(), {"nope": 1}]})
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == "5"
    assert body["accepted"] == []
    assert [(r["index"], r["call_id"]) for r in body["not_accepted"]] == [(0, "call-0001")]
    assert [r["index"] for r in body["rejected"]] == [1]
    assert records_counter("accepted", "ok") == before[0]
    assert records_counter("rejected", "unavailable") == before[1] + 1


BIG = "x" * 200_000
"""An output that makes a record ~200 kB: two fit one publish chunk (see ``publishing.CHUNK_BYTES``)."""


def lose_acknowledgements(failing: set[str]) -> Hook:
    """After a publish was stored: fail it if it holds one of ``failing``, as when Kafka stored a batch but its
    acknowledgement never came back."""

    async def after(batch: list[EncodedEvent]) -> None:
        if call_ids(batch) & failing:
            raise KafkaConnectionError("acknowledgement lost")

    return after


async def test_a_partly_published_batch_says_which_records_were_accepted_and_a_retry_stores_each_once(
    make_client: MakeClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    calls = [
        make_call(call_id="c-0", output=BIG),
        make_call(drop=("call_id",), output=BIG),
        make_call(call_id="c-2", output=BIG),
        {"not": "a call"},
        make_call(drop=("call_id",), output=BIG + "y"),
    ]
    failing = {"c-2"}
    async with make_client(publisher=HookedPublisher(publisher, after=lose_acknowledgements(failing))) as client:
        response = await post(client, auth, {"calls": calls})
        body = assert_problem(response, 503)
        accepted, not_accepted = body["accepted"], body["not_accepted"]
        assert [(r["index"], r["call_id"]) for r in accepted] == [(0, "c-0"), (1, accepted[1]["call_id"])]
        assert [(r["index"], r["call_id"]) for r in not_accepted] == [(2, "c-2"), (4, not_accepted[1]["call_id"])]
        assert [r["index"] for r in body["rejected"]] == [3]
        assert "2 of the 4 valid records" in body["detail"]

        failing.clear()
        retry = await post(client, auth, {"calls": calls})
    assert retry.status_code == 202, retry.text
    first_ids = [r["event_id"] for r in body["accepted"] + body["not_accepted"]]
    assert sorted(first_ids) == sorted(r["event_id"] for r in retry.json()["accepted"])
    # Kafka now holds some records twice, each time under the same event id: stored once after dedup.
    assert len(publisher.events) > 4
    assert {e.id for e in publisher.events} == set(first_ids)


async def hang(_: list[EncodedEvent]) -> None:
    await asyncio.Event().wait()


async def test_publish_timeout_is_503(
    make_client: MakeClient, auth: dict[str, str], make_call: MakeCall, publisher: InMemoryPublisher
) -> None:
    settings = IngestSettings(publish_timeout_s=0.05, retry_after_s=7)
    async with make_client(settings, publisher=HookedPublisher(publisher, before=hang)) as client:
        response = await post(client, auth, {"calls": [make_call()]})
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == "7"
    assert (body["accepted"], [r["call_id"] for r in body["not_accepted"]]) == ([], ["call-0001"])


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Yield to the app until ``condition`` holds; fail (not hang) after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_key_over_its_in_flight_limit_gets_429_before_any_work(
    make_client: MakeClient,
    auth: dict[str, str],
    keys: dict[str, str],
    make_call: MakeCall,
    publisher: InMemoryPublisher,
) -> None:
    release, entered = asyncio.Event(), []

    async def gate(batch: list[EncodedEvent]) -> None:
        entered.append(batch)
        await release.wait()

    gated = HookedPublisher(publisher, before=gate)
    async with make_client(IngestSettings(max_in_flight_per_key=1), publisher=gated) as client:
        held = asyncio.create_task(post(client, auth, {"calls": [make_call()]}))
        await until(lambda: len(entered) == 1)
        over = await post(client, auth, {"calls": [make_call(call_id="c-2")]})
        other_key = asyncio.create_task(post(client, {"X-API-Key": keys["ingest"]}, {"calls": [make_call()]}))
        await until(lambda: len(entered) == 2)
        release.set()
        assert (await held).status_code == 202
        assert (await other_key).status_code == 202
    body = assert_problem(over, 429)
    assert over.headers["retry-after"] == "1"
    assert "at most 1 batches" in body["detail"]
    assert len(entered) == 2  # the refused request never reached the publisher


# --- probes and documentation ------------------------------------------------------------------------


async def test_readiness_follows_the_injected_check(
    publisher: InMemoryPublisher, key_store: Any, auth: dict[str, str]
) -> None:
    app = create_app(IngestSettings(), ports=IngestPorts(publisher=publisher, api_keys=key_store, ready=publisher.ping))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client,
    ):
        assert (await client.get("/readyz", headers=auth)).json() == {"ready": True, "checks": {"publisher": True}}
        assert (await client.get("/readyz")).json() == {"ready": True}  # details need a key
        publisher.failure = KafkaConnectionError("broker down")
        assert (await client.get("/readyz")).status_code == 503


async def test_openapi_documents_the_body_and_every_answer(make_client: MakeClient) -> None:
    async with make_client(IngestSettings(max_batch_records=250)) as client:
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/calls"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["calls"]["maxItems"] == 250
    record = document["components"]["schemas"]["CallRecordIn"]
    assert "call_id" not in record["required"]
    assert set(record["properties"]) == set(CallRecorded.model_fields)
    assert {"202", "400", "401", "403", "413", "415", "422", "503"} <= set(operation["responses"])
    assert "5 minutes in the future" in operation["description"]
    assert "ChatMessage" in document["components"]["schemas"]


def test_the_accepted_answer_is_written_as_json_response_writes_it() -> None:
    """msgspec writes the 202 body (docs/adr/0060): byte for byte what JSONResponse wrote, non-ASCII included."""
    content = {
        "accepted": [{"index": 0, "call_id": "c-1", "event_id": "0190a0b0-0000-7000-8000-000000000000"}],
        "rejected": [
            {"index": 1, "errors": [{"loc": ["messages", 0, "content"], "msg": 'é " \n \u2028 😀', "type": "x"}]}
        ],
    }
    answer = accepted_response(content)
    assert (answer.status_code, answer.media_type) == (202, "application/json")
    assert answer.body == JSONResponse(content, 202).body
