"""``benchkit.cpu_seconds_by_thread``: the per-thread CPU table of ``bench_ingest.py`` reads /proc correctly."""

from __future__ import annotations

import os
import threading

import benchkit


def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))


def test_threads_are_summed_by_name_and_a_busy_one_shows_up() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=_spin, args=(stop,))
    before = benchkit.cpu_seconds_by_thread([os.getpid()])
    worker.start()
    try:
        # Wait for the condition (the spinning thread has used CPU), not for a fixed time.
        while sum(benchkit.cpu_seconds_by_thread([os.getpid()]).values()) - sum(before.values()) < 0.05:
            threading.Event().wait(0.01)
    finally:
        stop.set()
        worker.join()
    after = benchkit.cpu_seconds_by_thread([os.getpid()])
    # Python threads keep the process's name: one key for this process's threads, whose CPU grew.
    assert set(after) == set(before)
    assert sum(after.values()) - sum(before.values()) >= 0.05


def test_a_process_that_is_gone_counts_nothing() -> None:
    assert benchkit.cpu_seconds_by_thread([2**22 + 12345]) == {}
