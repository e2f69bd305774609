"""Recompute a tenant's audit chain from stored rows and say where it was tampered with (docs/adr/0034).

:func:`verify_chain` takes the stored ``llmops.audit.chained.v1`` payloads (as the warehouse's generic read
returns them: plain dicts, in any order) and the stored ``llmops.audit.digest.v1`` payloads, and reports
:class:`Finding` s by position:

* each entry must hash to its ``hash`` from its ``prev_hash`` and its canonical ``entry`` text, and link to
  the entry before it: an edited, removed, inserted or moved entry breaks this at its position;
* each digest must carry a valid signature of a known key, digest numbers must have no gap, and the stored
  chain must hold each digest's ``last_hash`` at its ``last_sequence``: a rewrite that recomputed every later
  hash, and a tail cut off after a digest, fail here.

It is the hot loop of ``llmops audit verify``: one SHA-256 over the stored text per entry, no parsing and no
model validation (an entry's text is parsed only to explain a broken link), so a million entries take a
second or two (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from llmops_schemas.v1.audit import GENESIS_HASH
from llmops_schemas.v1.audit_chain import AuditDigest
from pydantic import ValidationError

from llmops_kit.audit_digests import DigestChecker

__all__ = ["MAX_FINDINGS", "ChainReport", "Finding", "verify_chain"]

MAX_FINDINGS = 100
"""Findings listed per tenant; a chain broken in more places is reported as such."""

FindingKind = Literal[
    "malformed", "edited", "rewritten", "missing", "inserted", "moved",
    "bad_signature", "unknown_key", "digest_gap", "digest_mismatch", "truncated",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with the stored chain, at ``position`` (a sequence number) when it has one."""

    kind: FindingKind
    position: int | None
    message: str


@dataclass(slots=True)
class ChainReport:
    """What the verifier found for one tenant."""

    tenant_id: str
    entries: int = 0
    digests: int = 0
    signed_through: int = -1
    """The last sequence that a valid digest covers (-1: none)."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """No finding: every entry links, and every digest is valid and matches the chain."""
        return not self.findings

    @property
    def unsigned(self) -> int:
        """Entries after the newest valid digest: linked, but not yet covered by a signature."""
        return max(0, self.entries - self.signed_through - 1)


def verify_chain(
    tenant_id: str, rows: Iterable[Mapping[str, Any]], digests: Iterable[Mapping[str, Any]], checker: DigestChecker
) -> ChainReport:
    """Verify ``tenant_id``'s stored chain ``rows`` against its stored ``digests`` (see the module docstring)."""
    report = ChainReport(tenant_id)
    hashes = _walk(sorted(rows, key=_sequence), report)
    _check_digests(tenant_id, list(digests), checker, hashes, report)
    return report


def _sequence(row: Mapping[str, Any]) -> int:
    value = row.get("sequence")
    return value if isinstance(value, int) else -1


def _walk(rows: Sequence[Mapping[str, Any]], report: ChainReport) -> list[str]:
    """Check every link in sequence order; returns the stored hash at each sequence ('' where one is missing).

    After a broken link the walk goes on from the stored hash, so one tampered entry is one finding (or two
    for a swap), not a cascade to the end of the chain.
    """
    sha256 = hashlib.sha256
    hashes: list[str] = []
    previous = GENESIS_HASH
    for row in rows:
        try:
            sequence, prev_hash, stored, entry = row["sequence"], row["prev_hash"], row["hash"], row["entry"]
            computed = sha256((prev_hash + entry).encode()).hexdigest()
            if type(sequence) is not int:
                raise TypeError(sequence)
        except (KeyError, TypeError, AttributeError):
            _add(report, Finding("malformed", _sequence(row), "a stored entry lacks its chain fields"))
            continue
        expected = len(hashes)
        if sequence != expected or prev_hash != previous or computed != stored:
            if sequence < expected:
                if hashes[sequence] != stored:  # the same entry twice is a redelivery, not tampering
                    _add(report, Finding("inserted", sequence, f"a second, different entry {sequence}"))
                continue
            _add(report, _diagnose(row, expected, computed, hashes, len(report.findings)))
            hashes.extend([""] * (sequence - expected))
        report.entries += 1
        hashes.append(stored)
        previous = stored
    return hashes


def _add(report: ChainReport, finding: Finding) -> None:
    """Keep the first :data:`MAX_FINDINGS` findings; count the rest in one last finding."""
    if len(report.findings) < MAX_FINDINGS:
        report.findings.append(finding)
    elif len(report.findings) == MAX_FINDINGS:
        report.findings.append(Finding(finding.kind, finding.position, "and more: only the first findings are listed"))


def _diagnose(row: Mapping[str, Any], expected: int, computed: str, hashes: list[str], found: int) -> Finding:
    """Why the entry stored at ``expected`` does not follow the one before it (only runs on a broken link)."""
    sequence = row["sequence"]
    if computed != row["hash"]:
        return Finding("edited", expected, f"entry {expected} does not hash to its stored hash: it was edited")
    if sequence > expected:
        return Finding("missing", expected, f"entries {expected}..{sequence - 1} are missing before entry {sequence}")
    # Looking back is linear: done for the first findings only, so a chain broken everywhere stays fast.
    earlier = _index(hashes, row["prev_hash"]) if found < MAX_FINDINGS else None
    if earlier is not None and earlier < expected - 1:
        return Finding("inserted", earlier + 1, f"entries {earlier + 1}..{expected - 1} were inserted before "
                       f"entry {expected}, which follows entry {earlier}")  # fmt: skip
    written_at = _written_at(row["entry"])
    if written_at is not None and written_at != expected:
        return Finding("moved", expected, f"the entry at {expected} was written at {written_at}: entries were "
                       "removed or reordered before it")  # fmt: skip
    return Finding("rewritten", expected - 1, f"entry {expected - 1} was rewritten: entry {expected} follows "
                   "another hash")  # fmt: skip


def _index(hashes: list[str], value: str) -> int | None:
    """The last position holding ``value`` (searched from the end: a broken link usually points close by)."""
    for position in range(len(hashes) - 1, -1, -1):
        if hashes[position] == value:
            return position
    return None


def _written_at(entry: str) -> int | None:
    """The sequence the writer put inside the hashed text, if it can be read."""
    try:
        value = json.loads(entry).get("sequence")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _check_digests(
    tenant_id: str, raw: list[Mapping[str, Any]], checker: DigestChecker, hashes: list[str], report: ChainReport
) -> None:
    """Signatures, numbering, and the chain's hash at each digest's last sequence."""
    valid: list[AuditDigest] = []
    for data in raw:
        digest = _parse_digest(data, report.findings)
        if digest is None:
            continue
        if not checker.knows(digest.key_id):
            report.findings.append(
                Finding("unknown_key", None, f"digest {digest.digest_number} is signed by unknown key {digest.key_id}")
            )
        elif not checker.valid(tenant_id, digest):
            report.findings.append(Finding("bad_signature", None, f"digest {digest.digest_number}: invalid signature"))
        else:
            valid.append(digest)
    report.digests = len(valid)
    _check_numbering(valid, report.findings)
    for digest in sorted(valid, key=lambda d: d.last_sequence):
        _match(digest, hashes, report)


def _parse_digest(data: Mapping[str, Any], findings: list[Finding]) -> AuditDigest | None:
    try:
        return AuditDigest.model_validate(data)
    except ValidationError as exc:
        findings.append(Finding("malformed", None, f"a stored digest is not valid: {exc.errors()[0]['msg']}"))
        return None


def _check_numbering(digests: list[AuditDigest], findings: list[Finding]) -> None:
    numbers = sorted({d.digest_number for d in digests})
    missing = sorted(set(range(numbers[-1] + 1)) - set(numbers)) if numbers else []
    if missing:
        findings.append(Finding("digest_gap", None, f"digests {missing[:10]} are missing"))


def _match(digest: AuditDigest, hashes: list[str], report: ChainReport) -> None:
    last = digest.last_sequence
    if last >= len(hashes):
        message = f"digest {digest.digest_number} signed entries up to {last}; the chain ends at {len(hashes) - 1}"
        report.findings.append(Finding("truncated", len(hashes), message))
    elif not hashes[last]:
        # The entry the digest ends at is gone: the walk already reported it as missing; a second finding
        # ("rewritten") would misname a deletion, and the digest cannot be checked against an absent entry.
        return
    elif hashes[last] != digest.last_hash:
        span = f"{digest.first_sequence}..{last}"
        message = f"digest {digest.digest_number} signed another hash at {last}: entries {span} were rewritten"
        report.findings.append(Finding("digest_mismatch", digest.first_sequence, message))
    else:
        report.signed_through = max(report.signed_through, last)
