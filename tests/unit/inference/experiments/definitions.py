"""Experiment definitions the tests start from (API bodies)."""

from __future__ import annotations

from typing import Any

AB: dict[str, Any] = {
    "experiment_id": "exp-mini-vs-4o",
    "name": "gpt-4o-mini vs gpt-4o",
    "app": "support-bot",
    "kind": "ab",
    "control": "mini",
    "variants": [
        {"name": "mini", "weight": 0.7, "model": "gpt-4o-mini"},
        {"name": "full", "weight": 0.2, "model": "gpt-4o"},
        {"name": "local", "weight": 0.1, "model": "llama-3-8b"},
    ],
}
CANARY: dict[str, Any] = {
    "experiment_id": "canary-v3",
    "name": "support-answer v3 canary",
    "app": "support-bot",
    "kind": "canary",
    "control": "v2",
    "variants": [
        {"name": "v2", "weight": 0.95, "prompt": {"name": "support-answer", "version": 2}},
        {"name": "v3", "weight": 0.05, "prompt": {"name": "support-answer", "version": 3}},
    ],
}
SHADOW: dict[str, Any] = {
    "experiment_id": "shadow-llama",
    "name": "llama in the shadow of mini",
    "app": "support-bot",
    "kind": "shadow",
    "control": "mini",
    "variants": [
        {"name": "mini", "weight": 0.75, "model": "gpt-4o-mini"},
        {"name": "llama", "weight": 0.25, "model": "llama-3-8b"},
    ],
}
