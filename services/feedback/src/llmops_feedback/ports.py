"""What the feedback handlers need from the outside world besides publishing, as small protocols.

Events go out through the kit's :class:`~llmops_kit.kafka.publisher.EventPublisher` (production wires
``EventProducer``, unit tests the kit's ``InMemoryPublisher``); tokens are verified by the kit's
:class:`~llmops_kit.feedback_tokens.FeedbackTokenVerifier`, the same code the gateway signs with.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["SubmissionLimit"]


class SubmissionLimit(Protocol):
    """Bounds how often one call may receive feedback through its token (an end user has no key to limit).

    ``admit`` counts one submission for ``(tenant_id, call_id)`` and returns None when it is allowed, else the
    number of seconds after which the caller may try again. It must never hold more than a bounded number of
    calls: when it is full, it refuses (returns a delay) rather than grow.
    """

    def admit(self, tenant_id: str, call_id: str) -> float | None: ...
