"""Assignment: sticky per user, split by weight (checked statistically), canary steps, shadow copies, status.

The split test hashes 10,000 fixed user ids. The hash is SHA-256 of the experiment id and the user id, with
no randomness anywhere, so the observed counts are the same on every run and machine: the test cannot
flake. It still checks something real: that the hash spreads ids uniformly enough for the counts to fit
the weights (chi-square goodness of fit, p > 0.001; scipy when installed, otherwise the Wilson-Hilferty
normal approximation of the chi-square distribution, accurate to about 1e-3 at these degrees of freedom).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from llmops_inference.experiments.model import Assignment, assign, bucket
from llmops_inference.experiments.resolve import choose_variant
from llmops_inference.experiments.store import ExperimentStore
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ExperimentConfigured

from tests.unit.inference.experiments.definitions import AB, CANARY, SHADOW
from tests.unit.inference.prompts.fakes import TENANT

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USERS = [f"user-{i}" for i in range(10_000)]


def configured(definition: dict[str, Any], **changes: Any) -> ExperimentConfigured:
    data = {k: v for k, v in definition.items()}
    data.update(status="running", version=1, updated_by="alice", updated_at=NOW.isoformat())
    data.update(changes)
    return ExperimentConfigured.model_validate(data)


def store_of(*experiments: ExperimentConfigured) -> ExperimentStore:
    store = ExperimentStore()
    for experiment in experiments:
        store.apply(CloudEvent.wrap(experiment, source="/t", tenant_id=TENANT))
    store.mark_caught_up()
    return store


def choose(
    store: ExperimentStore,
    *,
    model: str | None = "gpt-4o-mini",
    prompt: str | None = None,
    user: str | None = "u1",
    session: str | None = None,
    **options: Any,
) -> Assignment | None:
    return choose_variant(store, TENANT, model, prompt, user, session, now=NOW, **options)


def variant(store: ExperimentStore, **call: Any) -> str:
    """The primary variant a call gets (the call must be the experiment's)."""
    assignment = choose(store, **call)
    assert assignment is not None
    return assignment.primary.ref.variant


def never() -> float:
    raise AssertionError("a user or session id must not need a random draw")


def chi_square_p_value(observed: list[int], expected: list[float]) -> float:
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    dof = len(observed) - 1
    try:
        from scipy.stats import chi2
    except ImportError:
        return wilson_hilferty(statistic, dof)
    return float(chi2.sf(statistic, dof))


def wilson_hilferty(statistic: float, dof: int) -> float:
    """P(X > statistic) for X ~ chi-square(dof), by the Wilson-Hilferty cube-root normal approximation."""
    z = ((statistic / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return 0.5 * math.erfc(z / math.sqrt(2))


# --- stickiness and split ----------------------------------------------------------------------------


def test_the_same_user_always_gets_the_same_variant() -> None:
    store = store_of(configured(AB))
    first = {user: variant(store, user=user, draw=never) for user in USERS[:500]}
    again = {user: variant(store, user=user, draw=never) for user in USERS[:500]}
    assert first == again
    assert len(set(first.values())) == 3


def test_the_session_is_the_unit_when_there_is_no_user() -> None:
    store = store_of(configured(AB))
    by_session = {variant(store, user=None, session="s-9", draw=never) for _ in range(20)}
    assert len(by_session) == 1
    assignment = choose(store, user=None, session="s-9", draw=never)
    assert assignment is not None and assignment.unit == "session"


def test_without_user_or_session_the_draw_decides() -> None:
    store = store_of(configured(AB))
    assert variant(store, user=None, draw=lambda: 0.0) == "mini"
    assert variant(store, user=None, draw=lambda: 0.75) == "full"
    assert variant(store, user=None, draw=lambda: 0.95) == "local"


def test_the_split_over_10000_users_fits_the_weights() -> None:
    experiment = configured(AB)
    counts = Counter(assign(experiment, user_id=u, session_id=None, draw=never).primary.ref.variant for u in USERS)
    observed = [counts["mini"], counts["full"], counts["local"]]
    expected = [7000.0, 2000.0, 1000.0]
    assert sum(observed) == 10_000
    assert chi_square_p_value(observed, expected) > 0.001, observed
    for o, e in zip(observed, expected, strict=True):
        assert abs(o - e) < 5 * math.sqrt(e), (observed, expected)  # and within 5 sigma per arm


@pytest.mark.parametrize(("quantile", "p"), [(13.8155, 0.001), (9.2103, 0.01), (5.9915, 0.05)])
def test_the_fallback_approximation_matches_chi_square_tables(quantile: float, p: float) -> None:
    assert wilson_hilferty(quantile, 2) == pytest.approx(p, rel=0.2)


def test_buckets_are_uniform_and_experiment_specific() -> None:
    points = [bucket("exp-a", u) for u in USERS]
    assert min(points) >= 0 and max(points) < 1
    assert abs(sum(points) / len(points) - 0.5) < 0.01
    assert bucket("exp-a", "user-1") != bucket("exp-b", "user-1")


# --- canary ------------------------------------------------------------------------------------------


def test_raising_a_canary_only_moves_control_users_into_it() -> None:
    before = configured(CANARY)
    raised = configured(
        CANARY,
        version=2,
        variants=[{**CANARY["variants"][0], "weight": 0.8}, {**CANARY["variants"][1], "weight": 0.2}],
    )

    def canaries(experiment: ExperimentConfigured) -> set[str]:
        return {
            u for u in USERS if assign(experiment, user_id=u, session_id=None, draw=never).primary.ref.variant == "v3"
        }

    small, large = canaries(before), canaries(raised)
    assert small < large, "every canary user stays a canary user"
    assert 400 < len(small) < 600 and 1800 < len(large) < 2200


def test_a_canary_variant_carries_its_prompt_version() -> None:
    store = store_of(configured(CANARY))
    user = next(u for u in USERS if variant(store, model=None, prompt="support-answer", user=u) == "v3")
    assignment = choose(store, model=None, prompt="support-answer", user=user)
    assert assignment is not None
    assert assignment.primary.prompt is not None and assignment.primary.prompt.version == 3
    assert assignment.shadow is None


# --- shadow ------------------------------------------------------------------------------------------


def test_shadow_copies_go_to_their_share_and_the_control_always_answers() -> None:
    store = store_of(configured(SHADOW))
    assignments = [choose(store, user=u) for u in USERS[:2000]]
    assert all(a is not None and a.primary.ref.variant == "mini" and not a.primary.ref.shadow for a in assignments)
    shadows = [a.shadow for a in assignments if a is not None and a.shadow is not None]
    assert 400 < len(shadows) < 600
    assert {(s.ref.variant, s.ref.shadow, s.model) for s in shadows} == {("llama", True, "llama-3-8b")}


def test_an_ab_test_has_no_shadow() -> None:
    store = store_of(configured(AB))
    assignments = [choose(store, user=u) for u in USERS[:200]]
    assert all(a is not None and a.shadow is None for a in assignments)


# --- which calls, and when ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["completed", "paused", "draft"])
def test_an_experiment_that_is_not_running_assigns_nothing(status: str) -> None:
    store = store_of(configured(AB, status=status))
    assert choose(store) is None


def test_the_time_window_applies() -> None:
    later = configured(AB, starts_at=(NOW + timedelta(hours=1)).isoformat())
    over = configured(AB, ends_at=(NOW - timedelta(hours=1)).isoformat())
    assert choose(store_of(later)) is None
    assert choose(store_of(over)) is None


def test_targeting_by_model_prompt_and_app() -> None:
    store = store_of(configured(AB), configured(CANARY))
    assert choose(store, model="gpt-4o") is None, "not the control's model"
    by_model = choose(store, model="gpt-4o-mini")
    assert by_model is not None and by_model.experiment_id == "exp-mini-vs-4o"
    by_prompt = choose(store, model="gpt-4o-mini", prompt="support-answer")
    assert by_prompt is not None and by_prompt.experiment_id == "canary-v3", "the prompt wins over the model"
    assert choose(store, model="gpt-4o-mini", app="other-app") is None
    assert choose(store, model="gpt-4o-mini", app="support-bot") is not None
    assert choose_variant(store, "globex", "gpt-4o-mini", None, "u1", None, now=NOW) is None


def test_nothing_is_assigned_while_the_store_is_loading() -> None:
    store = ExperimentStore()
    store.apply(CloudEvent.wrap(configured(AB), source="/t", tenant_id=TENANT))
    assert choose(store) is None
    store.mark_caught_up()
    assert choose(store) is not None


def test_the_assignment_names_experiment_and_version() -> None:
    assignment = choose(store_of(configured(AB, version=4)))
    assert assignment is not None
    assert (assignment.experiment_id, assignment.experiment_version, assignment.kind, assignment.unit) == (
        "exp-mini-vs-4o",
        4,
        "ab",
        "user",
    )
    assert assignment.primary.ref.experiment_id == "exp-mini-vs-4o"
