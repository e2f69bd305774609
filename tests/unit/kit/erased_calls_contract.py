"""The behaviour every ErasedCalls port must have, as one suite run against the fake and the real client.

Subclass :class:`ErasedCallsContract` and provide ``calls`` (the port) and ``seed`` (``seed(tenant, request_id,
call_ids)`` makes the warehouse have erased those calls for the request). test_erased_calls.py runs it on
:class:`tests.unit.kit.fake_erased_calls.FakeErasedCalls` and on the kit's ``WarehouseReader.erased_calls``. The
warehouse's route (``GET /v1/erasures/{request_id}/calls``) is built on another branch at the same time: until it
is merged, the real client's side runs over ``httpx.MockTransport`` speaking the route's agreed contract
(docs/governance.md#erasure-in-review-queues-and-datasets); once it is, add a run against the warehouse's app.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from llmops_kit.erasure import ErasedCalls

Seed = Callable[[str, str, list[str]], None]


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


async def every_call(calls: ErasedCalls, tenant_id: str, request_id: str, limit: int) -> list[list[str]]:
    """The pages of the request's erased calls, read with ``limit`` per page."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await calls.erased_calls(tenant_id, request_id, cursor=cursor, limit=limit)
        assert page is not None
        pages.append(page.call_ids)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


class ErasedCallsContract:
    async def test_a_request_not_processed_is_none(self, calls: ErasedCalls) -> None:
        assert await calls.erased_calls(tenant(), "never-seen") is None

    async def test_pages_hold_every_call_once(self, calls: ErasedCalls, seed: Seed) -> None:
        mine = tenant()
        ids = [f"call-{n:03d}" for n in range(7)]
        seed(mine, "req-1", ids)
        pages = await every_call(calls, mine, "req-1", limit=3)
        assert [len(p) for p in pages] == [3, 3, 1]
        assert sorted(c for p in pages for c in p) == ids

    async def test_a_subject_with_no_call_is_one_empty_page(self, calls: ErasedCalls, seed: Seed) -> None:
        mine = tenant()
        seed(mine, "req-empty", [])
        assert await every_call(calls, mine, "req-empty", limit=10) == [[]]

    async def test_scoped_to_the_tenant(self, calls: ErasedCalls, seed: Seed) -> None:
        mine, other = tenant(), tenant()
        seed(mine, "req-2", ["call-a"])
        assert await calls.erased_calls(other, "req-2") is None

    async def test_request_ids_with_any_identifier_character(self, calls: ErasedCalls, seed: Seed) -> None:
        mine = tenant()
        seed(mine, "gdpr/2026:12@x", ["call-b"])
        assert await every_call(calls, mine, "gdpr/2026:12@x", limit=10) == [["call-b"]]
