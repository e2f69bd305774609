"""A queue's progress (items by state, reviews given) and the agreement between its reviewers.

**Agreement** is Cohen's kappa (statsmodels' ``cohens_kappa``) over the items reviewed at least twice:
for each such item, the first review's answer against the second's, for each answer kind both gave (verdict,
label, rating). Kappa compares two raters; with more reviewers than two per queue the pairs are "first
reviewer of the item" against "second", which is the usual reading when reviewers rotate. With fewer than
two items, or when every answer is the same (kappa is undefined), it is ``None``, with the count that says why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from llmops_schemas.v1 import Review, ReviewItemUpdated

from llmops_feedback.review.rules import lock_live

__all__ = ["Agreement", "Progress", "agreement", "progress"]

ANSWERS = ("verdict", "label", "rating")


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a queue is: items open (locked or not), done, and reviews given against reviews wanted."""

    items: int
    open: int
    locked: int
    done: int
    reviews: int
    reviews_wanted: int

    @property
    def fraction_done(self) -> float:
        return self.reviews / self.reviews_wanted if self.reviews_wanted else 1.0


@dataclass(frozen=True, slots=True)
class Agreement:
    """Cohen's kappa of one answer kind over the items two reviewers answered; ``None`` when undefined."""

    answer: str
    items: int
    kappa: float | None
    observed: float | None
    """The share of those items where both gave the same answer."""


def progress(items: Iterable[ReviewItemUpdated], reviews_per_item: int, now: datetime) -> Progress:
    """Count ``items`` by state."""
    counts = {"items": 0, "open": 0, "locked": 0, "done": 0, "reviews": 0}
    for item in items:
        counts["items"] += 1
        counts["reviews"] += len(item.reviews)
        if item.status == "done":
            counts["done"] += 1
        elif lock_live(item, now):
            counts["locked"] += 1
        else:
            counts["open"] += 1
    return Progress(**counts, reviews_wanted=counts["items"] * reviews_per_item)


def _pairs(items: Iterable[ReviewItemUpdated], answer: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        given: list[Review] = item.reviews
        if len(given) >= 2:
            first, second = getattr(given[0], answer), getattr(given[1], answer)
            if first is not None and second is not None:
                pairs.append((str(first), str(second)))
    return pairs


def _kappa(pairs: list[tuple[str, str]]) -> float | None:
    # Imported when agreement is first asked for: statsmodels imports pandas, seconds of every service start.
    from statsmodels.stats.inter_rater import cohens_kappa

    if len(pairs) < 2 or len({value for pair in pairs for value in pair}) < 2:
        return None
    categories = {value: index for index, value in enumerate(sorted({v for pair in pairs for v in pair}))}
    table = np.zeros((len(categories), len(categories)))
    for first, second in pairs:
        table[categories[first], categories[second]] += 1
    kappa = float(cohens_kappa(table).kappa)
    return None if math.isnan(kappa) else round(kappa, 4)


def agreement(items: Iterable[ReviewItemUpdated]) -> list[Agreement]:
    """Kappa per answer kind that at least one item has from two reviewers."""
    held = list(items)
    found = []
    for answer in ANSWERS:
        pairs = _pairs(held, answer)
        if pairs:
            observed = sum(a == b for a, b in pairs) / len(pairs)
            found.append(Agreement(answer, len(pairs), _kappa(pairs), round(observed, 4)))
    return found
