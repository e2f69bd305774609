"""What `llmops up` does when a service it started dies: say which and why, restart it with backoff, or give up.

The policy (ADR 0012): a service that exits on its own is restarted after ``first_delay_s``, doubling with each
restart still inside ``window_s`` up to ``max_delay_s``; the restart that would be number ``max_restarts + 1``
within ``window_s`` is not made: :class:`GaveUp` is raised and `llmops up` stops everything. A restart that
never gets ready counts as another death, and so does a running service that reports itself stuck (its
``/healthz`` answers 503, probed every ``liveness_interval_s``: drift-detection's table recovery that reads
nothing, ADR 0065): it is killed and restarted like one that died, as an orchestrator's liveness probe would.
Nothing is lost meanwhile: ingest keeps accepting into Kafka and the restarted warehouse resumes from its
committed offsets (it commits only after the insert, deduplicated on the event id). Kafka is not restarted: its
death ends :func:`supervise`, and `llmops up` stops everything.

:class:`Supervisor` never sleeps and reads time only through ``clock``, so the policy is unit-tested with fakes;
:func:`supervise` is the loop around it that `llmops up` runs.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from llmops_kit.infra.process import ProcessError
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from llmops_cli.platform import LocalPlatform

__all__ = ["Died", "GaveUp", "RestartPolicy", "Restarted", "Supervised", "Supervisor", "describe_exit", "supervise"]

LOG_TAIL_LINES = 15
POLL_INTERVAL_S = 0.5


class Supervised(Protocol):
    """The part of :class:`llmops_kit.infra.process.ManagedProcess` the supervisor uses."""

    name: str

    @property
    def pid(self) -> int | None: ...

    @property
    def returncode(self) -> int | None: ...

    def alive(self) -> bool: ...

    def kill(self) -> None: ...

    def log_tail(self, lines: int = 30) -> str: ...


Child = TypeVar("Child", bound=Supervised)


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff, bounded by a number of restarts within a sliding window."""

    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 300.0

    def delay_s(self, recent_restarts: int) -> float:
        """Wait before the next restart, given how many were made within the window."""
        return float(min(self.first_delay_s * 2**recent_restarts, self.max_delay_s))


@dataclass(frozen=True)
class Died:
    """``name`` exited (``reason``); it restarts in ``delay_s`` as restart ``attempt`` of at most ``limit``."""

    name: str
    reason: str
    log_tail: str
    delay_s: float
    attempt: int
    limit: int


@dataclass(frozen=True)
class Restarted:
    """``name`` is running and ready again, as process ``pid``."""

    name: str
    pid: int | None


class GaveUp(Exception):
    """A service died more often than the policy allows; the caller stops everything."""

    def __init__(self, name: str, reason: str, log_tail: str, restarts: int, window_s: float) -> None:
        super().__init__(
            f"{name} died ({reason}) after {restarts} restarts within {window_s:.0f}s; giving up. "
            f"Last log lines:\n{log_tail}"
        )
        self.name, self.reason, self.log_tail, self.restarts = name, reason, log_tail, restarts


def describe_exit(returncode: int | None) -> str:
    """``exit code 3``, ``killed by SIGKILL`` (a negative code is the signal), or ``exited`` when unknown."""
    if returncode is None:
        return "exited"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


@dataclass
class Supervisor(Generic[Child]):
    """Call :meth:`poll` every second or so; it returns what happened since the last call."""

    children: Sequence[Child]
    restart: Callable[[Child], None]
    """Start the child again, without waiting for it; raises ProcessError when it cannot be started."""
    ready: Callable[[Child], bool] = lambda child: True
    """One readiness probe of a restarted child (never blocks for long: a poll watches every child)."""
    ready_timeout_s: Callable[[Child], float] = lambda child: 60.0
    """How long a restarted child may take to get ready before that counts as another death."""
    stuck: Callable[[Child], str | None] = lambda child: None
    """One liveness probe of a running child: why it is stuck (it is killed and restarted), or None."""
    liveness_interval_s: float = 10.0
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic
    _next_liveness: dict[str, float] = field(default_factory=dict, init=False)
    _restarts: dict[str, deque[float]] = field(default_factory=dict, init=False)
    _due: dict[str, float] = field(default_factory=dict, init=False)
    _starting: dict[str, float] = field(default_factory=dict, init=False)
    """Restarted children not ready yet, with their deadline: watched across polls, not waited for."""

    def poll(self) -> list[Died | Restarted]:
        """Notice deaths, make the restarts that are due, see restarted children get ready; raises
        :class:`GaveUp` past the policy's bound."""
        events: list[Died | Restarted | None] = []
        for child in self.children:
            if child.name in self._due:
                if self.clock() >= self._due[child.name]:
                    events.append(self._restart(child))
            elif child.name in self._starting:
                events.append(self._check_started(child))
            elif not child.alive():
                events.append(self._died(child, describe_exit(child.returncode)))
            elif (reason := self._stuck(child)) is not None:
                child.kill()
                events.append(self._died(child, f"stuck: {reason}; killed"))
        return [event for event in events if event is not None]

    def _stuck(self, child: Child) -> str | None:
        """The child's liveness, probed at most every ``liveness_interval_s`` (a poll is every half second)."""
        now = self.clock()
        if now < self._next_liveness.get(child.name, 0.0):
            return None
        self._next_liveness[child.name] = now + self.liveness_interval_s
        return self.stuck(child)

    def _died(self, child: Child, reason: str) -> Died:
        now = self.clock()
        recent = self._restarts.setdefault(child.name, deque())
        while recent and now - recent[0] > self.policy.window_s:
            recent.popleft()
        tail = child.log_tail(LOG_TAIL_LINES)
        if len(recent) >= self.policy.max_restarts:
            raise GaveUp(child.name, reason, tail, len(recent), self.policy.window_s)
        delay = self.policy.delay_s(len(recent))
        self._due[child.name] = now + delay
        return Died(child.name, reason, tail, delay, len(recent) + 1, self.policy.max_restarts)

    def _restart(self, child: Child) -> Died | Restarted | None:
        del self._due[child.name]
        self._restarts[child.name].append(self.clock())
        try:
            self.restart(child)
        except ProcessError as exc:
            return self._died(child, f"restart failed: {exc}".splitlines()[0])
        self._starting[child.name] = self.clock() + self.ready_timeout_s(child)
        return self._check_started(child)

    def _check_started(self, child: Child) -> Died | Restarted | None:
        """Restarted once ready; another death if it exits or is not ready by its deadline; else None."""
        if not child.alive():
            del self._starting[child.name]
            return self._died(child, f"restart failed: {describe_exit(child.returncode)} before it was ready")
        if self.ready(child):
            del self._starting[child.name]
            return Restarted(child.name, child.pid)
        if self.clock() >= self._starting[child.name]:
            timeout = self.ready_timeout_s(child)
            del self._starting[child.name]
            return self._died(child, f"restart failed: not ready within {timeout:.0f}s")
        return None


def supervise(
    platform: LocalPlatform,
    console: Console,
    *,
    on_restart: Callable[[], None],
    policy: RestartPolicy = RestartPolicy(),
) -> int:
    """`llmops up`'s loop once everything runs: restart the services that die, report it; 1 once it gives up or
    Kafka dies (the caller then stops everything). ``on_restart`` runs after each restart (``up.json``'s pids)."""
    supervisor = Supervisor(
        platform.services,
        restart=platform.restart,
        ready=platform.ready,
        ready_timeout_s=platform.ready_timeout_s,
        stuck=platform.stuck,
        policy=policy,
    )
    while not platform.broker_died():
        try:
            events = supervisor.poll()
        except GaveUp as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}\nstopping everything")
            return 1
        for event in events:
            _report(event, console)
            if isinstance(event, Restarted):
                on_restart()
        time.sleep(POLL_INTERVAL_S)
    console.print(
        "[red]error:[/red] Kafka exited; every service depends on it, so everything stops (its log and the "
        "services' offsets are kept: the next `llmops up` resumes). Last log lines:\n"
        + escape(platform.log_tail("kafka"))
    )
    return 1


def _report(event: Died | Restarted, console: Console) -> None:
    if isinstance(event, Restarted):
        console.print(f"[green]✓[/green] {event.name} restarted (pid {event.pid})")
        return
    console.print(
        f"[red]{event.name} died[/red] ({event.reason}); last log lines:\n{escape(event.log_tail)}\n"
        f"restarting {event.name} in {event.delay_s:.0f}s (restart {event.attempt} of at most {event.limit})"
    )
