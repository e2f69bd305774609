"""The ``calls`` columns built from the derived struct are the ones built from the pydantic event, value for value.

The insert reads the struct (llmops_warehouse.call_events); before, it read the pydantic event with pydantic's own
methods and serialisations. :data:`PYDANTIC_EXTRACTS` are those former expressions: every event below, the
examples and a thousand generated variants, must give identical columns both ways.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from llmops_schemas import v1, v2
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import to_struct
from llmops_schemas.v1.examples import example_data
from llmops_warehouse.call_columns import CALL_COLUMNS, CALL_INSERT_COLUMNS, call_values
from llmops_warehouse.models import epoch_ms
from pydantic import ValidationError

from tests.unit.schemas.fastcodec_diff import mutations

PYDANTIC_EXTRACTS = {
    "message_roles": "[m.role for m in d.messages]",
    "message_names": "[m.name or '' for m in d.messages]",
    "message_tool_call_ids": "[m.tool_call_id or '' for m in d.messages]",
    "message_contents": "[m.text() for m in d.messages]",
    "message_parts": "['' if isinstance(m.content, str) else m.model_dump_json(include={'content'})"
    " for m in d.messages]",
    "message_tool_calls": "['' if m.tool_calls is None else m.model_dump_json(include={'tool_calls'})"
    " for m in d.messages]",
    "tool_arguments": "d.tool_arguments()",
    "output": "d.output",
    "finish_reason": "d.finish_reason or ''",
    "choice_details": "['' if c.model_fields_set <= {'output', 'finish_reason'} else "
    "c.model_dump_json(exclude={'output', 'finish_reason'}, exclude_none=True) for c in d.choices]",
    "parameters": "(d.parameters.model_dump_json(exclude_defaults=True) if d.parameters.model_fields_set else '{}')",
    "request": "'' if d.request is None else d.request.model_dump_json(exclude_none=True)",
}
"""The extract expressions of the columns that read the pydantic event through pydantic-only methods, and those of
the message arrays, which the store makes in one pass (``m``)."""


def _pydantic_values(event: CloudEvent[v2.CallRecorded]) -> list[Any]:
    values = []
    for column in CALL_COLUMNS:
        if column.extract is None:
            continue
        expression = PYDANTIC_EXTRACTS.get(column.name, column.extract)
        values.append(eval(expression, {"epoch_ms": epoch_ms, "e": event, "d": event.data}))  # test constants
    return values


def _events() -> list[CloudEvent[v2.CallRecorded]]:
    documents = [example_data(v2.CallRecorded)]
    documents += [json.loads(raw) for raw in mutations(example_data(v2.CallRecorded), 2500, seed=11)]
    documents += [
        {**example_data(v2.CallRecorded), "parameters": {"temperature": 1e-7, "extra": {"n": 1e16, "s": "é\u2028"}}},
        {**example_data(v2.CallRecorded), "parameters": {"temperature": None}},
        {**example_data(v2.CallRecorded), "choices": [], "request": {"n": 1, "tools": [{"name": "f", "strict": None}]}},
    ]
    events = []
    for document in documents:
        try:
            payload = v2.CallRecorded.model_validate(document)
        except (ValidationError, ValueError, TypeError):
            continue
        events.append(CloudEvent.wrap(payload, source="/tests", tenant_id="acme", key_id="key-1"))
    old = v1.CallRecorded.model_validate(example_data(v1.CallRecorded))
    events.append(CloudEvent.wrap(v2.CallRecorded.from_v1(old), source="/tests", tenant_id="acme"))
    return events


EVENTS = _events()


def test_enough_events_are_compared() -> None:
    assert len(EVENTS) > 300


@pytest.mark.parametrize("batch", range(0, len(EVENTS), 100))
def test_the_struct_gives_the_columns_the_pydantic_event_gave(batch: int) -> None:
    events = EVENTS[batch : batch + 100]
    expected = [list(column) for column in zip(*map(_pydantic_values, events), strict=True)]
    from_structs = call_values([to_struct(event) for event in events])
    for name, want, got in zip(CALL_INSERT_COLUMNS[1:], expected, from_structs, strict=True):
        if name == "choice_details":  # an explicitly null detail gave '{}'; the struct cannot tell it from absent
            want = [["" if details == "{}" else details for details in row] for row in want]
        assert got == want, name
    assert call_values(events) == from_structs  # pydantic events are converted at the boundary
