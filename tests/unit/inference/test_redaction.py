"""The recorded calls' redaction: the contract on both implementations, and the helper process's lifecycle."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal

import pytest
from llmops_inference.recording import redaction_process
from llmops_inference.recording.redaction import InThreadRedaction
from llmops_inference.recording.redaction_process import ProcessRedaction
from llmops_kit.kafka.publisher import EncodedEvent
from llmops_pii.policy import PolicyBook
from prometheus_client import REGISTRY

from tests.unit.inference.redaction_contract import BatchRedactionContract, Factory, call, expected, same


class TestInThreadRedaction(BatchRedactionContract):
    @pytest.fixture
    def redaction(self) -> Factory:
        return lambda book: InThreadRedaction(book.for_tenant)


class TestProcessRedaction(BatchRedactionContract):
    @pytest.fixture
    def redaction(self) -> Factory:
        return lambda book: ProcessRedaction(book.for_tenant)


def fallbacks() -> float:
    return REGISTRY.get_sample_value("llmops_inference_redaction_fallbacks_total") or 0.0


def helpers(besides: set[int] | None = None) -> set[int]:
    """This process's live child processes, less ``besides`` (helpers of other tests may still be exiting)."""
    alive = {child.pid for child in multiprocessing.active_children() if child.pid is not None}
    return alive - (besides or set())


async def wait_for(condition: object, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def start_and_kill_its_helper(redaction: ProcessRedaction, others: set[int]) -> int:
    """Start ``redaction``, let its helper take one batch, SIGKILL it and wait until it is gone; its pid."""
    await redaction.start()
    await redaction.redact([call(1)])
    [helper] = helpers(others)
    os.kill(helper, signal.SIGKILL)
    await wait_for(lambda: helper not in helpers())
    return helper


async def test_the_scan_runs_in_a_helper_process_that_stops_with_it() -> None:
    others = helpers()
    redaction = ProcessRedaction(PolicyBook().for_tenant)
    await redaction.start()
    [got] = await redaction.redact([call(1)])
    started = helpers(others)
    assert len(started) == 1 and all(pid != os.getpid() for pid in started)
    assert isinstance(got, EncodedEvent) and b"[PERSON]" in got.value
    await redaction.stop()
    await wait_for(lambda: not helpers() & started)


async def test_a_killed_helper_costs_one_batch_in_a_thread_and_is_started_again() -> None:
    book, others = PolicyBook(), helpers()
    redaction = ProcessRedaction(book.for_tenant, retry_after_s=0.0)
    first = await start_and_kill_its_helper(redaction, others)
    counted = fallbacks()
    batch = [call(n) for n in range(2, 6)]
    got = await redaction.redact(batch)
    assert all(same(g, expected(book, e)) for g, e in zip(got, batch, strict=True))
    assert fallbacks() == counted + 1
    sixth = call(6)
    again = await redaction.redact([sixth])
    assert same(again[0], expected(book, sixth)) and fallbacks() == counted + 1
    assert helpers(others) and first not in helpers()
    await redaction.stop()


async def test_after_a_failure_batches_stay_in_a_thread_for_a_while_then_a_new_helper_takes_them() -> None:
    book, now, others = PolicyBook(), [100.0], helpers()
    redaction = ProcessRedaction(book.for_tenant, retry_after_s=5.0, clock=lambda: now[0])
    await start_and_kill_its_helper(redaction, others)
    counted = fallbacks()
    await redaction.redact([call(2)])  # the failure
    now[0] += 4.9
    held = [call(3)]
    [got] = await redaction.redact(held)  # within retry_after_s: in a thread, no helper started
    assert same(got, expected(book, held[0])) and fallbacks() == counted + 2 and not helpers(others)
    now[0] += 0.1
    later = [call(4)]
    [got] = await redaction.redact(later)
    assert same(got, expected(book, later[0])) and fallbacks() == counted + 2 and len(helpers(others)) == 1
    await redaction.stop()


async def test_a_helper_that_cannot_start_leaves_the_gateway_starting_and_redacting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_processes(*args: object, **kwargs: object) -> None:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(redaction_process, "ProcessPoolExecutor", no_processes)
    book, counted, others = PolicyBook(), fallbacks(), helpers()
    redaction = ProcessRedaction(book.for_tenant)
    await redaction.start()
    event = call(1)
    [got] = await redaction.redact([event])
    assert same(got, expected(book, event)) and fallbacks() == counted + 2 and not helpers(others)
    await redaction.stop()


async def test_ctrl_c_does_not_stop_the_helper_before_the_gateway_does() -> None:
    others = helpers()
    redaction = ProcessRedaction(PolicyBook().for_tenant)
    await redaction.start()
    await redaction.redact([call(1)])
    [helper] = helpers(others)
    counted = fallbacks()
    os.kill(helper, signal.SIGINT)
    [got] = await redaction.redact([call(2)])
    assert isinstance(got, EncodedEvent) and fallbacks() == counted and helpers(others) == {helper}
    await redaction.stop()
