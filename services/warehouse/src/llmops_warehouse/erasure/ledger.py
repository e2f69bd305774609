"""The erasure ledger in memory: what each tenant had erased, consulted on every insert.

Loaded from ClickHouse at start (``erasure_ledger`` and ``erased_calls``, migration 0019) and kept in step by
the eraser. A tenant without erasures costs one dict lookup per event: the ingest path does not move. For a
tenant with erasures, a row is dropped when it refers to an erased call, or when a subject it names was erased
and the row is from before the erasure's cutoff (the data that existed when it was processed, replays
included); later rows of a returning subject are new data and kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from llmops_warehouse.erasure.subjects import SubjectDigester, candidates

__all__ = ["Ledger", "LedgerEntry", "Refs", "TenantLedger"]


@dataclass(frozen=True)
class LedgerEntry:
    """One processed request: the subject as a digest, the cutoff, and the receipt as it was published."""

    tenant_id: str
    request_id: str
    subject_type: str
    subject_digest: str
    cutoff: datetime
    receipt_id: str
    counts: dict[str, int]
    purge_deadline: datetime
    completed_at: datetime


@dataclass(frozen=True)
class Refs:
    """What one row says about subjects: its time, the calls it refers to, its identifiers and texts."""

    time_ms: int
    call_ids: tuple[str, ...] = ()
    identifiers: dict[str, str | None] = field(default_factory=dict)
    metadata: tuple[str, ...] = ()
    text: Callable[[], str] | None = None
    """The row's texts, computed only when the tenant has hashed-id erasures."""


@dataclass
class TenantLedger:
    """One tenant's erasures: (subject type, digest) -> (cutoff in ms, request id); the erased call ids."""

    subjects: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    calls: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    """The subject types erased (only these are digested on insert)."""


class Ledger:
    """Every tenant's :class:`TenantLedger`; ``digest`` keys the subjects as the persisted ledger does."""

    def __init__(self, digest: SubjectDigester) -> None:
        self.digest = digest
        self._tenants: dict[str, TenantLedger] = {}

    def __bool__(self) -> bool:
        return bool(self._tenants)

    def tenant(self, tenant_id: str) -> TenantLedger | None:
        """The tenant's ledger, or None when it has no erasures (the common case)."""
        return self._tenants.get(tenant_id)

    def add(self, entry: LedgerEntry, call_ids: Iterable[str] = ()) -> None:
        """Remember a processed request (and the calls it erased)."""
        book = self._tenants.setdefault(entry.tenant_id, TenantLedger())
        cutoff_ms = int(entry.cutoff.timestamp() * 1000)
        book.subjects[(entry.subject_type, entry.subject_digest)] = (cutoff_ms, entry.request_id)
        book.types.add(entry.subject_type)
        book.calls.update(call_ids)

    def add_calls(self, tenant_id: str, call_ids: Iterable[str]) -> None:
        """Calls erased after the request was processed (they arrived late, from before its cutoff)."""
        self._tenants.setdefault(tenant_id, TenantLedger()).calls.update(call_ids)

    def erased_by(self, tenant_id: str, refs: Refs) -> str | None:
        """Why a row must not be stored: the request id that erased a subject it names (before that request's
        cutoff), '' when it refers to an erased call; None to keep it."""
        book = self._tenants.get(tenant_id)
        if book is None:
            return None
        if any(call_id in book.calls for call_id in refs.call_ids if call_id):
            return ""
        return self._subject_match(tenant_id, book, refs)

    def _subject_match(self, tenant_id: str, book: TenantLedger, refs: Refs) -> str | None:
        for subject_type, value in self._candidates(book, refs):
            hit = book.subjects.get((subject_type, self.digest(tenant_id, subject_type, value)))
            if hit is not None and refs.time_ms <= hit[0]:
                return hit[1]
        return None

    @staticmethod
    def _candidates(book: TenantLedger, refs: Refs) -> Iterator[tuple[str, str]]:
        types = book.types
        text = refs.text() if refs.text is not None and "hashed_id" in types else None
        return candidates(refs.identifiers, refs.metadata, text, types=types)
