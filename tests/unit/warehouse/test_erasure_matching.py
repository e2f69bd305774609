"""What an erasure subject matches, the keyed digest, and the insert check of the ledger (pure logic; the SQL side
runs against chDB in tests/integration/warehouse/test_erasure.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from llmops_kit.kafka.consumer import ConsumedMessage, Delivery
from llmops_kit.kafka.topics import TopicCatalog
from llmops_schemas.v2 import ErasureRequested, EvaluationScored
from llmops_warehouse.erasure.ledger import Ledger, LedgerEntry
from llmops_warehouse.erasure.purge import PurgeBound
from llmops_warehouse.erasure.screen import screen
from llmops_warehouse.erasure.subjects import SubjectDigester, candidates, normalise, text_token

from tests.unit.warehouse.call_store_contract import BASE, make_event, new_tenant, score_event

KEY = b"unit-test-erasure-key-000000"
CUTOFF = BASE + timedelta(days=1)


@pytest.mark.parametrize(
    ("subject_type", "value", "expected"),
    [
        ("email", "  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("hashed_id", "[EMAIL:0123456789abcdef]", "0123456789abcdef"),
        ("hashed_id", "0123456789ABCDEF", "0123456789abcdef"),
        ("hashed_id", "app-pseudonym-7", "app-pseudonym-7"),
        ("user_id", "User-7", "User-7"),  # identifiers are exact: case matters
    ],
)
def test_values_are_compared_in_one_normal_form(subject_type: str, value: str, expected: str) -> None:
    assert normalise(subject_type, value) == expected


def test_a_hashed_id_is_looked_for_in_texts_as_the_pii_engines_token() -> None:
    assert text_token("0123456789abcdef") == ":0123456789abcdef]"
    assert text_token("app-pseudonym-7") is None
    found = set(candidates({}, (), 'said "[PHONE:0123456789abcdef]" twice', types={"hashed_id"}))
    assert found == {("hashed_id", "0123456789abcdef")}


def test_an_email_matches_user_ids_and_metadata_values_only_when_asked() -> None:
    found = set(candidates({"user_id": "Jane@x.io", "session_id": "s1"}, ["JANE@x.io"], types={"email"}))
    assert found == {("email", "jane@x.io")}
    assert set(candidates({"user_id": "Jane@x.io"}, types={"user_id"})) == {("user_id", "Jane@x.io")}


def test_the_digest_is_keyed_and_per_tenant() -> None:
    digest = SubjectDigester(KEY)
    assert digest("acme", "email", "a@b.c") == digest("acme", "email", "a@b.c")
    assert digest("acme", "email", "a@b.c") != digest("beta", "email", "a@b.c")
    assert digest("acme", "email", "a@b.c") != SubjectDigester(b"another-key-00000000")("acme", "email", "a@b.c")
    assert "a@b.c" not in digest("acme", "email", "a@b.c")
    with pytest.raises(ValueError, match="16 bytes"):
        SubjectDigester(b"short")


def _ledger(tenant: str, subject_type: str, value: str, calls: list[str] = ()) -> Ledger:  # type: ignore[assignment]
    ledger = Ledger(SubjectDigester(KEY))
    digest = ledger.digest(tenant, subject_type, normalise(subject_type, value))
    entry = LedgerEntry(tenant, "req-1", subject_type, digest, CUTOFF, str(uuid.uuid4()), {}, CUTOFF, CUTOFF)
    ledger.add(entry, calls)
    return ledger


def _deliveries(items: list[Any]) -> list[Delivery[Any]]:
    message = ConsumedMessage(topic="t", partition=0, offset=0, key=None, value=b"", timestamp_ms=0, headers=())
    return [Delivery(message, item) for item in items]


def test_the_screen_drops_the_subjects_calls_from_before_the_cutoff_and_what_refers_to_them() -> None:
    tenant, other = new_tenant(), new_tenant()
    ledger = _ledger(tenant, "user_id", "alice")
    old = make_event(tenant, call_id="a-old", user_id="alice", started_at=BASE)
    new = make_event(tenant, call_id="a-new", user_id="alice", started_at=CUTOFF + timedelta(seconds=1))
    bob = make_event(tenant, call_id="b", user_id="bob", started_at=BASE)
    elsewhere = make_event(other, call_id="a-old", user_id="alice", started_at=BASE)
    score = score_event(tenant, call_id="a-old")

    kept, late = screen(_deliveries([old, new, bob, elsewhere, score]), ledger)

    assert [d.item for d in kept] == [new, bob, elsewhere]  # the late call's score goes with it, in the same batch
    assert late == [(tenant, "req-1", "a-old")]


def test_the_screen_drops_rows_of_erased_calls_and_passes_everything_without_erasures() -> None:
    tenant = new_tenant()
    ledger = _ledger(tenant, "call_id", "c-9", calls=["c-9"])
    score, other_score = score_event(tenant, call_id="c-9"), score_event(tenant, call_id="c-1")
    assert [d.item for d in screen(_deliveries([score, other_score]), ledger)[0]] == [other_score]
    empty = Ledger(SubjectDigester(KEY))
    batch = _deliveries([score])
    assert screen(batch, empty) == (batch, [])


def test_an_email_erasure_matches_a_calls_metadata_and_a_hashed_one_its_texts() -> None:
    tenant = new_tenant()
    by_mail = _ledger(tenant, "email", "Jane@Example.com")
    tagged = make_event(tenant, user_id="u1", metadata={"contact": "jane@example.com"}, started_at=BASE)
    assert screen(_deliveries([tagged]), by_mail)[0] == []
    by_hash = _ledger(tenant, "hashed_id", "[EMAIL:0123456789abcdef]")
    mentioned = make_event(tenant, content="write to [EMAIL:0123456789abcdef] today", started_at=BASE)
    unrelated = make_event(tenant, content="write to [EMAIL:fedcba9876543210] today", started_at=BASE)
    assert [d.item for d in screen(_deliveries([mentioned, unrelated]), by_hash)[0]] == [unrelated]


def test_the_purge_bound_adds_the_longest_retention_of_the_topics_that_held_the_subject() -> None:
    catalog = TopicCatalog.load()
    bound = PurgeBound.of(catalog, timedelta(hours=1))
    requests = catalog.get(ErasureRequested.topic).retention or 0
    scores = catalog.get(EvaluationScored.topic).retention or 0
    assert bound.bound({}) == timedelta(hours=1, milliseconds=max(requests, bound.always_ms))
    assert bound.bound({"evaluation_scores": 1}) == timedelta(hours=1, milliseconds=max(bound.always_ms, scores))
    assert datetime.now(UTC) + bound.bound({"calls": 1}) > datetime.now(UTC) + timedelta(days=1)
