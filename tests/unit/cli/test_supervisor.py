"""The restart policy of `llmops up`: backoff, the bound, and what is reported, with fake children and a fake clock."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from llmops_cli.supervisor import Died, GaveUp, Restarted, RestartPolicy, Supervisor, describe_exit, supervise
from llmops_kit.infra.process import ProcessError
from rich.console import Console

from tests.fixtures.clocks import ManualClock

POLICY = RestartPolicy(first_delay_s=1, max_delay_s=8, max_restarts=4, window_s=100)


@dataclass
class FakeChild:
    name: str
    pid: int | None = 100
    returncode: int | None = None
    fail_next_starts: int = 0
    starts: int = 0
    ready: bool = True
    stuck: str | None = None
    probes: int = 0

    def alive(self) -> bool:
        return self.returncode is None

    def kill(self) -> None:
        self.returncode, self.stuck = -9, None

    def liveness(self) -> str | None:
        self.probes += 1
        return self.stuck

    def log_tail(self, lines: int = 30) -> str:
        return f"{self.name}: last line"

    def crash(self, code: int = -9) -> None:
        self.returncode = code


@dataclass
class Harness:
    children: list[FakeChild]
    clock: ManualClock = field(default_factory=ManualClock)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(
            self.children,
            restart=self._restart,
            ready=lambda child: child.ready,
            ready_timeout_s=lambda child: 30.0,
            stuck=lambda child: child.liveness(),
            liveness_interval_s=10.0,
            policy=POLICY,
            clock=self.clock,
        )

    def _restart(self, child: FakeChild) -> None:
        child.starts += 1
        if child.fail_next_starts:
            child.fail_next_starts -= 1
            raise ProcessError(f"{child.name} exited early; last log lines:\nboom")
        child.returncode, child.pid = None, (child.pid or 0) + 1

    def at(self, now: float) -> list[Died | Restarted]:
        self.clock.now = now
        return self.supervisor.poll()

    def died_at(self, now: float) -> Died:
        (event,) = self.at(now)
        assert isinstance(event, Died)
        return event


def test_a_running_child_is_left_alone() -> None:
    harness = Harness([FakeChild("warehouse")])

    assert harness.at(0) == []
    assert harness.at(500) == []
    assert harness.children[0].starts == 0


def test_a_death_is_reported_with_its_cause_and_the_child_restarted_after_the_first_delay() -> None:
    warehouse, ingest = FakeChild("warehouse"), FakeChild("ingest")
    harness = Harness([warehouse, ingest])
    warehouse.crash(-9)

    assert harness.at(10) == [Died("warehouse", "killed by SIGKILL", "warehouse: last line", 1.0, 1, 4)]
    assert harness.at(10.5) == []  # not due yet, and not reported twice
    assert harness.at(11) == [Restarted("warehouse", 101)]
    assert (warehouse.starts, ingest.starts) == (1, 0)


def test_a_running_child_that_reports_itself_stuck_is_killed_and_restarted_like_a_death() -> None:
    drift, ingest = FakeChild("drift-detection"), FakeChild("ingest")
    harness = Harness([drift, ingest])
    assert harness.at(0) == []
    drift.stuck = reason = "table recovery has read none of its 7 remaining changelog records for 300 s"

    assert harness.at(5) == []  # probed at most every liveness_interval_s
    assert harness.at(10) == [
        Died("drift-detection", f"stuck: {reason}; killed", "drift-detection: last line", 1, 1, 4)
    ]
    assert drift.returncode == -9 and harness.at(10.5) == []
    assert harness.at(11) == [Restarted("drift-detection", 101)]
    assert (drift.starts, ingest.starts, ingest.probes) == (1, 0, 2)


def test_the_delay_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay_s=1, max_delay_s=8, max_restarts=10, window_s=1000)

    assert [policy.delay_s(n) for n in range(6)] == [1, 2, 4, 8, 8, 8]


def test_it_gives_up_on_the_death_after_max_restarts_within_the_window() -> None:
    child = FakeChild("warehouse")
    harness = Harness([child])
    now, delays = 0.0, []
    for _ in range(POLICY.max_restarts):
        child.crash(1)
        (died,) = harness.at(now)
        assert isinstance(died, Died) and died.reason == "exit code 1"
        delays.append(died.delay_s)
        now += died.delay_s
        assert harness.at(now) == [Restarted("warehouse", child.pid)]
    assert delays == [1, 2, 4, 8]

    child.crash(3)
    with pytest.raises(GaveUp) as gave_up:
        harness.at(now + 1)
    assert gave_up.value.name == "warehouse" and gave_up.value.restarts == 4
    assert "warehouse died (exit code 3) after 4 restarts within 100s; giving up" in str(gave_up.value)
    assert "warehouse: last line" in str(gave_up.value)


def test_restarts_older_than_the_window_are_forgotten_and_the_delay_starts_over() -> None:
    child = FakeChild("warehouse")
    harness = Harness([child])
    now = 0.0
    for _ in range(POLICY.max_restarts):  # dies right after each restart
        child.crash()
        now += harness.died_at(now).delay_s
        harness.at(now)
    child.crash()
    died = harness.died_at(200)  # the four restarts are more than window_s old: not counted

    assert (died.delay_s, died.attempt) == (1, 1)


def test_a_restart_that_fails_counts_as_another_death() -> None:
    child = FakeChild("model-server", fail_next_starts=1)
    harness = Harness([child])
    child.crash(-15)
    harness.at(0)

    failed = harness.died_at(1)
    assert failed.reason == "restart failed: model-server exited early; last log lines:"
    assert (failed.delay_s, failed.attempt) == (2, 2)
    assert harness.at(3) == [Restarted("model-server", 101)]
    assert child.starts == 2


def test_each_child_has_its_own_count() -> None:
    warehouse, ingest = FakeChild("warehouse"), FakeChild("ingest")
    harness = Harness([warehouse, ingest])
    warehouse.crash()
    harness.at(0)
    harness.at(1)
    ingest.crash()

    died = harness.died_at(2)
    assert (died.name, died.attempt, died.delay_s) == ("ingest", 1, 1)


def test_a_restart_that_gets_ready_slowly_is_watched_across_polls_while_others_are_still_watched() -> None:
    model_server, ingest = FakeChild("model-server"), FakeChild("ingest")
    harness = Harness([model_server, ingest])
    model_server.crash(-9)
    harness.died_at(0)
    model_server.ready = False

    assert harness.at(1) == []  # started again, not ready yet: nothing waits for it
    ingest.crash(1)
    (died,) = harness.at(2)  # another death is noticed meanwhile
    assert (died.name, died.reason) == ("ingest", "exit code 1")
    model_server.ready = True
    assert Restarted("model-server", 101) in harness.at(3)


def test_a_restart_not_ready_by_its_deadline_or_exiting_first_counts_as_a_death() -> None:
    warehouse = FakeChild("warehouse")
    harness = Harness([warehouse])
    warehouse.crash(-9)
    harness.died_at(0)
    warehouse.ready = False
    assert harness.at(1) == []
    late = harness.died_at(31.5)
    assert (late.reason, late.attempt) == ("restart failed: not ready within 30s", 2)

    assert harness.at(33.5) == []  # restarted after 2 s, again not ready
    warehouse.crash(3)
    early = harness.died_at(34)
    assert early.reason == "restart failed: exit code 3 before it was ready"


@pytest.mark.parametrize(
    ("code", "reason"),
    [(0, "exit code 0"), (2, "exit code 2"), (-9, "killed by SIGKILL"), (-15, "killed by SIGTERM"), (None, "exited")],
)
def test_exit_descriptions(code: int | None, reason: str) -> None:
    assert describe_exit(code) == reason


@dataclass
class FakePlatform:
    """What :func:`supervise` uses of LocalPlatform; ``restart`` fails ``failing`` times, Kafka dies after ``polls``."""

    services: list[FakeChild]
    polls: int = 100
    failing: int = 0

    def broker_died(self) -> bool:
        self.polls -= 1
        return self.polls < 0

    def restart(self, child: FakeChild) -> None:
        if self.failing:
            self.failing -= 1
            raise ProcessError(f"{child.name} exited early; last log lines:\nboom")
        child.returncode, child.pid = None, (child.pid or 0) + 1

    @staticmethod
    def ready(child: FakeChild) -> bool:
        return child.ready

    @staticmethod
    def ready_timeout_s(child: FakeChild) -> float:
        return 30.0

    @staticmethod
    def stuck(child: FakeChild) -> str | None:
        return child.liveness()

    def log_tail(self, name: str) -> str:
        return f"{name}: broker log"


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None), out


def test_the_loop_reports_a_restart_and_rewrites_the_state_then_ends_when_kafka_dies() -> None:
    warehouse = FakeChild("warehouse", returncode=-9)
    platform, (console, out), restarts = FakePlatform([warehouse], polls=3), _console(), []
    fast = RestartPolicy(first_delay_s=0)

    code = supervise(cast(Any, platform), console, on_restart=lambda: restarts.append(warehouse.pid), policy=fast)

    assert code == 1 and restarts == [101]
    assert "warehouse died (killed by SIGKILL); last log lines:\nwarehouse: last line\nrestarting warehouse in 0s" in (
        out.getvalue()
    )
    assert "✓ warehouse restarted (pid 101)" in out.getvalue()
    assert "error: Kafka exited; every service depends on it" in out.getvalue()
    assert "kafka: broker log" in out.getvalue()


def test_the_loop_says_which_service_was_stuck_and_why() -> None:
    drift = FakeChild("drift-detection", stuck="table recovery has read none of its 7 remaining records for 300 s")
    platform, (console, out) = FakePlatform([drift], polls=3), _console()

    supervise(cast(Any, platform), console, on_restart=lambda: None, policy=RestartPolicy(first_delay_s=0))

    assert (
        "drift-detection died (stuck: table recovery has read none of its 7 remaining records for 300 s; killed)"
        in out.getvalue()
    )
    assert "✓ drift-detection restarted (pid 101)" in out.getvalue()


def test_the_loop_gives_up_with_a_clear_message() -> None:
    platform = FakePlatform([FakeChild("ingest", returncode=3)], failing=10)
    console, out = _console()

    code = supervise(
        cast(Any, platform), console, on_restart=lambda: None, policy=RestartPolicy(first_delay_s=0, max_restarts=1)
    )

    assert code == 1
    assert (
        "error: ingest died (restart failed: ingest exited early; last log lines:) after 1 restarts" in out.getvalue()
    )
    assert "giving up" in out.getvalue() and out.getvalue().rstrip().endswith("stopping everything")
