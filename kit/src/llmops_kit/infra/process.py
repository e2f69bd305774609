"""Supervised child processes for `llmops up` and the end-to-end tests.

Each service runs as its own OS process (as it would in a container), in its own process group so a
stop reaches its children too; readiness is the service's own ``/readyz``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["ManagedProcess", "ProcessError"]


class ProcessError(RuntimeError):
    """A supervised process exited early or never became ready."""


class ManagedProcess:
    """A child process with a log file, a readiness URL, and a clean stop."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        ready_url: str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.ready_url = ready_url
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited (``-N``: killed by signal ``N``); None while it runs or before start."""
        return self._proc.poll() if self._proc else None

    def start(self) -> None:
        """Start it; after an exit this starts it again, with what was left of the old process group killed first
        (a backend stub that outlived its leader would hold its ports)."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()  # reap the leader: unreaped, it keeps the group looking alive
            self._wait_for_group(self._proc.pid, time.monotonic())
        if self._log is not None:
            self._log.close()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 - argv is built by the platform, never from user input
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def is_ready(self) -> bool:
        """Running, and its ``ready_url`` (if any) answers 200 now: one probe, two seconds at most."""
        return self.alive() and (self.ready_url is None or _answers_200(self.ready_url))

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Poll ``ready_url`` until it answers 200; fail fast if the process dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise ProcessError(f"{self.name} exited early; last log lines:\n{self.log_tail()}")
            if self.ready_url is None or _answers_200(self.ready_url):
                return
            time.sleep(0.2)
        raise ProcessError(f"{self.name} not ready after {timeout_s:.0f}s; last log lines:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, with no chance to clean up."""
        self._signal(signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait(timeout=10)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM, wait for a graceful exit, SIGKILL after ``timeout_s``; returns the exit code."""
        if self._proc is None:
            return None
        deadline = time.monotonic() + timeout_s
        self._signal(signal.SIGTERM)
        try:
            code = self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            code = self._proc.wait(timeout=10)
        self._wait_for_group(self._proc.pid, deadline)
        if self._log is not None:
            self._log.close()
        return code

    @staticmethod
    def _wait_for_group(pgid: int, deadline: float) -> None:
        """Wait until the rest of the process group has exited too; SIGKILL what is left at ``deadline``.

        The SIGTERM went to the whole group, but a service's own children (the model server's tritonserver
        and its backend stubs) can outlive the leader by a moment; returning before they are gone would leave
        ports bound and processes behind.
        """
        killed = False
        while _group_alive(pgid):
            if time.monotonic() >= deadline:
                if killed:
                    return
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                killed, deadline = True, time.monotonic() + 5
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local readiness URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
