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
    too (in this batch already; the caller adds them to the ledger once recorded). Without any erasure, the
    batch as it is."""
    if not ledger:
        return list(deliveries), []
    late = [call for call in map(partial(_late_call, ledger), deliveries) if call is not None]
    late_ids = {(tenant, call_id) for tenant, _, call_id in late}
    kept = [d for d in deliveries if not _erased(ledger, d.item, late_ids)]
    return kept, late


def _late_call(ledger: Ledger, delivery: Delivery[Item]) -> LateCall | None:
    item = delivery.item
    if isinstance(item, StoredEvent) or ledger.tenant(item.tenant_id) is None:
        return None
    found = refs_of(item)
    erased = ledger.erased_by(item.tenant_id, found[1]) if found else None
    return (item.tenant_id, erased, item.data.call_id) if erased else None


def _erased(ledger: Ledger, item: Item, late_ids: set[tuple[str, str]]) -> bool:
    if ledger.tenant(item.tenant_id) is None:
        return False
    found = refs_of(item)
    if found is None:
        return False
    refs = found[1]
    if late_ids and any((item.tenant_id, call_id) in late_ids for call_id in refs.call_ids):
        return True
    return ledger.erased_by(item.tenant_id, refs) is not None
