"""`llmops audit verify` against a fake warehouse: exit 0 when intact, 3 with the findings when tampered, 2 for a
key of another tenant or a public key that is not one; `keygen` makes a pair that signs and verifies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from llmops_kit.audit_digests import public_key_text
from typer.testing import Result

from tests.unit.cli.conftest import FakePlatform
from tests.unit.kit.audit_chains import SIGNER, TENANT, chain, digests

Invoke = Callable[..., Result]
PUBLIC = public_key_text(SIGNER.public_key)


def serve(fake: FakePlatform, rows: list[dict[str, Any]], signed: list[dict[str, Any]], tenant: str = TENANT) -> None:
    """The warehouse's generic read of the two audit tables, newest first, in pages of ``limit``."""

    def route(request: httpx.Request) -> httpx.Response:
        table = request.url.path.rsplit("/", 1)[-1]
        data = {"audit_chain": rows[::-1], "audit_digests": signed[::-1]}[table]
        start, limit = int(request.url.params.get("cursor") or 0), int(request.url.params["limit"])
        page = [{"tenant_id": tenant, "data": d} for d in data[start : start + limit]]
        more = start + limit < len(data)
        return httpx.Response(200, json={"items": page, "next_cursor": str(start + limit) if more else None})

    fake.override = route


def test_an_intact_chain_exits_0(invoke: Invoke, fake: FakePlatform) -> None:
    rows = chain(2_500)
    serve(fake, rows, digests(rows, 1_000))
    result = invoke("audit", "verify", "--tenant", TENANT, "--public-key", PUBLIC, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["intact"], report["entries"], report["digests"], report["signed_through"]) == (True, 2500, 3, 2499)


def test_a_tampered_chain_exits_3_with_its_position(invoke: Invoke, fake: FakePlatform) -> None:
    rows = chain(300)
    signed = digests(rows, 100)
    rows[123] = {**rows[123], "entry": rows[123]["entry"].replace("success", "failure")}
    serve(fake, rows, signed)
    result = invoke("audit", "verify", "--tenant", TENANT, "--public-key", PUBLIC)
    assert result.exit_code == 3, result.output
    assert re.search(r"TAMPERED.*\n\s+edited at 123: ", result.output)


def test_a_chain_growing_while_it_is_read_is_not_reported_truncated(invoke: Invoke, fake: FakePlatform) -> None:
    # Each first read of an audit table is audited into the chain; the running writer chains the entry and signs
    # a digest of it before the next read. A digest read after the chain would sign an entry the verify missed.
    rows = chain(20)
    signed = digests(rows, 5)
    serve(fake, rows, signed)
    answer = fake.override
    assert answer is not None

    def live(request: httpx.Request) -> httpx.Response:
        response = answer(request)
        if "cursor" not in request.url.params:
            rows.extend(chain(1, prev_hash=rows[-1]["hash"], start=len(rows)))
            signed[:] = digests(rows, 5)
        return response

    fake.override = live
    result = invoke("audit", "verify", "--tenant", TENANT, "--public-key", PUBLIC, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["intact"]


def test_the_public_key_may_be_a_file_or_llmops_ups(invoke: Invoke, fake: FakePlatform, data_dir: Path) -> None:
    rows = chain(10)
    serve(fake, rows, digests(rows, 5))
    (data_dir / "audit-signing.pub").write_text(PUBLIC)
    assert invoke("audit", "verify", "--tenant", TENANT).exit_code == 0
    key_file = data_dir / "other.pub"
    key_file.write_text(PUBLIC)
    assert invoke("audit", "verify", "--tenant", TENANT, "--public-key", str(key_file)).exit_code == 0


def test_another_tenants_key_or_a_bad_public_key_is_bad_input(invoke: Invoke, fake: FakePlatform) -> None:
    rows = chain(10)
    serve(fake, rows, digests(rows, 5), tenant="globex")
    other = invoke("audit", "verify", "--tenant", TENANT, "--public-key", PUBLIC)
    assert other.exit_code == 2 and "reads tenant 'globex'" in other.output
    bad = invoke("audit", "verify", "--tenant", TENANT, "--public-key", "bm90IGEga2V5")
    assert bad.exit_code == 2 and "32 bytes" in bad.output
    assert invoke("audit", "verify", "--tenant", TENANT).exit_code == 2, "no key at all"


def test_keygen_prints_a_private_key_and_its_public_key(invoke: Invoke) -> None:
    result = invoke("audit", "keygen")
    assert result.exit_code == 0
    private = re.search(r"GOVERNANCE_AUDIT_SIGNING_KEY=(\S+)", result.output)
    public = re.search(r"--public-key\): (\S+)", result.output)
    assert private and public and private.group(1) != public.group(1)


def test_public_key_prints_the_public_key_of_a_private_key_on_stdin(invoke: Invoke) -> None:
    made = invoke("audit", "keygen")
    private = re.search(r"GOVERNANCE_AUDIT_SIGNING_KEY=(\S+)", made.output)
    public = re.search(r"--public-key\): (\S+)", made.output)
    assert private and public
    result = invoke("audit", "public-key", input=private.group(1) + "\n")
    assert result.exit_code == 0 and result.output.strip() == public.group(1)
    refused = invoke("audit", "public-key", input="not a key")
    assert refused.exit_code == 2 and "not a signing key" in refused.output
