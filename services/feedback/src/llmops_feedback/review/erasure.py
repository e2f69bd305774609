"""What erasure finds in the feedback service's compacted state (docs/adr/0044, docs/governance.md).

Review items hold subject data: each is one call under review, with what reviewers said about it (comments,
corrected answers). An item is matched by its call, or by an e-mail address or a keyed hash found in its
reviews' text; a user or session id is matched through the calls the warehouse erased for it. Review queues
hold a filter and labels, no subject data (a ``dataset`` queue's ``call_ids`` parameter names calls by id only).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from llmops_kit.erasure import Held, names_subject
from llmops_schemas.v1 import ReviewItemUpdated
from llmops_schemas.v2.erasure import ErasureSubjectType

from llmops_feedback.review.state import ReviewState

__all__ = ["ReviewErasure"]

STORE = "review_items"


def _texts(item: ReviewItemUpdated) -> Iterator[str]:
    if item.reason:
        yield item.reason
    for review in item.reviews:
        yield from (text for text in (review.comment, review.correction) if text)


class ReviewErasure:
    """The :class:`~llmops_kit.erasure.ErasableState` of the review topics."""

    stores: tuple[str, ...] = (STORE,)

    def __init__(self, state: ReviewState) -> None:
        self._state = state

    @property
    def caught_up(self) -> bool:
        return self._state.caught_up

    def holding_subject(self, tenant: str, subject_type: ErasureSubjectType, value: str) -> list[Held]:
        items = self._state.tenant_items(tenant)
        return self._held(tenant, (i for i in items if names_subject(subject_type, value, i.call_id, _texts(i))))

    def holding_calls(self, tenant: str, call_ids: frozenset[str]) -> list[Held]:
        return self._held(tenant, (i for i in self._state.tenant_items(tenant) if i.call_id in call_ids))

    def forget(self, tenant: str, held: Sequence[Held]) -> None:
        for record in held:
            self._state.items_view.delete(record.key)

    @staticmethod
    def _held(tenant: str, items: Iterable[ReviewItemUpdated]) -> list[Held]:
        return [Held(STORE, ReviewItemUpdated.topic, f"{tenant}:{item.entity_key()}") for item in items]
