"""What a call asked for beyond messages and sampling: tools, tool choice, output format, ``n``, logprobs.

A summary for evaluation and analysis (which tools an agent could call, which schema an answer had to
follow), bounded like the rest of the event: schemas are kept as JSON text up to :data:`MAX_SCHEMA_TEXT`
characters, at most :data:`MAX_TOOLS` tools.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from llmops_schemas.v1.common import MediumText, Name, StrictModel
from llmops_schemas.v2.call_parts import MAX_CHOICES, MAX_SCHEMA_TEXT, MAX_TOOLS, MAX_TOP_LOGPROBS

__all__ = ["RequestSummary", "ResponseFormat", "ToolChoice", "ToolDefinition"]

SchemaText = Annotated[str, StringConstraints(max_length=MAX_SCHEMA_TEXT)]
"""A JSON Schema as JSON text, as the request gave it."""


class ToolDefinition(StrictModel):
    """A tool the model was offered."""

    type: Literal["function"] = "function"
    name: Name
    description: MediumText | None = None
    parameters: SchemaText | None = Field(default=None, description="The parameters' JSON Schema as JSON text")
    strict: bool | None = None


class ToolChoice(StrictModel):
    """Whether and which tool the model had to call (Anthropic's ``any`` is ``required``, ``tool`` is ``function``)."""

    mode: Literal["none", "auto", "required", "function"]
    function: Name | None = Field(default=None, description="The forced function, with mode 'function' only")

    @model_validator(mode="after")
    def _function_names_the_forced_one(self) -> ToolChoice:
        if (self.mode == "function") != (self.function is not None):
            raise ValueError("function is set exactly when mode is 'function'")
        return self


class ResponseFormat(StrictModel):
    """The output format asked for: free text, any JSON object, or JSON following a schema."""

    type: Literal["text", "json_object", "json_schema"]
    name: Name | None = None
    strict: bool | None = None
    json_schema: SchemaText | None = Field(default=None, description="The schema as JSON text (json_schema only)")


class RequestSummary(StrictModel):
    """The request's options that shape the answer beyond the sampling parameters."""

    tools: Annotated[list[ToolDefinition], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    n: int | None = Field(default=None, ge=1, le=MAX_CHOICES)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    stream: bool | None = Field(default=None, description="Whether the answer was streamed")
