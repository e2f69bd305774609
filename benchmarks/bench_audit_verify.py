"""How fast ``llmops audit verify`` checks a tenant's audit chain (issue 10: 1,000,000 entries in under 10 s).

Two phases, both in this process:

* **verify** (the target): ``--entries`` chained entries (default 1,000,000) and a signed digest every
  ``--digest-every`` entries, as the warehouse's read API hands them over (payload dicts, newest first), through
  :func:`llmops_kit.audit_verify.verify_chain`: sort by sequence, one SHA-256 per entry, every digest signature.
* **read + verify**: ``--stored`` entries (default 100,000) written into a temporary chDB through the warehouse's
  store, read back through its HTTP read API (``GET /v1/events/audit_chain``, pages of 1,000, over an in-process
  ASGI transport, so no network) with the kit's ``WarehouseReader``, as ``llmops audit verify`` reads them.

Usage: ``uv run python benchmarks/bench_audit_verify.py [--entries N] [--stored N]``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from llmops_cli.audit_cmd import read_chain
from llmops_kit.audit_digests import DigestChecker, DigestSigner, generate_private_key
from llmops_kit.audit_verify import ChainReport, verify_chain
from llmops_kit.auth import ANY_TENANT, SERVICE_ROLE, ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas.v1 import AuditChained, AuditDigest
from llmops_schemas.v1.audit import GENESIS_HASH
from llmops_schemas.v1.audit_chain import chain_entry, link_hash
from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.migrations import apply_migrations

TENANT = "bench"
KEY = "llmops_bench_audit_service_key_00000000000"
SIGNER = DigestSigner.from_text(generate_private_key())
CHECKER = DigestChecker([SIGNER.public_key])
START = datetime(2026, 1, 1, tzinfo=UTC)


def build(count: int, every: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A chain of ``count`` realistic entries and its digests, as payload dicts (newest first, as served)."""
    rows: list[dict[str, Any]] = []
    prev = GENESIS_HASH
    for n in range(count):
        record = {"actor": {"type": "api_key", "id": f"key-{n % 17}"}, "action": "prompt.publish",
                  "resource": {"type": "prompt", "id": f"support-answer-{n % 101}"}, "outcome": "success",
                  "request_id": f"req-{n:08d}", "after_digest": f"{n:064x}", "details": {"version": n},
                  "occurred_at": (START + timedelta(milliseconds=n)).isoformat()}  # fmt: skip
        entry = chain_entry(tenant_id=TENANT, sequence=n, record_id=str(uuid.UUID(int=n)), source="/services/x",
                            record=record)  # fmt: skip
        digest = link_hash(prev, entry)
        rows.append({"sequence": n, "prev_hash": prev, "hash": digest, "record_id": str(uuid.UUID(int=n)),
                     "entry": entry})  # fmt: skip
        prev = digest
    digests = []
    for number, last in enumerate(range(every - 1, count, every)):
        signed = SIGNER.sign(TENANT, digest_number=number, first_sequence=last - every + 1, last_sequence=last,
                             last_hash=rows[last]["hash"], signed_at=START)  # fmt: skip
        digests.append(signed.model_dump(mode="json"))
    return rows[::-1], digests[::-1]


def timed_verify(rows: list[dict[str, Any]], digests: list[dict[str, Any]]) -> tuple[ChainReport, float]:
    started = time.perf_counter()
    report = verify_chain(TENANT, rows, digests, CHECKER)
    return report, time.perf_counter() - started


def _stored(table: str, payload: AuditChained | AuditDigest, n: int) -> StoredEvent:
    return StoredEvent(table=table, event_id=uuid.uuid4(), tenant_id=TENANT, event_type=payload.event_type,
                       time_ms=int(START.timestamp() * 1000) + n, source="/services/governance-audit",
                       payload=payload)  # fmt: skip


async def read_and_verify(rows: list[dict[str, Any]], digests: list[dict[str, Any]]) -> tuple[ChainReport, float]:
    """Store the chain in a fresh chDB, then read it through the warehouse's API and verify it."""
    client = connect(f"chdb://{tempfile.mkdtemp(prefix='bench-audit-')}/engine")
    apply_migrations(client, database="bench")
    store = ClickHouseEventStore(client, "bench")
    chained = [_stored("audit_chain", AuditChained.model_construct(**r), r["sequence"]) for r in rows]
    for start in range(0, len(chained), 20_000):
        store.insert_events(chained[start : start + 20_000])
    store.insert_events([_stored("audit_digests", AuditDigest.model_validate(d), d["last_sequence"]) for d in digests])
    keys = ApiKeyStore([ApiKeyRecord(id="svc", tenant_id=ANY_TENANT, role=SERVICE_ROLE, sha256=hash_key(KEY))])
    app = create_app(WarehouseSettings(api_keys_file=None), ports=WarehousePorts(store, keys))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        reader = WarehouseReader(PlatformClient("warehouse", "http://warehouse", KEY, transport=transport))
        started = time.perf_counter()
        report = verify_chain(TENANT, *await read_chain(reader, TENANT), CHECKER)
        return report, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--digest-every", type=int, default=1_000)
    args = parser.parse_args()
    started = time.perf_counter()
    rows, digests = build(args.entries, args.digest_every)
    print(f"built {len(rows):,} entries and {len(digests):,} digests in {time.perf_counter() - started:.1f} s")
    report, seconds = timed_verify(rows, digests)
    assert report.intact and report.entries == args.entries, report.findings
    stored_rows, stored_digests = build(args.stored, args.digest_every)
    e2e, e2e_s = asyncio.run(read_and_verify(stored_rows, stored_digests))
    assert e2e.intact and e2e.entries == args.stored, e2e.findings
    print("| phase | entries | digests | seconds | entries/s |")
    print("| --- | --- | --- | --- | --- |")
    rate = args.entries / seconds
    print(f"| verify (in memory) | {args.entries:,} | {report.digests:,} | {seconds:.2f} | {rate:,.0f} |")
    print(f"| read through the warehouse API + verify | {args.stored:,} | {e2e.digests:,} | {e2e_s:.2f} | "
          f"{args.stored / e2e_s:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
