"""``llmops-warehouse`` serves with its settings' interpreter tuning (docs/adr/0071)."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_warehouse.entrypoints import main as entrypoint


def _served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    served: dict[str, Any] = {}
    monkeypatch.setattr(entrypoint, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(entrypoint, "use_spool_dir", lambda *args, **kwargs: None)
    monkeypatch.setattr(entrypoint, "create_app", lambda settings: "app")
    monkeypatch.setattr(entrypoint, "serve", lambda app, host, port, **kwargs: served.update(kwargs, app=app))
    entrypoint.main()
    return served


def test_the_warehouse_hands_its_interpreter_lock_over_every_20_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAREHOUSE_SWITCH_INTERVAL_MS", raising=False)
    served = _served(monkeypatch)
    assert served["switch_interval_s"] == pytest.approx(0.02)
    assert served["gc_thresholds"] == entrypoint.GC_THRESHOLDS


def test_the_switch_interval_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_SWITCH_INTERVAL_MS", "5")
    assert _served(monkeypatch)["switch_interval_s"] == pytest.approx(0.005)


@pytest.mark.parametrize("value", ["0", "101"])
def test_a_switch_interval_out_of_bounds_fails_the_start(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WAREHOUSE_SWITCH_INTERVAL_MS", value)
    with pytest.raises(ValueError, match="switch_interval_ms"):
        _served(monkeypatch)
