"""The erased-calls contract on the in-memory fake and on the kit's WarehouseReader (over the route's stub)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from llmops_kit.platform_client import PlatformCallError, PlatformClient, WarehouseReader

from tests.unit.kit.erased_calls_contract import ErasedCallsContract, Seed
from tests.unit.kit.fake_erased_calls import ErasedCallsRoute, FakeErasedCalls


class TestFake(ErasedCallsContract):
    @pytest.fixture
    def fake(self) -> FakeErasedCalls:
        return FakeErasedCalls()

    @pytest.fixture
    def calls(self, fake: FakeErasedCalls) -> FakeErasedCalls:
        return fake

    @pytest.fixture
    def seed(self, fake: FakeErasedCalls) -> Seed:
        return fake.seed


class TestWarehouseReader(ErasedCallsContract):
    @pytest.fixture
    def route(self) -> ErasedCallsRoute:
        return ErasedCallsRoute()

    @pytest.fixture
    async def calls(self, route: ErasedCallsRoute) -> AsyncIterator[WarehouseReader]:
        reader = WarehouseReader(
            PlatformClient("warehouse", "http://warehouse", "svc-key", transport=route.transport())
        )
        await reader.start()
        yield reader
        await reader.stop()

    @pytest.fixture
    def seed(self, route: ErasedCallsRoute) -> Seed:
        return route.erased.seed

    async def test_asks_with_the_service_key_for_the_tenant(
        self, calls: WarehouseReader, route: ErasedCallsRoute
    ) -> None:
        route.erased.seed("t1", "req-1", ["call-1"])
        await calls.erased_calls("t1", "req-1", limit=50)
        (request,) = route.requests
        assert request.headers["Authorization"] == "Bearer svc-key"
        assert request.headers["X-LLMOps-Tenant"] == "t1"
        assert request.url.params["limit"] == "50"

    async def test_a_refusal_is_raised(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            return httpx.Response(403, json={"detail": "role 'service' may not read it"})

        client = PlatformClient("warehouse", "http://warehouse", "k", transport=httpx.MockTransport(refuse))
        reader = WarehouseReader(client)
        await reader.start()
        with pytest.raises(PlatformCallError) as raised:
            await reader.erased_calls("t1", "req-1")
        await reader.stop()
        assert raised.value.status == 403
