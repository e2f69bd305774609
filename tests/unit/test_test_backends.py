"""LLMOPS_TEST_BACKEND: which backend the fixtures use, and when a Docker engine counts as answering.

There is no Docker engine where this was written, so the containers themselves are not started here; the
selection is, and the Docker ping against real sockets that answer like one (or do not).
"""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.backends import Backend, docker_answers, select_backend


def _yes() -> bool:
    return True


def _no() -> bool:
    return False


def _never() -> bool:
    raise AssertionError("the local backend must not ping Docker")


@pytest.mark.parametrize("value", [None, "", "local", " LOCAL "])
def test_local_is_the_default_and_needs_nothing(value: str | None) -> None:
    assert select_backend(value, docker=_never, installed=_never) is Backend.LOCAL


@pytest.mark.parametrize(
    ("docker", "installed", "expected"),
    [(_yes, _yes, Backend.TESTCONTAINERS), (_no, _yes, Backend.LOCAL), (_yes, _no, Backend.LOCAL)],
)
def test_auto_picks_testcontainers_only_with_docker_and_the_package(
    docker: Callable[[], bool], installed: Callable[[], bool], expected: Backend
) -> None:
    assert select_backend("auto", docker=docker, installed=installed) is expected


def test_testcontainers_when_both_are_there() -> None:
    assert select_backend("testcontainers", docker=_yes, installed=_yes) is Backend.TESTCONTAINERS


def test_testcontainers_without_the_package_says_how_to_get_it() -> None:
    with pytest.raises(
        pytest.UsageError, match=r"needs the testcontainers package.*uv run --frozen --group containers pytest"
    ):
        select_backend("testcontainers", docker=_yes, installed=_no)


def test_testcontainers_without_docker_names_where_it_looked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")

    with pytest.raises(pytest.UsageError, match=r"needs a Docker engine, and none answers on tcp://127.0.0.1:1"):
        select_backend("testcontainers", docker=_no, installed=_yes)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(pytest.UsageError, match=r"LLMOPS_TEST_BACKEND='docker': use local \(default\), testcont"):
        select_backend("docker", docker=_yes, installed=_yes)


def _serve_once(server: socket.socket, answer: bytes) -> None:
    connection, _ = server.accept()
    with connection:
        connection.recv(1024)
        connection.sendall(answer)


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:  # a unix socket path has at most 107 bytes
        yield Path(folder)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", True), (b"HTTP/1.1 500 Error\r\n\r\n", False)],
)
def test_a_unix_socket_answers_only_with_200(socket_dir: Path, answer: bytes, expected: bool) -> None:
    path = socket_dir / "docker.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        threading.Thread(target=_serve_once, args=(server, answer), daemon=True).start()

        assert docker_answers(f"unix://{path}") is expected


def test_a_tcp_engine_answers() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        threading.Thread(target=_serve_once, args=(server, b"HTTP/1.0 200 OK\r\n\r\nOK"), daemon=True).start()

        assert docker_answers(f"tcp://127.0.0.1:{server.getsockname()[1]}")


@pytest.mark.parametrize("host", ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1", "ssh://me@host"])
def test_nothing_there_is_no_engine(host: str) -> None:
    assert not docker_answers(host, timeout_s=0.5)
