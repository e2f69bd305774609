"""``benchkit.cpu_seconds_by_thread``: the per-thread CPU table of ``bench_ingest.py`` reads /proc correctly."""

from __future__ import annotations

import os
import threading
import time

import benchkit


def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))


def test_threads_are_summed_by_name_and_a_busy_one_shows_up() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=_spin, args=(stop,))
    before = benchkit.cpu_seconds_by_thread([os.getpid()])
    worker.start()
    deadline = time.monotonic() + 30
    try:
        # Wait for the condition (the spinning thread's CPU shows up), not for a fixed time; read while it runs,
        # since a finished thread leaves /proc/<pid>/task and its CPU with it.
        while (during := benchkit.cpu_seconds_by_thread([os.getpid()])) and time.monotonic() < deadline:
            if sum(during.values()) - sum(before.values()) >= 0.05:
                break
            threading.Event().wait(0.01)
    finally:
        stop.set()
        worker.join()
    assert sum(during.values()) - sum(before.values()) >= 0.05
    # Python threads keep the process's name: one key for this process's threads.
    assert set(during) == set(before)


def test_a_process_that_is_gone_counts_nothing() -> None:
    assert benchkit.cpu_seconds_by_thread([2**22 + 12345]) == {}
