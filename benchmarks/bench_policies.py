"""Policy check benchmark: what the gateway adds per call to enforce a tenant's policies, in one process.

Run with ``uv run python benchmarks/bench_policies.py`` (``--terms``, ``--checks``). It measures and reports; it
never fails on a figure.

What is timed is ``PolicyEnforcer.check`` (no I/O; a refusal's audit entry is published in the background and is
not timed): the compiled rules of the call's (tenant, app) looked up, the model checked against an allow-list of
20 models and the app's data classification, and every text of the prompt searched for ``--terms`` blocked terms
(one regular expression compiled from a trie of the terms). Prompts are built before anything is timed: a chat
of three messages (about 2,000 characters) and one prompt at the gateway's size limit (200,000 characters); none
contains a blocked term (the whole text is searched, the worst case of a call that is let through). For
comparison the same terms as a plain alternation (``term1|term2|...``), and the one-off cost of compiling an
app's rules (paid once per app after each change of the tenant's policies). Wall time per check, p50 and p99.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llmops_inference.policies.enforcer import PolicyEnforcer  # noqa: E402
from llmops_inference.policies.rules import rules_for  # noqa: E402
from llmops_inference.policies.store import PolicyRules  # noqa: E402
from llmops_inference.ports import CallContext  # noqa: E402
from llmops_schemas import CloudEvent  # noqa: E402
from llmops_schemas.v2 import PolicyPublished  # noqa: E402

WORDS = ("order", "parcel", "refund", "delivery", "invoice", "account", "address", "password", "support", "return",
         "the", "a", "my", "is", "where", "when", "please", "thanks", "help", "late", "week", "today")  # fmt: skip


def _policies(terms: int) -> list[PolicyPublished]:
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    blocked = sorted({"".join(rng.choices(letters, k=rng.randint(5, 12))) for _ in range(terms)})
    settings: list[dict[str, Any]] = [
        {"kind": "model_allowlist", "models": [f"model-{n}" for n in range(20)]},
        {"kind": "blocked_terms", "terms": blocked[:terms]},
        {"kind": "data_classification", "app": "support", "classification": "internal"},
        {"kind": "model_classification", "max_classification": {f"model-{n}": "confidential" for n in range(20)}},
    ]
    now = datetime.now(UTC)
    return [
        PolicyPublished(policy_id=f"p{i}", name=f"p{i}", kind=s["kind"], version=1, settings=s, updated_by="b",
                        updated_at=now)
        for i, s in enumerate(settings)
    ]  # fmt: skip


def _prompt(chars: int, rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words)[:chars]


def _timed(check: Callable[[], object], runs: int) -> tuple[float, float]:
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        check()
        timings.append((time.perf_counter_ns() - t0) / 1e3)
    timings.sort()
    return timings[len(timings) // 2], timings[int(len(timings) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terms", type=int, default=1_000)
    parser.add_argument("--checks", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(11)
    chat = [_prompt(300, rng), _prompt(1_200, rng), _prompt(500, rng)]
    largest = [_prompt(200_000, rng)]
    store = PolicyRules()
    for policy in _policies(args.terms):
        store.apply_record(f"acme:{policy.policy_id}".encode(),
                           CloudEvent.wrap(policy, source="/bench", tenant_id="acme").to_json_bytes())  # fmt: skip
    enforcer = PolicyEnforcer(store)
    context = CallContext(tenant_id="acme", key_id="k", app="support", endpoint="chat", call_id="c")
    none = CallContext(tenant_id="no-policies", key_id="k", app="support", endpoint="chat", call_id="c")
    assert enforcer.check(context, "model-3", chat) is None, "the prompts contain no blocked term"
    terms = store.policies("acme")[1].settings.terms  # type: ignore[union-attr]
    plain = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)")
    n, runs = args.terms, args.checks
    policies = store.policies("acme")
    rows = [
        ("tenant without policies", _timed(lambda: enforcer.check(none, "model-3", chat), runs)),
        (f"4 policies, {n} terms, chat of 2,000 chars", _timed(lambda: enforcer.check(context, "model-3", chat), runs)),
        (f"4 policies, {n} terms, 200,000 chars", _timed(lambda: enforcer.check(context, "model-3", largest), 50)),
        (f"plain alternation of {n} terms, chat", _timed(lambda: [plain.search(t.lower()) for t in chat], 2_000)),
        ("compiling one app's rules (once per change)", _timed(lambda: rules_for("support", policies), 20)),
    ]
    print("| what | p50 | p99 |\n| --- | --- | --- |")
    for name, (p50, p99) in rows:
        print(f"| {name} | {p50:,.1f} us | {p99:,.1f} us |")


if __name__ == "__main__":
    main()
