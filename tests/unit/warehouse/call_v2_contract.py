"""What every EventStore keeps of ``llmops.call.recorded.v2``: tool calls, content parts, n choices, usage details.

A mixin beside :class:`~tests.unit.warehouse.call_store_contract.EventStoreContract`, run on the in-memory fake
(test_memory_store.py) and on ClickHouse (tests/integration/warehouse/test_clickhouse_store.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import new_uuid7
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v2 import CallRecorded
from llmops_warehouse.models import CallRow
from llmops_warehouse.ports import EventStore

from tests.unit.warehouse.call_store_contract import BASE, all_calls, ids, make_event, new_tenant

__all__ = ["CallV2StoreContract", "agent_call"]


def agent_call(tenant_id: str, **changes: Any) -> CloudEvent[CallRecorded]:
    """The v2 example call (tool call and result, an image, two choices, usage details, the request summary)."""
    data = {**example_data(CallRecorded), "call_id": f"call-{uuid.uuid4().hex}", "started_at": BASE, **changes}
    payload = CallRecorded.model_validate(data)
    return CloudEvent.wrap(payload, source="tests/warehouse", tenant_id=tenant_id, event_id=new_uuid7())


class CallV2StoreContract:
    """Shared behaviour of EventStore implementations for what v2 added to a call."""

    def test_a_v2_call_round_trips_every_field(self, store: EventStore) -> None:
        tenant = new_tenant()
        event = agent_call(tenant)
        store.insert_calls([event])
        stored = store.get_call(tenant, event.data.call_id)
        assert stored is not None
        assert stored == CallRow.from_event(event, ingested_at=stored.ingested_at)
        assert stored.choices == event.data.choices and len(stored.choices) == 2
        assert stored.messages == event.data.messages
        assert stored.usage == event.data.usage and stored.request == event.data.request
        assert (stored.output, stored.finish_reason) == (event.data.choices[0].output, "stop")

    def test_message_shapes_round_trip(self, store: EventStore) -> None:
        tenant = new_tenant()
        tool_call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"q": "\\u00fc"}'}}
        messages = [
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "user", "content": []},
            {"role": "assistant", "content": "let me look", "tool_calls": [tool_call]},
            {"role": "assistant", "tool_calls": []},
            {"role": "assistant"},
            {"role": "tool", "content": [{"type": "text", "text": "result"}], "tool_call_id": "c1"},
        ]
        choices = [
            {"tool_calls": [tool_call], "finish_reason": "tool_calls"},
            {"output": None, "refusal": "no"},
            {"output": ""},
        ]
        event = agent_call(tenant, messages=messages, choices=choices, usage=None, request=None)
        store.insert_calls([event])
        stored = store.get_call(tenant, event.data.call_id)
        assert stored is not None
        assert stored == CallRow.from_event(event, ingested_at=stored.ingested_at)
        assert [m.text() for m in stored.messages] == ["a\nb", "", "let me look", "", "", "result"]

    def test_a_call_without_choices_round_trips(self, store: EventStore) -> None:
        tenant = new_tenant()
        event = make_event(tenant, output=None, status="error")
        store.insert_calls([event])
        stored = store.get_call(tenant, event.data.call_id)
        assert stored is not None and stored.choices == [] and stored.output is None

    def test_text_search_covers_tool_arguments_results_and_every_choice(self, store: EventStore) -> None:
        tenant = new_tenant()
        agent, plain = agent_call(tenant), make_event(tenant, content="nothing to see")
        store.insert_calls([agent, plain])
        for needle in ("A-1042", '"order_id"', "shipped", "expect it tomorrow", "here is the label"):
            assert ids(all_calls(store, tenant, text=needle)) == {agent.id}, needle
        # Tool names and part types are structure, not text.
        assert all_calls(store, tenant, text="track_order") == []
        assert all_calls(store, tenant, text="image/png") == []
