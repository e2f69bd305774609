"""The prompt registry: named prompts with immutable versions, movable labels, sandboxed rendering and chains.

State lives in the compacted topic ``llmops.prompts.versions``; each gateway replica materialises it
(:class:`~llmops_inference.prompts.store.PromptStore` fed by ``PromptMaterializer``). What the gateway calls
per request is in :mod:`llmops_inference.prompts.resolve`; the HTTP API in :mod:`.router`.
"""

from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.kafka.materializer import CompactedTopicMaterializer

from llmops_inference.prompts.errors import (
    ChainError,
    InvalidPrompt,
    InvalidSelector,
    LabelHasNoHistory,
    MissingVariables,
    PromptError,
    RegistryUnavailable,
    TemplateError,
    UnknownLabel,
    UnknownPrompt,
    UnknownVersion,
    VersionConflict,
)
from llmops_inference.prompts.publisher import PromptPublisher
from llmops_inference.prompts.resolve import (
    ChainStep,
    Complete,
    PromptChain,
    PromptSelector,
    RenderedPrompt,
    check_chain,
    parse_chain,
    parse_selector,
    resolve_chain,
    resolve_prompt,
)
from llmops_inference.prompts.service import PromptRegistry
from llmops_inference.prompts.store import PromptMaterializer, PromptStore

__all__ = [
    "Actor",
    "AuditTrail",
    "ChainError",
    "ChainStep",
    "CompactedTopicMaterializer",
    "Complete",
    "InvalidPrompt",
    "InvalidSelector",
    "LabelHasNoHistory",
    "MissingVariables",
    "PromptChain",
    "PromptError",
    "PromptMaterializer",
    "PromptPublisher",
    "PromptRegistry",
    "PromptSelector",
    "PromptStore",
    "RegistryUnavailable",
    "RenderedPrompt",
    "TemplateError",
    "UnknownLabel",
    "UnknownPrompt",
    "UnknownVersion",
    "VersionConflict",
    "check_chain",
    "parse_chain",
    "parse_selector",
    "resolve_chain",
    "resolve_prompt",
]
