"""Window arithmetic and the windows table's keys: which windows a call falls in, when one is closed."""

from __future__ import annotations

from llmops_drift_detection.features import Scope
from llmops_drift_detection.windows import Windowing, WindowKey

SCOPE = Scope("acme", "support-bot", "production", "gpt-4o-mini", "greeting", 3)


def test_a_tumbling_window_holds_each_call_once() -> None:
    windows = Windowing(600, None, 10)

    assert windows.starts(1200.0) == [1200.0]
    assert windows.starts(1799.99) == [1200.0]  # faust's ranges end 0.1 s early; the window's own end counts


def test_a_sliding_window_holds_a_call_in_size_over_step_windows() -> None:
    assert Windowing(600, 300, 10).starts(1250.0) == [900.0, 1200.0]


def test_a_window_closes_after_its_end_and_grace() -> None:
    windows = Windowing(600, None, 10)

    assert not windows.closed(1200.0, 1809.0)
    assert windows.closed(1200.0, 1810.0)


def test_a_key_round_trips_whatever_the_names_hold() -> None:
    scope = Scope('t"1', "app|x", "prod", "m/1")
    key = WindowKey(scope, 60.0, "3:1200")

    assert WindowKey.decode(key.encode()) == key
