"""The verifier of ``llmops audit verify`` finds each kind of tampering, at its position, in a chain of 100,000."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from llmops_kit.audit_digests import DigestChecker, DigestSigner, generate_private_key
from llmops_kit.audit_verify import MAX_FINDINGS, ChainReport, verify_chain
from llmops_schemas.v1.audit_chain import AuditChained, link_hash

from tests.unit.kit.audit_chains import AT, CHECKER, TENANT, chain, digests

COUNT = 100_000
EVERY = 1_000
POSITIONS = [0, 1, 31_337, 50_000, 99_998, 99_999]

Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def stored() -> tuple[Rows, Rows]:
    rows = chain(COUNT)
    return rows, digests(rows, EVERY)


def check(rows: Rows, signed: Rows, checker: DigestChecker = CHECKER) -> ChainReport:
    return verify_chain(TENANT, rows, signed, checker)


def first(report: ChainReport) -> tuple[str, int | None]:
    assert report.findings, "the tampering went unnoticed"
    return report.findings[0].kind, report.findings[0].position


def test_an_intact_chain_verifies_and_is_signed_to_its_end(stored: tuple[Rows, Rows]) -> None:
    rows, signed = stored
    report = check(rows, signed)
    assert report.intact, report.findings
    assert (report.entries, report.digests, report.signed_through, report.unsigned) == (COUNT, 100, COUNT - 1, 0)


def test_the_order_rows_come_in_does_not_matter(stored: tuple[Rows, Rows]) -> None:
    rows, signed = stored
    assert check(rows[::-1], signed[::-1]).intact, "the warehouse reads newest first"


def test_a_redelivered_entry_is_not_tampering(stored: tuple[Rows, Rows]) -> None:
    rows, signed = stored
    assert check([*rows, rows[777]], signed).intact


@pytest.mark.parametrize("position", POSITIONS)
def test_an_edited_entry_is_found_at_its_position(stored: tuple[Rows, Rows], position: int) -> None:
    rows, signed = list(stored[0]), stored[1]
    rows[position] = {
        **rows[position],
        "entry": rows[position]["entry"].replace('"outcome":"success"', '"outcome":"denied"'),
    }
    assert first(check(rows, signed)) == ("edited", position)


@pytest.mark.parametrize("position", POSITIONS[:-1])
def test_an_entry_rewritten_with_its_own_hash_is_found_at_its_position(
    stored: tuple[Rows, Rows], position: int
) -> None:
    rows, signed = list(stored[0]), stored[1]
    forged = rows[position]["entry"].replace('"outcome":"success"', '"outcome":"failure"')
    rows[position] = {**rows[position], "entry": forged, "hash": link_hash(rows[position]["prev_hash"], forged)}
    assert first(check(rows, signed)) == ("rewritten", position)


@pytest.mark.parametrize("position", POSITIONS[:-1])
def test_a_deleted_entry_is_found_at_its_position(stored: tuple[Rows, Rows], position: int) -> None:
    rows, signed = list(stored[0]), stored[1]
    del rows[position]
    assert first(check(rows, signed)) == ("missing", position)


@pytest.mark.parametrize("position", [EVERY - 1, 2 * EVERY - 1])
def test_a_deleted_entry_a_digest_ends_at_is_one_missing_finding(stored: tuple[Rows, Rows], position: int) -> None:
    # Where the writer cut a digest depends on timing; deleting the entry it ends at is still only a deletion.
    rows, signed = list(stored[0]), stored[1]
    del rows[position]
    assert [(f.kind, f.position) for f in check(rows, signed).findings] == [("missing", position)]


@pytest.mark.parametrize("position", POSITIONS[:-1])
def test_a_deleted_entry_is_found_even_when_later_ones_are_renumbered(stored: tuple[Rows, Rows], position: int) -> None:
    rows = [dict(row) for row in stored[0]]
    del rows[position]
    for row in rows[position:]:
        row["sequence"] -= 1
    assert first(check(rows, stored[1])) == ("moved", position)


@pytest.mark.parametrize("position", POSITIONS[1:])
def test_an_inserted_entry_is_found_at_its_position(stored: tuple[Rows, Rows], position: int) -> None:
    """A forged entry linked properly to the one before it, with every later entry renumbered."""
    rows = [dict(row) for row in stored[0]]
    forged = AuditChained.link(
        rows[position - 1]["hash"], tenant_id=TENANT, sequence=position, record_id="forged", source="/x", record={}
    ).model_dump(mode="json")
    for row in rows[position:]:
        row["sequence"] += 1
    rows.insert(position, forged)
    assert first(check(rows, stored[1])) == ("inserted", position)


@pytest.mark.parametrize("position", POSITIONS)
def test_a_second_entry_at_a_position_is_found(stored: tuple[Rows, Rows], position: int) -> None:
    rows, signed = stored
    prev_hash = rows[position - 1]["hash"] if position else rows[0]["prev_hash"]
    forged = AuditChained.link(prev_hash, tenant_id=TENANT, sequence=position, record_id="forged", source="/x",
                               record={})  # fmt: skip
    assert first(check([*rows, forged.model_dump(mode="json")], signed)) == ("inserted", position)


@pytest.mark.parametrize("position", POSITIONS[:-1])
def test_two_swapped_entries_are_found_at_their_position(stored: tuple[Rows, Rows], position: int) -> None:
    rows = [dict(row) for row in stored[0]]
    rows[position]["sequence"], rows[position + 1]["sequence"] = position + 1, position
    assert first(check(rows, stored[1])) == ("moved", position)


@pytest.mark.parametrize("position", POSITIONS)
def test_a_rewrite_that_recomputes_every_later_hash_is_caught_by_the_digests(
    stored: tuple[Rows, Rows], position: int
) -> None:
    rows, signed = copy.deepcopy(stored[0][:position]), stored[1]
    prev_hash = rows[-1]["hash"] if rows else stored[0][0]["prev_hash"]
    for original in stored[0][position:]:
        entry = original["entry"].replace('"outcome":"success"', '"outcome":"denied"')
        rows.append({**original, "prev_hash": prev_hash, "entry": entry, "hash": link_hash(prev_hash, entry)})
        prev_hash = rows[-1]["hash"]
    report = check(rows, signed)
    assert [f.kind for f in report.findings] == ["digest_mismatch"] * (len(signed) - position // EVERY)
    assert report.findings[0].position == position - position % EVERY, "the first digest span holding the rewrite"
    assert report.signed_through == position - position % EVERY - 1


@pytest.mark.parametrize("kept", [0, 1, 50_000, 99_999])
def test_a_truncated_tail_is_caught_by_the_digests(stored: tuple[Rows, Rows], kept: int) -> None:
    rows, signed = stored
    report = check(rows[:kept], signed)
    assert first(report)[0] == "truncated"
    assert all(f.kind == "truncated" and f.position == kept for f in report.findings)


def test_a_removed_digest_leaves_a_gap(stored: tuple[Rows, Rows]) -> None:
    rows, signed = stored
    report = check(rows, signed[:40] + signed[41:])
    assert [f.kind for f in report.findings] == ["digest_gap"]
    assert "[40]" in report.findings[0].message


def test_a_forged_or_foreign_digest_is_refused(stored: tuple[Rows, Rows]) -> None:
    rows, signed = stored
    forged = {**signed[-1], "last_sequence": COUNT - 2, "last_hash": rows[COUNT - 2]["hash"]}
    assert [f.kind for f in check(rows, [*signed, forged]).findings] == ["bad_signature"]
    other = DigestSigner.from_text(generate_private_key())
    alien = other.sign(TENANT, digest_number=100, first_sequence=0, last_sequence=0, last_hash=rows[0]["hash"],
                       signed_at=AT)  # fmt: skip
    assert [f.kind for f in check(rows, [*signed, alien.model_dump(mode="json")]).findings] == ["unknown_key"]


def test_a_digest_of_another_tenant_does_not_verify_here(stored: tuple[Rows, Rows]) -> None:
    rows, signed = stored
    report = verify_chain("globex", rows, signed, CHECKER)
    assert {f.kind for f in report.findings} == {"bad_signature"}


def test_malformed_rows_are_findings_not_crashes(stored: tuple[Rows, Rows]) -> None:
    rows, signed = stored
    report = check([*rows, {"sequence": "7"}, {"hash": 1}], [*signed, {"digest_number": -1}])
    assert sorted(f.kind for f in report.findings) == ["malformed", "malformed", "malformed"]


def test_a_chain_broken_everywhere_lists_a_bounded_number_of_findings() -> None:
    rows = chain(3 * MAX_FINDINGS)
    for row in rows:
        row["hash"] = "0" * 64
    report = verify_chain(TENANT, rows, [], CHECKER)
    assert len(report.findings) == MAX_FINDINGS + 1
