"""Redacting recorded calls in a process of its own, off the interpreter lock that serves requests (ADR 0068).

The gateway answers every request on one thread; a redaction thread beside it takes that thread's lock for the
length of each scan (about 100 µs a call, more for long texts), and at 16 concurrent requests the requests
queue behind it. Here the gateway serialises each event (as its producer would anyway) and hands the batch's
bytes, with the policies in force for its tenants, to a helper process (``concurrent.futures``, ``spawn``),
which parses, redacts and serialises them again: it sends back new bytes for a changed event, nothing for an
unchanged one (most), the blocked types for a refused one. Kafka and the spool still only ever see the result.

What waits for the helper is bounded: the drain sends one batch after the other (at most the recorder's batch
size), and the spill of a full buffer's overflow one batch of it (within the overflow's bounds). When the helper
dies or fails a batch, that batch is redacted in a thread of the gateway's process instead (counted in
``llmops_inference_redaction_fallbacks_total``), and so are the batches of the next ``retry_after_s`` (a helper
that cannot start is not tried for every batch); then a new helper starts. An event is never lost or stored
unredacted because of the helper. Before ``start`` and after ``stop`` batches are redacted in a thread too (events
recorded before the start, the shutdown's last batches).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from llmops_kit.kafka.publisher import EncodedEvent
from llmops_pii.policy import PiiPolicy
from llmops_pii.redact import PiiBlocked
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import CallRecorded

from llmops_inference.metrics import REDACTION_FALLBACKS
from llmops_inference.recording.redaction import Event, EventRedactor, PolicyOf, Redacted

__all__ = ["ProcessRedaction", "redact_values"]

log = logging.getLogger(__name__)
Outcome = bytes | list[str] | None
"""What the helper returns for one event: its redacted bytes, the types that block it, or None (unchanged)."""


def redact_values(policies: dict[str, PiiPolicy], values: list[bytes]) -> list[Outcome]:
    """In the helper: each serialised call event with its tenant's policy (from ``policies``) applied."""
    redactor = EventRedactor(policies.__getitem__)
    outcomes: list[Outcome] = []
    for value in values:
        event = parse_event(value, upcast_to_latest=False, expect=CallRecorded)
        try:
            redacted = redactor(event)
        except PiiBlocked as exc:  # its types, not the exception: PiiBlocked does not survive pickling as it is
            outcomes.append(exc.types)
            continue
        outcomes.append(None if redacted is event else redacted.to_json_bytes())
    return outcomes


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the gateway stops the helper itself, after its last batches.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ready() -> None:
    """Run first, at ``start``: the helper is up, and has imported the engine, before the first batch."""


class ProcessRedaction:
    """A :class:`~llmops_inference.recording.redaction.BatchRedaction` whose scans run in a helper process."""

    def __init__(
        self, policy_of: PolicyOf, *, retry_after_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy_of = policy_of
        self._in_thread = EventRedactor(policy_of)
        self._pool: ProcessPoolExecutor | None = None
        self._started = False
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._helper_from = 0.0
        """``clock()`` from which batches go to a helper again after a failure."""

    async def start(self) -> None:
        self._started = True
        try:
            self._running_pool().submit(_ready).add_done_callback(_ignore_outcome)  # a later failure: first batch
        except Exception as exc:  # the gateway starts anyway: its batches are redacted in a thread meanwhile
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        REDACTION_FALLBACKS.inc()
        log.warning(
            "the redaction process failed (%s): redacting in a thread for %gs, then in a new process",
            type(exc).__name__,
            self._retry_after_s,
        )
        self._helper_from = self._clock() + self._retry_after_s
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def stop(self) -> None:
        self._started = False
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def redact(self, events: Sequence[Event]) -> list[Redacted]:
        if not self._started:
            return await asyncio.to_thread(self._in_thread.encode, events)
        if self._clock() < self._helper_from:
            REDACTION_FALLBACKS.inc()
            return await asyncio.to_thread(self._in_thread.encode, events)
        encoded = [EncodedEvent.of(event) for event in events]
        policies = {tenant: self._policy_of(tenant) for tenant in {event.tenant_id for event in events}}
        try:
            submitted = self._running_pool().submit(redact_values, policies, [e.value for e in encoded])
            outcomes = await asyncio.wrap_future(submitted)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the type only (in _failed): a parse error's message may quote the call's text
            self._failed(exc)
            return await asyncio.to_thread(self._in_thread.encode, events)
        return [_merge(e, outcome) for e, outcome in zip(encoded, outcomes, strict=True)]

    def _running_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # not fork: the gateway runs threads and an event loop
            self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=_ignore_interrupts)
        return self._pool


def _ignore_outcome(future: Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so that it is not reported as never retrieved


def _merge(encoded: EncodedEvent, outcome: Outcome) -> Redacted:
    if outcome is None:
        return encoded
    if isinstance(outcome, list):
        return PiiBlocked(outcome)
    return encoded._replace(value=outcome)
