"""Where the CLI finds the platform: flags, then environment, then the local `llmops up` state."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CliConfig", "data_dir", "load_config"]


def data_dir() -> Path:
    """The local platform's state: ``LLMOPS_DATA_DIR`` or ``./.data``."""
    return Path(os.environ.get("LLMOPS_DATA_DIR", ".data")).resolve()


@dataclass(frozen=True)
class CliConfig:
    ingest_url: str
    warehouse_url: str
    api_key: str | None


def load_config(ingest_url: str | None, warehouse_url: str | None, api_key: str | None) -> CliConfig:
    """Resolve URLs and the API key; a key from `llmops up`'s credentials file is the last resort."""
    return CliConfig(
        ingest_url=ingest_url or os.environ.get("LLMOPS_INGEST_URL", "http://127.0.0.1:8001"),
        warehouse_url=warehouse_url or os.environ.get("LLMOPS_WAREHOUSE_URL", "http://127.0.0.1:8002"),
        api_key=api_key or os.environ.get("LLMOPS_API_KEY") or _local_key(),
    )


def _local_key() -> str | None:
    path = data_dir() / "credentials.json"
    if not path.is_file():
        return None
    key = json.loads(path.read_text()).get("writer")
    return str(key) if key else None
