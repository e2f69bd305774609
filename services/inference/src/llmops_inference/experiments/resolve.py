"""What the gateway calls per request to route it through a running experiment (pure, no I/O).

``choose_variant`` never fails a call: while the store is still loading, or when no running experiment
takes the call, it returns ``None`` and the call goes where it would have gone anyway.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from llmops_inference.experiments.model import AssignedVariant, Assignment, assign
from llmops_inference.experiments.store import ExperimentStore

__all__ = ["AssignedVariant", "Assignment", "choose_variant"]


def choose_variant(
    store: ExperimentStore,
    tenant: str,
    model: str | None,
    prompt_name: str | None,
    user_id: str | None,
    session_id: str | None,
    *,
    app: str | None = None,
    now: datetime | None = None,
    draw: Callable[[], float] = random.random,
) -> Assignment | None:
    """The variant (and shadow copy, for a shadow experiment) of the running experiment that takes this call.

    The call is the experiment's when its control names the prompt the call names (else the model it asks
    for), and, with ``app`` given, when it belongs to that app. Assignment is sticky by ``user_id``, else
    ``session_id``; with neither, ``draw()`` picks (still by weight). If several running experiments take
    the same call (only possible when two replicas started them at once), the one with the smallest id wins.
    """
    if not store.caught_up:
        return None
    candidates = store.live(tenant, now or datetime.now(UTC), model=model, prompt_name=prompt_name, app=app)
    if not candidates:
        return None
    return assign(candidates[0], user_id=user_id, session_id=session_id, draw=draw)
