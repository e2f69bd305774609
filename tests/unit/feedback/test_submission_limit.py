"""The per-call bound on token submissions: a window per call, and a bound on how many calls are tracked."""

from __future__ import annotations

from llmops_feedback.adapters import WindowedSubmissionLimit

from tests.fixtures.clocks import ManualClock


def test_a_call_gets_limit_submissions_per_window() -> None:
    clock = ManualClock(100.0)
    limit = WindowedSubmissionLimit(2, 60.0, 10, clock=clock)
    assert [limit.admit("acme", "c") for _ in range(2)] == [None, None]
    clock.now += 15
    assert limit.admit("acme", "c") == 45.0
    assert limit.admit("beta", "c") is None  # the same call id of another tenant is another call
    clock.now += 45
    assert limit.admit("acme", "c") is None


def test_it_never_tracks_more_than_max_calls() -> None:
    clock = ManualClock(100.0)
    limit = WindowedSubmissionLimit(5, 60.0, 2, clock=clock)
    assert limit.admit("acme", "a") is None
    clock.now += 10
    assert limit.admit("acme", "b") is None
    assert limit.admit("acme", "c") == 50.0  # full of live windows: refused, not grown
    assert len(limit) == 2
    clock.now += 50  # the first window ends: its slot is free again
    assert limit.admit("acme", "c") is None
    assert len(limit) == 2
