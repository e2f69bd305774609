"""The insert check: what each row says about subjects (:class:`Refs`), and dropping what the ledger erased."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from llmops_kit.kafka.consumer import Delivery

from llmops_warehouse.erasure.ledger import Ledger, Refs
from llmops_warehouse.erasure.rules import CALLS, TableRule, rule_for
from llmops_warehouse.erasure.subjects import payload_text
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.handlers import Item
from llmops_warehouse.models import epoch_ms

__all__ = ["LateCall", "refs_of", "screen"]

LateCall = tuple[str, str, str]
"""(tenant, request id, call id) of a call dropped on insert because its subject was erased."""


def refs_of(item: Item) -> tuple[TableRule, Refs] | None:
    """The rule and references of a row, or None for a row that holds nothing about subjects."""
    if not isinstance(item, StoredEvent):
        data = item.data
        identifiers = {name: getter(data) for name, (_, getter) in CALLS.identifiers.items()}
        metadata = tuple((data.metadata or {}).values())
        time_ms = epoch_ms(data.started_at)
        return CALLS, Refs(time_ms, (data.call_id,), identifiers, metadata, partial(payload_text, data))
    rule = rule_for(item.table)
    if rule is None or item.payload is None:
        return None
    payload = item.payload
    call_ids = tuple(getter(payload) or "" for _, getter in rule.call_refs)
    identifiers = {name: getter(payload) for name, (_, getter) in rule.identifiers.items()}
    return rule, Refs(item.time_ms, call_ids, identifiers)


def screen(deliveries: Sequence[Delivery[Item]], ledger: Ledger) -> tuple[list[Delivery[Item]], list[LateCall]]:
    """The deliveries to store, and the calls dropped for an erased subject: rows referring to those are dropped
    too (in this batch already; the caller adds them to the ledger once recorded). A batch of tenants without
    erasures is passed as it is, after one set lookup per tenant."""
    if not ledger or not any(ledger.tenant(t) for t in {d.item.tenant_id for d in deliveries}):
        return list(deliveries), []
    verdicts = [_verdict(ledger, d.item) for d in deliveries]
    late = [
        (item.tenant_id, erased, item.data.call_id)
        for (item, erased) in ((d.item, v[1]) for d, v in zip(deliveries, verdicts, strict=True))
        if erased and not isinstance(item, StoredEvent)
    ]
    late_ids = {(tenant, call_id) for tenant, _, call_id in late}
    kept = [
        d
        for d, (refs, erased) in zip(deliveries, verdicts, strict=True)
        if erased is None and not (late_ids and refs and _refers_to(d.item.tenant_id, refs, late_ids))
    ]
    return kept, late


def _verdict(ledger: Ledger, item: Item) -> tuple[Refs | None, str | None]:
    """The row's references (None: nothing about subjects, or a tenant without erasures) and why it is erased."""
    if ledger.tenant(item.tenant_id) is None:
        return None, None
    found = refs_of(item)
    if found is None:
        return None, None
    return found[1], ledger.erased_by(item.tenant_id, found[1])


def _refers_to(tenant: str, refs: Refs, late_ids: set[tuple[str, str]]) -> bool:
    return any((tenant, call_id) in late_ids for call_id in refs.call_ids)
