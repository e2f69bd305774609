"""Concrete implementations of :mod:`llmops_feedback.ports` (the Kafka producer and its fake come from the kit)."""

from llmops_feedback.adapters.rate_limit import WindowedSubmissionLimit

__all__ = ["WindowedSubmissionLimit"]
