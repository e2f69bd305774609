"""The cost service's routes against the in-memory publisher: quotes, negotiated prices, reports, bad input."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.warehouse import HistoryRows
from llmops_schemas.v1 import PricePublished
from llmops_schemas.v2 import AuditRecorded

from tests.unit.cost.conftest import auth

PRICE = {
    "model": "gpt-4o-mini", "provider": "openai", "currency": "USD", "effective_from": "2026-03-01T00:00:00Z",
    "input_price_per_mtok": "0.1", "output_price_per_mtok": "0.4",
}  # fmt: skip


async def test_a_quote_is_the_catalog_arithmetic_with_its_version(client: httpx.AsyncClient) -> None:
    params = {"model": "gpt-4o-mini", "prompt_tokens": 1000, "completion_tokens": 500}
    answer = await client.get("/v1/prices/quote", params=params, headers=auth("reader"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert Decimal(body["usd"]) == Decimal("0.00045")
    assert body["price"]["catalog_version"] == "litellm-1.108.7"


async def test_an_unknown_model_is_a_404_that_says_how_models_are_named(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/prices/quote", params={"model": "gpt-9-imaginary"}, headers=auth("reader"))
    assert answer.status_code == 404
    assert "LiteLLM" in answer.json()["detail"]


async def test_a_negotiated_price_is_published_audited_and_used(
    client: httpx.AsyncClient, publisher: InMemoryPublisher
) -> None:
    answer = await client.put("/v1/prices", json=PRICE, headers=auth("admin"))
    assert answer.status_code == 200, answer.text
    assert publisher.of(PricePublished)[0].input_price_per_mtok == Decimal("0.1")
    audit = publisher.of(AuditRecorded)[0]
    assert (audit.action, audit.actor.id) == ("price.set", "admin-id")
    quote = await client.get(
        "/v1/prices/quote", params={"model": "gpt-4o-mini", "prompt_tokens": 1_000_000}, headers=auth("reader")
    )
    assert quote.json()["price"]["source"] == "tenant"
    assert Decimal(quote.json()["usd"]) == Decimal("0.1")
    other = await client.get("/v1/prices", params={"model": "gpt-4o-mini"}, headers=auth("other"))
    assert other.json()["source"] == "catalog"


async def test_setting_a_price_needs_admin(client: httpx.AsyncClient, publisher: InMemoryPublisher) -> None:
    answer = await client.put("/v1/prices", json=PRICE, headers=auth("reader"))
    assert answer.status_code == 403
    assert publisher.published == []


async def test_malformed_prices_are_refused_with_the_reason(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"input_price_per_mtok": "-1"}, "string of digits"),
        ({"input_price_per_mtok": 0.5}, "never a number"),
        ({"currency": None}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"input_price_per_mtok": None, "output_price_per_mtok": None}, "at least one"),
        ({"tenant_id": "globex"}, "tenant_id"),
    ]
    for change, reason in cases:
        body = {k: v for k, v in {**PRICE, **change}.items() if v is not None}
        answer = await client.put("/v1/prices", json=body, headers=auth("admin"))
        assert answer.status_code == 422, (change, answer.text)
        assert reason in answer.text, (change, answer.text)


async def test_kafka_down_is_a_503_and_nothing_applies(client: httpx.AsyncClient, publisher: InMemoryPublisher) -> None:
    publisher.failure = OSError("broker unreachable")
    answer = await client.put("/v1/prices", json=PRICE, headers=auth("admin"))
    assert answer.status_code == 503 and answer.headers["retry-after"]
    quote = await client.get("/v1/prices", params={"model": "gpt-4o-mini"}, headers=auth("reader"))
    assert quote.json()["source"] == "catalog"


class History:
    """Stored cost records of one tenant, as the warehouse's generic read returns them."""

    def __init__(self, rows: list[dict[str, Any]], truncated: bool = False) -> None:
        self.rows, self.truncated = rows, truncated
        self.asked: list[str] = []

    async def read(self, tenant: str, table: str, params: Mapping[str, str], max_rows: int) -> HistoryRows:
        self.asked.append(tenant)
        return HistoryRows(self.rows, self.truncated)


def _row(call: str, model: str, cost: str | None, at: str) -> dict[str, Any]:
    return {"data": {"call_id": call, "model": model, "cost": cost, "call_started_at": at, "prompt_tokens": 10,
                     "completion_tokens": 5}}  # fmt: skip


async def test_a_report_sums_per_period_and_group(make_client: Callable[..., httpx.AsyncClient]) -> None:
    rows = [
        _row("a", "m1", "0.1", "2026-03-01T10:00:00Z"), _row("b", "m1", "0.2", "2026-03-01T23:59:59Z"),
        _row("c", "m2", None, "2026-03-01T12:00:00Z"), _row("d", "m1", "0.3", "2026-03-02T00:00:00Z"),
    ]  # fmt: skip
    history = History(rows)
    async with make_client(history=history) as client:
        params = {"group_by": "model", "period": "day", "start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
        answer = await client.get("/v1/costs/report", params=params, headers=auth("reader"))
    assert answer.status_code == 200, answer.text
    got = [(r["period_start"][:10], r["group"], r["calls"], r["unpriced"], Decimal(r["usd"])) for r in answer.json()]
    assert got == [
        ("2026-03-01", "m1", 2, 0, Decimal("0.3")), ("2026-03-01", "m2", 1, 1, Decimal(0)),
        ("2026-03-02", "m1", 1, 0, Decimal("0.3")),
    ]  # fmt: skip
    assert history.asked == ["acme"]


async def test_a_report_over_its_bound_is_a_413(make_client: Callable[..., httpx.AsyncClient]) -> None:
    async with make_client(history=History([], truncated=True)) as client:
        answer = await client.get("/v1/costs/report", headers=auth("reader"))
    assert answer.status_code == 413


async def test_a_report_without_the_warehouse_is_a_503(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/costs/report", headers=auth("reader"))
    assert answer.status_code == 503


async def test_report_parameters_are_checked(client: httpx.AsyncClient) -> None:
    backwards = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}
    for params in ({"group_by": "colour"}, {"period": "week"}, backwards):
        answer = await client.get("/v1/costs/report", params=params, headers=auth("reader"))
        assert answer.status_code == 422, params


async def test_an_estimate_counts_tokens_offline(client: httpx.AsyncClient) -> None:
    body = {"model": "gpt-4o-mini", "texts": ["hello world", "how are you today?"], "completion_tokens": 100}
    answer = await client.post("/v1/costs/estimate", json=body, headers=auth("reader"))
    assert answer.status_code == 200, answer.text
    estimate = answer.json()
    assert estimate["tokens_estimated"] is True
    assert estimate["completion_tokens"] == 200 and estimate["prompt_tokens"] > 10
    assert Decimal(estimate["usd"]) > 0
