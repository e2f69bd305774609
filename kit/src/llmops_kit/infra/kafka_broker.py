"""A real single-node Apache Kafka broker (KRaft) for development and integration tests.

The jars come from Maven Central (``infra/kafka/fetch.sh``), the JVM is started by
``infra/kafka/start.sh``; this module supervises that process::

    with LocalKafkaBroker(tmp_path / "kafka") as broker:
        produce_to(broker.bootstrap_servers)

``start()`` blocks until the broker answers a real metadata request (not just "the port is
open"), so callers can create topics and produce right away. The broker runs in its own process
group and logs to ``<data_dir>/broker.log``. See docs/adr/0002-kafka-from-maven-central.md.

With ``admin_password`` the listener is SASL_PLAINTEXT (SCRAM-SHA-512) and the StandardAuthorizer
enforces ACLs; ``broker.admin_security`` is the super user's client settings (docs/kafka-security.md).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from pydantic import SecretStr

from llmops_kit.infra.paths import cache_dir, kafka_infra_dir
from llmops_kit.infra.ports import free_port
from llmops_kit.kafka.security import open_client
from llmops_kit.settings import KafkaSecurity

DEFAULT_KAFKA_VERSION = "3.9.1"


class KafkaBrokerError(RuntimeError):
    """The local broker could not be fetched, started or stopped."""


def kafka_version() -> str:
    return os.environ.get("KAFKA_VERSION", DEFAULT_KAFKA_VERSION)


def kafka_libs_dir() -> Path:
    """Where fetch.sh puts the broker's jars (``<cache>/kafka/<version>/libs``)."""
    return cache_dir() / "kafka" / kafka_version() / "libs"


def fetch_kafka(timeout: float = 900.0) -> Path:
    """Run ``infra/kafka/fetch.sh`` unless the jars are already cached; return the libs dir."""
    libs = kafka_libs_dir()
    if (libs / ".complete").is_file():
        return libs
    script = kafka_infra_dir() / "fetch.sh"
    try:
        proc = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [_bash(), str(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaBrokerError(f"{script} did not finish within {timeout:.0f}s") from exc
    if proc.returncode != 0:
        raise KafkaBrokerError(
            f"{script} failed with exit code {proc.returncode}:\n{_tail(proc.stderr + proc.stdout, 40)}"
        )
    return libs


def _bash() -> str:
    bash = shutil.which("bash")
    if bash is None:
        raise KafkaBrokerError("bash not found on PATH; infra/kafka/*.sh need it")
    return bash


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _metadata_round_trip(bootstrap_servers: str, timeout: float, security: KafkaSecurity | None = None) -> int:
    """Send a Kafka Metadata request and return how many brokers the cluster reports.

    Runs on a private event loop in a worker thread so it also works when the caller is
    already inside a running loop (e.g. an async test).
    """

    async def probe() -> int:
        async with open_client(
            bootstrap_servers, security, client_id="llmops-broker-probe", timeout_s=timeout, retry_backoff_ms=100
        ) as client:
            return len(client.cluster.brokers())

    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-probe") as pool:
        return pool.submit(asyncio.run, probe()).result(timeout=timeout + 5)


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class LocalKafkaBroker:
    """Supervises ``infra/kafka/start.sh``: one KRaft broker+controller JVM on 127.0.0.1.

    ``port``/``controller_port`` 0 means "pick a free one" (chosen once, in the constructor, so
    ``bootstrap_servers`` is known before ``start()`` and stays the same across restarts).
    A data dir that was used before is reused: topics and committed offsets survive.
    """

    def __init__(
        self,
        data_dir: Path | str,
        port: int = 0,
        controller_port: int = 0,
        *,
        host: str = "127.0.0.1",
        startup_timeout: float = 120.0,
        fetch_timeout: float = 900.0,
        env: Mapping[str, str] | None = None,
        admin_password: SecretStr | None = None,
        admin_user: str = "admin",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.controller_port = controller_port or free_port(host)
        while self.controller_port == self.port:
            self.controller_port = free_port(host)
        self.startup_timeout = startup_timeout
        self.fetch_timeout = fetch_timeout
        self._extra_env = dict(env or {})
        self.admin_security: KafkaSecurity | None = None
        """The super user's client settings when the broker authenticates clients, else None."""
        if admin_password is not None:
            self.admin_security = KafkaSecurity(
                security_protocol="SASL_PLAINTEXT", sasl_username=admin_user, sasl_password=admin_password
            )
            self._extra_env |= {
                "LLMOPS_KAFKA_ADMIN_USER": admin_user,
                "LLMOPS_KAFKA_ADMIN_PASSWORD": admin_password.get_secret_value(),
            }
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- properties ---------------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except FileNotFoundError:
            return "(no broker.log yet)"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        """Fetch the jars if needed, start the broker and block until it serves metadata."""
        if self.running:
            return self
        fetch_kafka(self.fetch_timeout)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        script = kafka_infra_dir() / "start.sh"
        env = {**os.environ, **self._extra_env, "LLMOPS_KAFKA_HOST": self.host}
        self._log = self.log_path.open("ab")
        self._log.write(
            f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} LocalKafkaBroker.start {self.bootstrap_servers} ===\n".encode()
        )
        self._log.flush()
        self._proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [_bash(), str(script), str(self.data_dir), str(self.port), str(self.controller_port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # own process group: signals reach the JVM, not us
        )
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        started = time.monotonic()
        deadline = started + self.startup_timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise KafkaBrokerError(
                    f"Kafka broker exited with code {code} before it was ready "
                    f"(bootstrap {self.bootstrap_servers}, log {self.log_path}):\n{self.log_tail()}"
                )
            if _port_open(self.host, self.port):
                try:
                    remaining = max(1.0, min(10.0, deadline - time.monotonic()))
                    if _metadata_round_trip(self.bootstrap_servers, remaining, self.admin_security) > 0:
                        return
                except Exception as exc:  # not ready yet; keep polling until the deadline
                    last_error = exc
            time.sleep(0.25)
        raise KafkaBrokerError(
            f"Kafka broker on {self.bootstrap_servers} did not answer a metadata request within "
            f"{self.startup_timeout:g}s (last error: {last_error!r}); log {self.log_path}:\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the broker's process group, wait ``timeout`` seconds, then SIGKILL."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        try:
            if proc is None or proc.poll() is not None:
                return
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            # start_new_session=True made the child a group leader: pgid == pid.
            os.killpg(proc.pid, sig)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"LocalKafkaBroker({self.bootstrap_servers}, {self.data_dir}, {state})"
