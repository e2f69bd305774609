"""Where the CLI finds the platform: flags, then environment, then the local `llmops up` state, then defaults."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_INGEST_URL",
    "DEFAULT_WAREHOUSE_URL",
    "CliConfig",
    "data_dir",
    "load_config",
    "read_credentials",
    "read_running_state",
]

DEFAULT_INGEST_URL = "http://127.0.0.1:8001"
DEFAULT_WAREHOUSE_URL = "http://127.0.0.1:8002"
CREDENTIALS_FILE = "credentials.json"
STATE_FILE = "up.json"


def data_dir() -> Path:
    """The local platform's state: ``LLMOPS_DATA_DIR`` or ``./.data``."""
    return Path(os.environ.get("LLMOPS_DATA_DIR", ".data")).resolve()


@dataclass(frozen=True)
class CliConfig:
    ingest_url: str
    warehouse_url: str
    api_key: str | None


def load_config(ingest_url: str | None, warehouse_url: str | None, api_key: str | None) -> CliConfig:
    """Resolve each setting on its own: flag > env > the local `llmops up` files > default.

    The local files live in :func:`data_dir`: ``credentials.json`` (the development ``writer`` key) and
    ``up.json`` (the URLs of an `llmops up` that is running right now, so custom ports need no flags).
    """
    state = read_running_state(data_dir()) or {}
    return CliConfig(
        ingest_url=ingest_url or os.environ.get("LLMOPS_INGEST_URL") or state.get("ingest_url") or DEFAULT_INGEST_URL,
        warehouse_url=warehouse_url
        or os.environ.get("LLMOPS_WAREHOUSE_URL")
        or state.get("warehouse_url")
        or DEFAULT_WAREHOUSE_URL,
        api_key=api_key or os.environ.get("LLMOPS_API_KEY") or read_credentials(data_dir()).get("writer"),
    )


def read_credentials(directory: Path) -> dict[str, str]:
    """The development keys `llmops up` wrote (role -> key); empty when there are none."""
    return {k: str(v) for k, v in _read_json(directory / CREDENTIALS_FILE).items() if isinstance(v, str)}


def read_running_state(directory: Path) -> dict[str, Any] | None:
    """``up.json`` of an `llmops up` whose process is still alive; None when none is running."""
    state = _read_json(directory / STATE_FILE)
    pid = state.get("pid")
    return state if isinstance(pid, int) and pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
