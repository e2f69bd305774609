"""A v2 call through a real broker into chDB and back out of the warehouse's HTTP API, found by a tool argument.

The call has what v2 added: an assistant tool call and its tool result, an image reference (size and SHA-256,
no bytes), cached and reasoning tokens, two choices and the request's tools. A v1 call published beside it (a
producer not yet upgraded) is stored as v2 too. The test's tenant is its own, so the shared topic's other
records are neither disturbed nor asserted on.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import calls as v1
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v2 import CallRecorded, MediaRef
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.models import CallQuery

from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.warehouse.call_store_contract import BASE, new_tenant
from tests.unit.warehouse.call_v2_contract import agent_call

pytestmark = pytest.mark.integration

KEY = "llmops_call_v2_reader_key_0000000000000001"


async def stored(store: ConcurrentEventStore, tenant: str, count: int) -> bool:
    return len((await store.list_calls(CallQuery(tenant_id=tenant))).items) >= count


async def test_a_v2_call_is_stored_read_back_and_found_by_a_tool_argument(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = new_tenant()
    agent = agent_call(tenant)
    old = v1.CallRecorded.model_validate({**example_data(v1.CallRecorded), "call_id": "old-1", "started_at": BASE})
    legacy = CloudEvent.wrap(old, source="/services/ingest", tenant_id=tenant)
    clickhouse = ClickHouseEventStore(chdb_client, warehouse_database)
    store = ConcurrentEventStore(clickhouse)
    settings = WarehouseSettings(
        kafka_bootstrap_servers=kafka_bootstrap, consumer_group=f"warehouse-it-{uuid.uuid4().hex[:12]}"
    )
    consumer = build_consumer(settings, store, producer)
    await consumer.start()
    try:
        await producer.publish_many([agent, legacy])
        await wait_until(lambda: stored(store, tenant, 2), "both calls in the warehouse")
    finally:
        await consumer.stop()
        await store.stop()

    keys = ApiKeyStore([ApiKeyRecord(id="r", tenant_id=tenant, role="reader", sha256=hash_key(KEY))])
    app = create_app(WarehouseSettings(api_keys_file=None), ports=WarehousePorts(clickhouse, keys))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warehouse") as client,
    ):
        auth = {"Authorization": f"Bearer {KEY}"}
        found = await client.get("/v1/calls", params={"text": "A-1042"}, headers=auth)
        assert found.status_code == 200, found.text
        [row] = found.json()["items"]
        one = await client.get(f"/v1/calls/{agent.data.call_id}", headers=auth)
        assert one.status_code == 200, one.text
        upcast = (await client.get("/v1/calls/old-1", headers=auth)).json()

    assert row == one.json()
    call = CallRecorded.model_validate({k: v for k, v in row.items() if k in CallRecorded.model_fields})
    assert call == agent.data  # every field, the new ones included
    assistant = call.messages[2]
    assert assistant.tool_calls and assistant.tool_calls[0].function.arguments == '{"order_id": "A-1042"}'
    assert (call.messages[3].role, call.messages[3].tool_call_id) == ("tool", "call_7Yq2")
    image = call.messages[1].content[1]  # type: ignore[index]
    assert isinstance(image, MediaRef) and image.sha256 and image.size_bytes == 48213
    assert call.usage and (call.usage.cached_prompt_tokens, call.usage.reasoning_tokens) == (1024, 12)
    assert len(call.choices) == 2 and call.choices[1].logprobs
    assert row["output"] == call.choices[0].output and row["key_id"] is None
    assert [(c["output"], c["finish_reason"]) for c in upcast["choices"]] == [(old.output, "stop")]
    assert upcast["messages"][0] == {"role": "system", "content": old.messages[0].content} | dict.fromkeys(
        ("name", "tool_call_id", "tool_calls")
    )
