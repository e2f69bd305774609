"""Per-key in-flight limits: the next request over the bound is answered 429 at once, others are unaffected."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, Principal, generate_key, hash_key
from llmops_kit.http.app import Runtime, create_service_app
from llmops_kit.http.limits import InFlightLimiter, requires_within

KEY_A, KEY_B = generate_key(), generate_key()


def build_app(release: asyncio.Event, entered: asyncio.Queue[str]) -> FastAPI:
    async def build_runtime(app: FastAPI) -> Runtime:
        app.state.api_keys = ApiKeyStore(
            [
                ApiKeyRecord(id="a", tenant_id="demo", role="reader", sha256=hash_key(KEY_A)),
                ApiKeyRecord(id="b", tenant_id="demo", role="reader", sha256=hash_key(KEY_B)),
            ]
        )
        app.state.query_limiter = InFlightLimiter(2, retry_after_s=3, what="queries")
        return Runtime()

    app = create_service_app(
        service="limits-test", title="t", description="d", version="0", build_runtime=build_runtime
    )

    @app.get("/slow")
    async def slow(principal: Annotated[Principal, Depends(requires_within("calls:read", "query_limiter"))]) -> str:
        await entered.put(principal.key_id)
        await release.wait()
        return principal.key_id

    return app


async def test_a_key_over_its_bound_gets_429_while_another_key_still_runs() -> None:
    release, entered = asyncio.Event(), asyncio.Queue[str]()
    app = build_app(release, entered)
    async with asyncio.timeout(30), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers_a = {"Authorization": f"Bearer {KEY_A}"}
            held = [asyncio.create_task(client.get("/slow", headers=headers_a)) for _ in range(2)]
            assert {await entered.get(), await entered.get()} == {"a"}

            refused = await client.get("/slow", headers=headers_a)
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "3"
            assert "at most 2 queries" in refused.json()["detail"]

            other = asyncio.create_task(client.get("/slow", headers={"Authorization": f"Bearer {KEY_B}"}))
            assert await entered.get() == "b"
            assert app.state.query_limiter.in_flight("a") == 2

            release.set()
            assert [r.status_code for r in await asyncio.gather(*held, other)] == [200, 200, 200]
            assert app.state.query_limiter.in_flight("a") == 0
            # Slots are given back: the key may run again.
            assert (await client.get("/slow", headers=headers_a)).status_code == 200


async def test_an_unauthenticated_request_takes_no_slot() -> None:
    release, entered = asyncio.Event(), asyncio.Queue[str]()
    app = build_app(release, entered)
    async with asyncio.timeout(30), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/slow")).status_code == 401
            assert app.state.query_limiter._in_flight == {}


def test_the_bound_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InFlightLimiter(0)
