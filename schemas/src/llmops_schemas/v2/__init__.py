"""Version 2 of the payloads whose contract changed incompatibly; every other type is still at v1."""

from llmops_schemas.v2.alerting import AlertRuleConfigured
from llmops_schemas.v2.alerts import AlertStateChanged, NotificationQueued
from llmops_schemas.v2.audit import AuditRecorded
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
from llmops_schemas.v2.cost import CostRecorded
from llmops_schemas.v2.drift import DriftReference, DriftReported, FeatureDrift, JudgeDrift, JudgeMetricDrift
from llmops_schemas.v2.erasure import ErasureProcessed, ErasureRequested
from llmops_schemas.v2.evaluation import EvaluationScored, EvaluatorRef, ScoreItem
from llmops_schemas.v2.feedback import FeedbackReceived
from llmops_schemas.v2.governance import PolicyPublished
from llmops_schemas.v2.request import RequestSummary, ResponseFormat, ToolChoice, ToolDefinition

PAYLOADS = (
    CallRecorded, CostRecorded, DriftReported, EvaluationScored, FeedbackReceived, AlertStateChanged,
    NotificationQueued, AuditRecorded, ErasureRequested, ErasureProcessed, AlertRuleConfigured, PolicyPublished,
)  # fmt: skip
"""Every v2 payload class, one per event type."""

__all__ = [
    "PAYLOADS",
    "AlertRuleConfigured",
    "AlertStateChanged",
    "AuditRecorded",
    "CallRecorded",
    "ChatMessage",
    "Choice",
    "ContentPart",
    "CostRecorded",
    "DriftReference",
    "DriftReported",
    "ErasureProcessed",
    "ErasureRequested",
    "EvaluationScored",
    "EvaluatorRef",
    "FeatureDrift",
    "FeedbackReceived",
    "FunctionCall",
    "JudgeDrift",
    "JudgeMetricDrift",
    "MediaRef",
    "NotificationQueued",
    "PolicyPublished",
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
