"""Where commands find the platform: flag > environment > the `llmops up` files in the data dir > default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from tests.unit.cli.conftest import FakePlatform

Invoke = Callable[..., Result]


def _used(fake: FakePlatform) -> tuple[str, str | None]:
    request = fake.requests[-1]
    return f"{request.url.scheme}://{request.url.netloc.decode()}", request.headers.get("authorization")


@pytest.fixture
def credentials(data_dir: Path) -> Path:
    path = data_dir / "credentials.json"
    path.write_text(json.dumps({"admin": "file-admin", "writer": "file-writer", "reader": "file-reader"}))
    return path


def test_without_flags_or_env_the_writer_key_of_llmops_up_and_the_default_url(
    invoke: Invoke, fake: FakePlatform, credentials: Path
) -> None:
    assert invoke("calls").exit_code == 0
    assert _used(fake) == ("http://127.0.0.1:8002", "Bearer file-writer")


def test_environment_beats_the_credentials_file(invoke: Invoke, fake: FakePlatform, credentials: Path) -> None:
    env = {"LLMOPS_API_KEY": "env-key", "LLMOPS_WAREHOUSE_URL": "http://env-host:9002"}
    assert invoke("calls", env=env).exit_code == 0
    assert _used(fake) == ("http://env-host:9002", "Bearer env-key")


def test_flags_beat_the_environment(invoke: Invoke, fake: FakePlatform, credentials: Path) -> None:
    env = {"LLMOPS_API_KEY": "env-key", "LLMOPS_WAREHOUSE_URL": "http://env-host:9002"}
    result = invoke("calls", "--api-key", "flag-key", "--warehouse-url", "http://flag-host:7002", env=env)
    assert result.exit_code == 0
    assert _used(fake) == ("http://flag-host:7002", "Bearer flag-key")


def test_send_uses_the_ingest_url_the_same_way(
    invoke: Invoke, fake: FakePlatform, credentials: Path, tmp_path: Path
) -> None:
    file = tmp_path / "one.jsonl"
    file.write_text("{}\n")
    invoke("send", str(file), env={"LLMOPS_INGEST_URL": "http://env-ingest:9001"})
    assert _used(fake) == ("http://env-ingest:9001", "Bearer file-writer")
    invoke("send", str(file), "--ingest-url", "http://flag-ingest:7001", env={"LLMOPS_INGEST_URL": "http://x:1"})
    assert _used(fake)[0] == "http://flag-ingest:7001"


def test_no_key_anywhere_sends_no_authorization(invoke: Invoke, fake: FakePlatform) -> None:
    assert invoke("calls").exit_code == 0
    assert _used(fake) == ("http://127.0.0.1:8002", None)


def test_a_running_llmops_up_supplies_its_urls(invoke: Invoke, fake: FakePlatform, data_dir: Path) -> None:
    state = {"pid": os.getpid(), "ingest_url": "http://127.0.0.1:18001", "warehouse_url": "http://127.0.0.1:18002"}
    (data_dir / "up.json").write_text(json.dumps(state))

    assert invoke("metrics").exit_code == 0
    assert _used(fake)[0] == "http://127.0.0.1:18002"
    assert invoke("metrics", env={"LLMOPS_WAREHOUSE_URL": "http://env-host:9002"}).exit_code == 0
    assert _used(fake)[0] == "http://env-host:9002"


def test_the_urls_of_an_llmops_up_that_is_gone_are_ignored(invoke: Invoke, fake: FakePlatform, data_dir: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state = {"pid": int(gone.stdout), "warehouse_url": "http://127.0.0.1:18002"}
    (data_dir / "up.json").write_text(json.dumps(state))

    assert invoke("metrics").exit_code == 0
    assert _used(fake)[0] == "http://127.0.0.1:8002"
