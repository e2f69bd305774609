"""Version 2 of the payloads whose contract changed incompatibly; every other type is still at v1."""

from llmops_schemas.v2.call_parts import (
    ChatMessage,
    Choice,
    ContentPart,
    FunctionCall,
    MediaRef,
    TextPart,
    TokenLogprob,
    TokenUsage,
    ToolCall,
    TopLogprob,
)
from llmops_schemas.v2.calls import CallRecorded
from llmops_schemas.v2.drift import DriftReference, DriftReported, FeatureDrift
from llmops_schemas.v2.evaluation import EvaluationScored, EvaluatorRef, ScoreItem
from llmops_schemas.v2.feedback import FeedbackReceived
from llmops_schemas.v2.request import RequestSummary, ResponseFormat, ToolChoice, ToolDefinition

PAYLOADS = (CallRecorded, DriftReported, EvaluationScored, FeedbackReceived)
"""Every v2 payload class, one per event type."""

__all__ = [
    "PAYLOADS",
    "CallRecorded",
    "ChatMessage",
    "Choice",
    "ContentPart",
    "DriftReference",
    "DriftReported",
    "EvaluationScored",
    "EvaluatorRef",
    "FeatureDrift",
    "FeedbackReceived",
    "FunctionCall",
    "MediaRef",
    "RequestSummary",
    "ResponseFormat",
    "ScoreItem",
    "TextPart",
    "TokenLogprob",
    "TokenUsage",
    "ToolCall",
    "ToolChoice",
    "ToolDefinition",
    "TopLogprob",
]
