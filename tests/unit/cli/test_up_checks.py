"""`llmops up` refuses to start, before starting anything, when it could only fail or clash."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from llmops_kit.infra import free_port
from typer.testing import Result

Invoke = Callable[..., Result]


@pytest.fixture
def ports() -> dict[str, str]:
    names = ("--kafka-port", "--kafka-controller-port", "--ingest-port", "--warehouse-port")
    chosen: set[int] = set()
    while len(chosen) < len(names):
        chosen.add(free_port())
    return dict(zip(names, map(str, sorted(chosen)), strict=True))


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _args(ports: dict[str, str]) -> list[str]:
    return [item for pair in ports.items() for item in pair]


def test_a_port_in_use_is_named_with_its_option(invoke: Invoke, ports: dict[str, str], listener: int) -> None:
    ports["--ingest-port"] = str(listener)

    result = invoke("up", "--once", *_args(ports))

    assert result.exit_code == 1
    assert f"already in use: --ingest-port {listener}" in result.stdout


def test_the_ports_must_differ(invoke: Invoke, ports: dict[str, str]) -> None:
    ports["--warehouse-port"] = ports["--ingest-port"]

    result = invoke("up", "--once", *_args(ports))

    assert result.exit_code == 1
    assert "the four ports must differ" in result.stdout


def test_a_second_llmops_up_on_the_same_data_dir_is_refused(
    invoke: Invoke, ports: dict[str, str], data_dir: Path
) -> None:
    (data_dir / "up.json").write_text(json.dumps({"pid": os.getpid()}))

    result = invoke("up", "--once", *_args(ports))

    assert result.exit_code == 1
    assert f"another `llmops up` (pid {os.getpid()}) is using {data_dir}" in result.stdout
    assert not (data_dir / "credentials.json").exists()  # nothing was started or created
