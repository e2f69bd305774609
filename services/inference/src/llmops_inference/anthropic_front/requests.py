"""An Anthropic Messages request as the gateway's OpenAI-format chat request (the table is in docs/inference.md).

* ``system`` becomes a first ``system`` message (its blocks as text parts), as does a ``system`` message of the
  list where it stands;
* a user turn's ``tool_result`` blocks become ``tool`` messages (before the turn's other blocks, as OpenAI
  wants tool results right after the assistant's calls), ``is_error`` a ``[tool error]`` prefix of the result;
* an assistant turn's ``tool_use`` blocks become its ``tool_calls`` (``input`` as a JSON string);
* images become ``image_url`` parts (base64 as a ``data:`` URL);
* ``stop_sequences`` -> ``stop``, ``metadata.user_id`` -> ``user``, ``tool_choice`` ``any`` -> ``required``,
  ``disable_parallel_tool_use`` -> ``parallel_tool_calls: false``; ``top_k`` is sent as ``top_k`` (what
  vLLM and other OpenAI-compatible servers read; a backend that cannot do it refuses the call naming it);
* ``output_config.format`` -> a strict ``json_schema`` ``response_format``, ``output_config.effort`` ->
  ``reasoning_effort``;
* a stream always asks for usage (``stream_options.include_usage``): Anthropic's ``message_delta`` carries it.

The result is validated by :class:`ChatCompletionRequest` like a body sent to ``/v1/chat/completions``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from llmops_inference.anthropic_front.models import (
    AnthropicContentBlock,
    AnthropicImageBlock,
    AnthropicMessageIn,
    AnthropicOutputConfig,
    AnthropicTextBlock,
    AnthropicToolChoice,
    AnthropicToolResultBlock,
    AnthropicToolSpec,
    AnthropicToolUseBlock,
    MessagesRequest,
)
from llmops_inference.api_models import CHAIN_FIELD, PROMPT_FIELD, ChatCompletionRequest
from llmops_inference.errors import GatewayError, from_validation

__all__ = ["ERROR_PREFIX", "Translated", "to_chat_request"]

ERROR_PREFIX = "[tool error] "
"""Put before a ``tool_result`` with ``is_error: true``: OpenAI's tool messages have no such flag."""
Message = dict[str, Any]
Sourced = tuple[Message, str]
"""A translated message and where it came from in the Anthropic request (``system``, ``messages.2``...)."""
_MESSAGE = re.compile(r"^messages\.(\d+)\b")


@dataclass(frozen=True, slots=True)
class Translated:
    """The chat request to run, and for each of its messages the part of the Anthropic request it came from."""

    request: ChatCompletionRequest
    origins: tuple[str, ...]

    def locate(self, error: GatewayError) -> GatewayError:
        """``error`` (a refusal naming a message of the chat request) pointing at the caller's own field too."""
        return _located(error, self.origins)


def to_chat_request(request: MessagesRequest) -> Translated:
    """The chat request to run; 400 naming the Anthropic field when a part of it cannot be translated."""
    sourced = _system(request.system) + _turns(request.messages)
    rendered = request.prompt is not None or request.chain is not None  # rendered messages come first: unknown
    origins = () if rendered else tuple(origin for _, origin in sourced)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [message for message, _ in sourced],
        "stream": request.stream,
    }
    _sampling(request, body)
    _tools(request, body)
    _output(request.output_config, body)
    if request.user() is not None:
        body["user"] = request.user()
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    for name, value in ((PROMPT_FIELD, request.prompt), (CHAIN_FIELD, request.chain)):
        if value is not None:
            body[name] = value
    try:
        return Translated(ChatCompletionRequest.model_validate(body), origins)
    except ValidationError as exc:
        refused = from_validation(exc)
        message = f"{refused.message} (in the translated chat request)"
        error = GatewayError(400, message, param=refused.param, code=refused.code)
        raise _located(error, origins) from None


def _located(error: GatewayError, origins: tuple[str, ...]) -> GatewayError:
    found = _MESSAGE.match(error.param or "") if error.status < 500 else None
    index = int(found.group(1)) if found else -1
    if not 0 <= index < len(origins) or origins[index] == f"messages.{index}":
        return error
    message = f"{error.message} (messages.{index} of the translated chat request is {origins[index]})"
    return GatewayError(error.status, message, param=error.param, code=error.code, retry_after=error.retry_after)


def _system(system: str | list[AnthropicTextBlock] | None) -> list[Sourced]:
    if system is None or system == []:
        return []
    if isinstance(system, str):
        return [({"role": "system", "content": system}, "system")]
    return [({"role": "system", "content": [_text(block) for block in system]}, "system")]


def _turns(messages: list[AnthropicMessageIn]) -> list[Sourced]:
    out: list[Sourced] = []
    for index, message in enumerate(messages):
        blocks, origin = message.content, f"messages.{index}"
        if isinstance(blocks, str):
            out.append(({"role": message.role, "content": blocks}, origin))
        elif message.role == "system":
            out.append(({"role": "system", "content": [_text(block) for block in _texts(blocks, index)]}, origin))
        elif message.role == "assistant":
            out.append((_assistant(blocks, index), origin))
        else:
            out.extend(_user(blocks, index))
    return out


def _texts(blocks: list[AnthropicContentBlock], index: int) -> list[AnthropicTextBlock]:
    for position, block in enumerate(blocks):
        if not isinstance(block, AnthropicTextBlock):
            raise _refused(
                f"messages.{index}.content.{position}", f"a system message cannot hold '{block.type}' blocks"
            )
    return blocks  # type: ignore[return-value]  # all text, checked above


def _assistant(blocks: list[AnthropicContentBlock], index: int) -> Message:
    texts: list[str] = []
    calls: list[Message] = []
    for position, block in enumerate(blocks):
        if isinstance(block, AnthropicTextBlock):
            texts.append(block.text)
        elif isinstance(block, AnthropicToolUseBlock):
            arguments = json.dumps(block.input, ensure_ascii=False, separators=(",", ":"))
            calls.append({"id": block.id, "type": "function", "function": {"name": block.name, "arguments": arguments}})
        else:
            raise _refused(
                f"messages.{index}.content.{position}", f"an assistant turn cannot hold '{block.type}' blocks"
            )
    translated: Message = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        translated["tool_calls"] = calls
    return translated


def _user(blocks: list[AnthropicContentBlock], index: int) -> list[Sourced]:
    """Tool results first (each a ``tool`` message), then the turn's text and images as one user message."""
    results: list[Sourced] = []
    parts: list[Message] = []
    for position, block in enumerate(blocks):
        if isinstance(block, AnthropicToolResultBlock):
            origin = f"messages.{index}.content.{position}"
            results.append((_tool_result(block, origin), origin))
        elif isinstance(block, AnthropicTextBlock):
            parts.append(_text(block))
        elif isinstance(block, AnthropicImageBlock):
            parts.append(_image(block))
        else:
            raise _refused(f"messages.{index}.content.{position}", "a user turn cannot hold 'tool_use' blocks")
    return results + ([({"role": "user", "content": parts}, f"messages.{index}")] if parts else [])


def _tool_result(block: AnthropicToolResultBlock, param: str) -> Message:
    if isinstance(block.content, str):
        text = block.content
    else:
        for position, part in enumerate(block.content):
            if isinstance(part, AnthropicImageBlock):
                raise _refused(f"{param}.content.{position}", "images in tool results cannot be translated")
        text = "".join(part.text for part in block.content if isinstance(part, AnthropicTextBlock))
    content = ERROR_PREFIX + text if block.is_error else text
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": content}


def _text(block: AnthropicTextBlock) -> Message:
    return {"type": "text", "text": block.text}


def _image(block: AnthropicImageBlock) -> Message:
    source = block.source
    url = source.url if source.type == "url" else f"data:{source.media_type};base64,{source.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _sampling(request: MessagesRequest, body: dict[str, Any]) -> None:
    for name in ("temperature", "top_p", "top_k"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop_sequences:
        body["stop"] = list(request.stop_sequences)


def _tools(request: MessagesRequest, body: dict[str, Any]) -> None:
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    choice = request.tool_choice
    if choice is None:
        return
    body["tool_choice"] = _tool_choice(choice)
    if choice.disable_parallel_tool_use and request.tools and choice.type != "none":
        body["parallel_tool_calls"] = False


def _output(config: AnthropicOutputConfig | None, body: dict[str, Any]) -> None:
    """``format`` as a strict ``json_schema`` response format (Anthropic's structured outputs always follow
    the schema), ``effort`` as ``reasoning_effort`` (``max`` has no equivalent)."""
    if config is None:
        return
    if config.format is not None:
        spec = {"name": "output", "schema": config.format.schema_, "strict": True}
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    if config.effort == "max":
        raise _refused("output_config.effort", "'max' has no equivalent in the OpenAI format (low to xhigh)")
    if config.effort is not None:
        body["reasoning_effort"] = config.effort


def _tool(tool: AnthropicToolSpec) -> Message:
    function: Message = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: AnthropicToolChoice) -> str | Message:
    if choice.type == "tool":
        if choice.name is None:
            raise GatewayError(
                400, "tool_choice.name: required when tool_choice.type is 'tool'", param="tool_choice.name"
            )
        return {"type": "function", "function": {"name": choice.name}}
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type]


def _refused(param: str, message: str) -> GatewayError:
    return GatewayError(400, f"{param}: {message}", param=param, code="unsupported")
