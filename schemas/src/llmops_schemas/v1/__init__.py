"""Version 1 of the platform's event payloads."""

from llmops_schemas.v1.calls import (
    CallError,
    CallParameters,
    CallRecorded,
    ChatMessage,
    ExperimentRef,
    TokenUsage,
)
from llmops_schemas.v1.common import PromptRef

__all__ = [
    "CallError",
    "CallParameters",
    "CallRecorded",
    "ChatMessage",
    "ExperimentRef",
    "PromptRef",
    "TokenUsage",
]
