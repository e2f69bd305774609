"""Experiments: A/B tests, canaries and shadow deployments over models and prompt versions.

Definitions live in the compacted topic ``llmops.experiments``; each gateway replica materialises it
(:class:`~llmops_inference.experiments.store.ExperimentStore` fed by ``ExperimentMaterializer``). The gateway
calls :func:`~llmops_inference.experiments.resolve.choose_variant` per request; the HTTP API is in :mod:`.router`.
"""

from llmops_inference.experiments.errors import (
    ExperimentConflict,
    ExperimentError,
    ExperimentsUnavailable,
    InvalidExperiment,
    UnknownExperiment,
)
from llmops_inference.experiments.model import AssignedVariant, Assignment, ExperimentChange, ExperimentDraft
from llmops_inference.experiments.publisher import ExperimentPublisher
from llmops_inference.experiments.resolve import choose_variant
from llmops_inference.experiments.service import ExperimentRegistry
from llmops_inference.experiments.store import ExperimentMaterializer, ExperimentStore

__all__ = [
    "AssignedVariant",
    "Assignment",
    "ExperimentChange",
    "ExperimentConflict",
    "ExperimentDraft",
    "ExperimentError",
    "ExperimentMaterializer",
    "ExperimentPublisher",
    "ExperimentRegistry",
    "ExperimentStore",
    "ExperimentsUnavailable",
    "InvalidExperiment",
    "UnknownExperiment",
    "choose_variant",
]
