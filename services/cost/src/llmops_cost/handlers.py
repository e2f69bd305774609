"""Cost per call: every recorded call becomes one ``llmops.cost.recorded.v2``, priced or explicitly unpriced.

The cost event's id is a UUIDv5 of the tenant and the call id, and its envelope time is the call's start: a
call priced twice (a redelivery after a crash, a replay, the same call ingested twice) is the same event, which
the warehouse stores once (docs/adr/0037). An unknown model is recorded as ``unpriced`` with the reason and
counted (``llmops_cost_unpriced_total``), never priced by a guess.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from llmops_kit.audit import identifier
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v2 import CostRecorded

from llmops_cost.metrics import COSTS, UNPRICED
from llmops_cost.prices import Price, PriceBook, Usage, cost_of
from llmops_cost.tokens import TokenCounter

__all__ = ["COST_NAMESPACE", "CallEvent", "Pricer", "cost_event_id", "price_calls"]

COST_NAMESPACE = uuid.UUID("5d1f3c1e-8b8a-4f57-9d55-0c6f2f0b7c21")
_AMOUNT_LIMIT = 10**18


class CallEvent(Protocol):
    """A ``call.recorded.v2`` event as the pricer reads it: the struct derived from the contract (the hot path)
    or a pydantic ``CloudEvent``; both have these attributes, and ``data`` is the call with the contract's."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def key_id(self) -> str | None: ...
    @property
    def trace_id(self) -> str | None: ...
    @property
    def data(self) -> Any: ...


def _text(message: Any) -> str:
    """A message's text (``ChatMessage.text()``, for the struct too): the string, or its text parts."""
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    return "\n".join(part.text for part in content if getattr(part, "type", None) == "text")


def cost_event_id(tenant: str, call_id: str) -> str:
    """The one id of a call's cost event, whoever prices it and however often."""
    return str(uuid.uuid5(COST_NAMESPACE, f"{tenant}\x1f{call_id}"))


def _usage(call: Any, model: str, counter: TokenCounter, price: Price | None) -> tuple[Usage, bool]:
    """The call's usage, or an offline count of its messages and outputs (then ``True``: an estimate)."""
    gpu = call.latency_ms / 1000 if price is not None and price.per_gpu_second is not None else None
    if call.usage is not None:
        cached = min(call.usage.cached_prompt_tokens or 0, call.usage.prompt_tokens)
        return Usage(call.usage.prompt_tokens, call.usage.completion_tokens, cached, gpu), False
    prompt = counter.count_chat(model, [_text(m) for m in call.messages])
    completion = sum(counter.count(model, choice.output or "") for choice in call.choices)
    return Usage(prompt, completion, 0, gpu), True


def _grouping(call: Any) -> dict[str, Any]:
    prompt, experiment = call.prompt, call.experiment
    return {
        "prompt_name": prompt.name if prompt else None,
        "prompt_version": prompt.version if prompt else None,
        "experiment_id": experiment.experiment_id if experiment else None,
        "variant": experiment.variant if experiment else None,
    }


def _prices(price: Price, usage: Usage) -> dict[str, Any]:
    return {
        "pricing": "priced",
        "price_source": price.source,
        "catalog_version": price.version[:256],
        "input_price_per_mtok": price.input_per_mtok,
        "output_price_per_mtok": price.output_per_mtok,
        "cached_input_price_per_mtok": price.cached_input_per_mtok,
        "price_per_request": price.per_request,
        "price_per_gpu_second": price.per_gpu_second,
        "cost": cost_of(price, usage),
        "currency": price.currency,
        "price_effective_from": price.effective_from,
    }


@dataclass
class Pricer:
    """Prices calls against the book; ``source`` is the CloudEvents source of the cost events."""

    book: PriceBook
    counter: TokenCounter
    source: str
    clock: Callable[[], datetime]

    trusted: bool = True
    tenants: set[str] = field(default_factory=set)
    """Every tenant priced since the start (the spend anomaly watch examines these)."""
    """Build payloads without re-validating them (see :meth:`_payload`); False validates every one."""

    def _payload(self, **fields: Any) -> CostRecorded:
        """The payload from fields this module derived from a validated call and a validated price.

        Validating them again cost two thirds of the pricing time (pydantic checks each of six decimals' digits
        in Python), so the trusted path constructs the payload; the one amount computed here, ``cost``, is
        checked against the ``Amount`` bound first, and a test compares both paths field by field.
        """
        cost = fields.get("cost")
        if not self.trusted or (cost is not None and cost >= _AMOUNT_LIMIT):
            return CostRecorded(**fields)
        return CostRecorded.model_construct(**fields)

    def price(self, event: CallEvent) -> CloudEvent[CostRecorded]:
        """The cost event of one recorded call."""
        call = event.data
        self.tenants.add(event.tenant_id)
        price = self.book.lookup(event.tenant_id, call.model, call.started_at)
        usage, estimated = _usage(call, call.model, self.counter, price)
        if price is None:
            UNPRICED.labels(reason="unknown_model").inc()
            priced: dict[str, Any] = {"pricing": "unpriced", "unpriced_reason": f"no price for model {call.model!r}"}
        else:
            priced = _prices(price, usage)
        COSTS.labels(pricing=priced["pricing"]).inc()
        payload = self._payload(
            call_id=call.call_id,
            app=call.app,
            environment=call.environment,
            user_id=call.user_id,
            model=call.model,
            provider=call.provider,
            origin=call.origin,
            key_id=identifier(event.key_id) if event.key_id else None,
            prompt_tokens=usage.prompt,
            completion_tokens=usage.completion,
            cached_prompt_tokens=usage.cached,
            tokens_estimated=estimated,
            gpu_seconds=usage.gpu_seconds,
            call_started_at=call.started_at,
            recorded_at=self.clock(),
            **_grouping(call),
            **priced,
        )
        wrapped = CloudEvent.wrap(
            payload,
            source=self.source,
            tenant_id=event.tenant_id,
            event_id=cost_event_id(event.tenant_id, call.call_id),
            subject=call.call_id,
            trace_id=event.trace_id,
            key_id=event.key_id,
        )
        # The call's start, not the pricing instant: a re-priced call keeps its warehouse row and its period.
        return wrapped.model_copy(update={"time": call.started_at})


async def price_calls(calls: Sequence[CallEvent], pricer: Pricer, out: EventPublisher) -> int:
    """Publish the cost of every call of a batch together (the loop commits only after this returns)."""
    events = [pricer.price(call) for call in calls]
    await out.publish_many(events)
    return len(events)
