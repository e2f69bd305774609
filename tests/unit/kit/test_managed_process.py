"""ManagedProcess.stop leaves nothing of the process group behind (a service's own children included)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from llmops_kit.infra.process import ManagedProcess


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stop_waits_for_children_that_outlive_the_leader(tmp_path: Path) -> None:
    """The leader exits on SIGTERM at once; its child needs a moment (like tritonserver under PyTriton)."""
    script = "(trap 'sleep 0.7; exit 0' TERM; while :; do sleep 0.05; done) & child=$!; trap 'exit 0' TERM; wait"
    process = ManagedProcess("family", ["bash", "-c", script], log_path=tmp_path / "family.log")
    process.start()
    time.sleep(0.3)
    assert process.pid is not None and group_alive(process.pid)

    started = time.monotonic()
    assert process.stop(timeout_s=10) == 0

    assert not group_alive(process.pid)
    assert time.monotonic() - started >= 0.5  # it really waited for the child


def test_stop_kills_children_that_ignore_sigterm_at_the_deadline(tmp_path: Path) -> None:
    script = "(trap '' TERM; while :; do sleep 0.05; done) & trap 'exit 0' TERM; wait"
    process = ManagedProcess("stubborn", ["bash", "-c", script], log_path=tmp_path / "stubborn.log")
    process.start()
    time.sleep(0.3)

    started = time.monotonic()
    process.stop(timeout_s=1)

    assert process.pid is not None and not group_alive(process.pid)
    assert time.monotonic() - started < 8


def test_start_after_a_crash_reports_the_signal_and_clears_what_the_old_leader_left(tmp_path: Path) -> None:
    """The leader alone is killed (its child holds on, as tritonserver would to its ports): a restart kills it."""
    child = tmp_path / "child.pid"
    script = f"(while :; do sleep 0.05; done) & echo $! > {child}; wait"
    process = ManagedProcess("crashy", ["bash", "-c", script], log_path=tmp_path / "crashy.log")
    process.start()
    old = process.pid
    assert old is not None
    deadline = time.monotonic() + 10
    while not child.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(old, signal.SIGKILL)
    while process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.returncode == -signal.SIGKILL and group_alive(old)  # the child outlived its leader

    process.start()

    assert not group_alive(old)
    assert process.pid != old and process.alive() and process.returncode is None
    process.stop(timeout_s=5)
