"""Version 1 of the platform's event payloads, one module per domain."""

from llmops_schemas.v1.alerting import AlertRuleConfigured, NotifierConfigured, ObjectiveConfigured, SilenceSet
from llmops_schemas.v1.alerts import AlertStateChanged
from llmops_schemas.v1.audit import GENESIS_HASH, AuditActor, AuditRecorded, AuditResource
from llmops_schemas.v1.audit_chain import AuditChained, AuditChainHead, AuditDigest
from llmops_schemas.v1.calls import (
    CallError,
    CallParameters,
    CallRecorded,
    ChatMessage,
    ExperimentRef,
    TokenUsage,
)
from llmops_schemas.v1.common import CompactedPayload, PromptRef
from llmops_schemas.v1.cost import (
    BudgetConfigured,
    BudgetScope,
    BudgetStateChanged,
    CostRecorded,
    PricePublished,
)
from llmops_schemas.v1.drift import DriftReported, TimeWindow
from llmops_schemas.v1.erasure import ErasureProcessed, ErasureRequested
from llmops_schemas.v1.evaluation import EvaluationScored, EvaluatorConfigured, EvaluatorRef
from llmops_schemas.v1.experiments import ExperimentConfigured, ExperimentVariant
from llmops_schemas.v1.feedback import FeedbackReceived
from llmops_schemas.v1.governance import (
    PiiPattern,
    PiiRedactionSettings,
    PolicyPublished,
    RbacRoleSettings,
    RetentionSettings,
)
from llmops_schemas.v1.judge_monitors import JudgeMonitorConfigured
from llmops_schemas.v1.keys import ApiKeyStateChanged
from llmops_schemas.v1.prompt_labels import PromptLabelMoved
from llmops_schemas.v1.prompts import PromptMessage, PromptVariable, PromptVersionPublished, PromptVersionRef
from llmops_schemas.v1.replay import PartitionOffsets, ReplayCheckpointed, ReplayEvaluator
from llmops_schemas.v1.review import Review, ReviewItemUpdated, ReviewQueueConfigured
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated, RunUpdated
from llmops_schemas.v1.verdict_policies import VerdictPolicySet

PAYLOADS = (
    CallRecorded,
    EvaluationScored,
    EvaluatorConfigured,
    FeedbackReceived,
    DriftReported,
    CostRecorded,
    BudgetConfigured,
    BudgetStateChanged,
    PricePublished,
    AuditRecorded,
    AlertStateChanged,
    ErasureRequested,
    ErasureProcessed,
    PromptVersionPublished,
    PromptLabelMoved,
    ExperimentConfigured,
    PolicyPublished,
    ReviewQueueConfigured,
    ReviewItemUpdated,
    VerdictPolicySet,
    DatasetExampleAdded,
    DatasetVersionCreated,
    RunUpdated,
    ReplayCheckpointed,
    AlertRuleConfigured,
    ObjectiveConfigured,
    SilenceSet,
    NotifierConfigured,
    AuditChained,
    AuditDigest,
    AuditChainHead,
    ApiKeyStateChanged,
    JudgeMonitorConfigured,
)
"""Every v1 payload class, one per event type."""

__all__ = [
    "GENESIS_HASH",
    "PAYLOADS",
    "AlertRuleConfigured",
    "AlertStateChanged",
    "ApiKeyStateChanged",
    "AuditActor",
    "AuditChainHead",
    "AuditChained",
    "AuditDigest",
    "AuditRecorded",
    "AuditResource",
    "BudgetConfigured",
    "BudgetScope",
    "BudgetStateChanged",
    "CallError",
    "CallParameters",
    "CallRecorded",
    "ChatMessage",
    "CompactedPayload",
    "CostRecorded",
    "DatasetExampleAdded",
    "DatasetVersionCreated",
    "DriftReported",
    "ErasureProcessed",
    "ErasureRequested",
    "EvaluationScored",
    "EvaluatorConfigured",
    "EvaluatorRef",
    "ExperimentConfigured",
    "ExperimentRef",
    "ExperimentVariant",
    "FeedbackReceived",
    "JudgeMonitorConfigured",
    "NotifierConfigured",
    "ObjectiveConfigured",
    "PartitionOffsets",
    "PiiPattern",
    "PiiRedactionSettings",
    "PolicyPublished",
    "PricePublished",
    "PromptLabelMoved",
    "PromptMessage",
    "PromptRef",
    "PromptVariable",
    "PromptVersionPublished",
    "PromptVersionRef",
    "RbacRoleSettings",
    "ReplayCheckpointed",
    "ReplayEvaluator",
    "RetentionSettings",
    "Review",
    "ReviewItemUpdated",
    "ReviewQueueConfigured",
    "RunUpdated",
    "SilenceSet",
    "TimeWindow",
    "TokenUsage",
    "VerdictPolicySet",
]
