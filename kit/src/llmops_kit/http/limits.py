"""At most N requests in flight per API key: the next one is answered 429 with ``Retry-After`` at once.

One key's burst of expensive requests (searches, large batches) must not occupy every worker a service has,
so the bound is checked before any work is done and nothing waits in a queue::

    app.state.query_limiter = InFlightLimiter(limit=4)

    @router.get("/v1/search")
    async def search(principal: Annotated[Principal, Depends(requires_within("calls:read", "query_limiter"))]): ...

The slot is held until the route's response has been produced (FastAPI closes a ``yield`` dependency then).
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency's annotation, which names a
# closure variable, as an object rather than as a string it would resolve against module globals.
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from llmops_kit.auth import Permission, Principal, requires

__all__ = ["InFlightLimiter", "requires_within"]


class InFlightLimiter:
    """Counts requests in flight per key; :meth:`slot` refuses one over ``limit`` with 429."""

    def __init__(self, limit: int, *, retry_after_s: int = 1, what: str = "requests") -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.what = what
        self._in_flight: dict[str, int] = {}

    def in_flight(self, key: str) -> int:
        """How many requests of ``key`` hold a slot now."""
        return self._in_flight.get(key, 0)

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        """Hold one of ``key``'s slots for the block; 429 when all are taken (no await: no race on the count)."""
        held = self._in_flight.get(key, 0)
        if held >= self.limit:
            raise HTTPException(
                429,
                f"at most {self.limit} {self.what} may run at once per API key; retry when one has finished",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self._in_flight[key] = held + 1
        try:
            yield
        finally:
            remaining = self._in_flight[key] - 1
            if remaining:
                self._in_flight[key] = remaining
            else:
                del self._in_flight[key]


def requires_within(permission: Permission, limiter_attr: str) -> Callable[..., AsyncIterator[Principal]]:
    """:func:`requires` plus one slot of the :class:`InFlightLimiter` at ``app.state.<limiter_attr>``.

    The caller is authenticated first, so an unauthenticated flood is answered 401 and takes no one's slot.
    A service started without that limiter serves without the bound (unit tests that do not need it).
    """

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(requires(permission))]
    ) -> AsyncIterator[Principal]:
        limiter = getattr(request.app.state, limiter_attr, None)
        if not isinstance(limiter, InFlightLimiter):
            yield principal
            return
        with limiter.slot(principal.key_id):
            yield principal

    return dependency
