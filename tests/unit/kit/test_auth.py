"""API-key auth: digests stored, 401 for missing/unknown keys, 403 for missing permissions, keys never logged."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from llmops_kit.auth import (
    API_KEY_SECURITY,
    ApiKeyRecord,
    ApiKeyStore,
    Principal,
    authenticate,
    generate_key,
    hash_key,
    requires,
)
from llmops_kit.http.app import Runtime, create_service_app
from llmops_kit.http.problems import PROBLEM_JSON
from llmops_kit.logging import configure_logging

WRITER_KEY = generate_key()
READER_KEY = generate_key()
SERVICE_KEY = generate_key()
UNKNOWN_KEY = generate_key()


def write_key_file(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"keys": entries}))
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return write_key_file(
        tmp_path / "keys.yaml",
        [
            {"id": "demo-writer", "tenant_id": "demo", "role": "writer", "sha256": hash_key(WRITER_KEY)},
            {"id": "acme-reader", "tenant_id": "acme", "role": "reader", "sha256": hash_key(READER_KEY)},
            {"id": "svc-evaluation", "tenant_id": "*", "role": "service", "sha256": hash_key(SERVICE_KEY)},
        ],
    )


def build_app(store: ApiKeyStore | None) -> FastAPI:
    async def build_runtime(app: FastAPI) -> Runtime:
        if store is not None:
            app.state.api_keys = store
        return Runtime()

    app = create_service_app(service="auth-test", title="t", description="d", version="0", build_runtime=build_runtime)
    log = logging.getLogger("llmops.test.auth")

    @app.post("/calls")
    async def write(principal: Annotated[Principal, Depends(requires("calls:write"))]) -> dict[str, str]:
        log.info("write by %s for tenant %s", principal.key_id, principal.tenant_id)
        return {"key_id": principal.key_id, "tenant_id": principal.tenant_id, "role": principal.role}

    @app.get("/calls")
    async def read(principal: Annotated[Principal, Depends(requires("calls:read"))]) -> dict[str, str]:
        return {"key_id": principal.key_id, "tenant_id": principal.tenant_id}

    @app.get("/explode")
    async def explode(request: Request, _: Annotated[Principal, Depends(requires("calls:read"))]) -> None:
        # A careless error path: the failure carries the request's headers into the logs.
        try:
            raise RuntimeError(f"downstream rejected {request.headers.get('authorization')}")
        except RuntimeError:
            log.exception("handling failed; headers were %s", dict(request.headers))
            raise

    return app


@pytest.fixture
def client(key_file: Path) -> Iterator[TestClient]:
    with TestClient(build_app(ApiKeyStore.from_file(key_file)), raise_server_exceptions=False) as c:
        yield c


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- storage -------------------------------------------------------------------------------------


def test_generated_keys_are_random_and_prefixed() -> None:
    a, b = generate_key(), generate_key()
    assert a != b
    assert a.startswith("llmops_")
    assert len(a) >= 40


def test_only_the_digest_is_stored(key_file: Path) -> None:
    assert hash_key(WRITER_KEY) == hashlib.sha256(WRITER_KEY.encode()).hexdigest()
    assert WRITER_KEY not in key_file.read_text()

    store = ApiKeyStore.from_file(key_file)
    principal = store.authenticate(WRITER_KEY)
    # A key of the former role `writer` is read as the fixed role `developer` (llmops_kit.roles.LEGACY_ROLES).
    assert principal == Principal(key_id="demo-writer", tenant_id="demo", role="developer")
    # Nothing the store or the principal keeps is the key itself.
    kept = repr(vars(store)) + repr(principal) + principal.model_dump_json()
    assert WRITER_KEY not in kept
    assert hash_key(WRITER_KEY) in repr(vars(store))


def test_store_rejects_unknown_and_near_miss_keys(key_file: Path) -> None:
    store = ApiKeyStore.from_file(key_file)
    assert store.authenticate(UNKNOWN_KEY) is None
    assert store.authenticate(WRITER_KEY + "x") is None
    assert store.authenticate(WRITER_KEY.upper()) is None
    assert store.authenticate(hash_key(WRITER_KEY)) is None  # the digest is not a credential
    assert store.authenticate("") is None


def test_empty_key_file_means_no_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("")
    assert ApiKeyStore.from_file(path).authenticate(WRITER_KEY) is None


# --- key file validation -------------------------------------------------------------------------


def test_bad_digest_error_names_the_file_entry_and_field_without_echoing_it(tmp_path: Path) -> None:
    # The likeliest bad digest: someone pasted the key itself instead of its hash.
    path = write_key_file(
        tmp_path / "keys.yaml",
        [
            {"id": "ok", "tenant_id": "demo", "role": "writer", "sha256": hash_key(READER_KEY)},
            {"id": "pasted-key", "tenant_id": "demo", "role": "writer", "sha256": WRITER_KEY},
        ],
    )
    with pytest.raises(ValueError) as caught:
        ApiKeyStore.from_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "pasted-key" in message
    assert "sha256" in message
    assert "64" in message  # says what a digest must look like
    assert WRITER_KEY not in message


def test_bad_role_error_names_the_entry_and_the_allowed_roles(tmp_path: Path) -> None:
    path = write_key_file(
        tmp_path / "keys.yaml",
        [{"id": "root", "tenant_id": "demo", "role": "superuser", "sha256": hash_key(WRITER_KEY)}],
    )
    with pytest.raises(ValueError) as caught:
        ApiKeyStore.from_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "root" in message
    assert "role" in message
    for allowed in ("admin", "operator", "developer", "analyst", "viewer", "ingest"):
        assert allowed in message


@pytest.mark.parametrize(
    "content",
    [
        "- id: x\n",  # a list, not a mapping
        "keys: {id: x}\n",  # keys is not a list
        "keys:\n  - just-a-string\n",
    ],
)
def test_malformed_key_file_is_a_clear_value_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
        ApiKeyStore.from_file(path)


def test_unknown_fields_in_a_key_entry_are_rejected() -> None:
    with pytest.raises(ValueError, match="key"):
        ApiKeyRecord.model_validate(
            {"id": "x", "tenant_id": "demo", "role": "reader", "sha256": hash_key("a"), "key": "plaintext"}
        )


# --- HTTP ----------------------------------------------------------------------------------------


def test_bearer_key_authenticates(client: TestClient) -> None:
    response = client.post("/calls", headers=bearer(WRITER_KEY))
    assert response.status_code == 200
    assert response.json() == {"key_id": "demo-writer", "tenant_id": "demo", "role": "developer"}


def test_x_api_key_header_authenticates(client: TestClient) -> None:
    response = client.post("/calls", headers={"X-API-Key": WRITER_KEY})
    assert response.status_code == 200
    assert response.json()["key_id"] == "demo-writer"


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["status"] == 401
    assert body["title"] == "Unauthorized"


def test_missing_key_is_401_with_www_authenticate(client: TestClient) -> None:
    assert_unauthorized(client.post("/calls"))


@pytest.mark.parametrize(
    "headers",
    [
        bearer(UNKNOWN_KEY),
        {"X-API-Key": UNKNOWN_KEY},
        bearer(""),
        {"Authorization": f"Basic {WRITER_KEY}"},  # not a bearer credential
        {"Authorization": WRITER_KEY},
    ],
)
def test_unknown_or_malformed_key_is_401_with_www_authenticate(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/calls", headers=headers)
    assert_unauthorized(response)
    assert WRITER_KEY not in response.text
    assert UNKNOWN_KEY not in response.text


def test_role_without_the_permission_is_403(client: TestClient) -> None:
    assert client.get("/calls", headers=bearer(READER_KEY)).status_code == 200
    response = client.post("/calls", headers=bearer(READER_KEY))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["title"] == "Forbidden"
    assert "calls:write" in body["detail"]
    assert READER_KEY not in response.text


def test_unconfigured_store_is_503_not_open_access() -> None:
    with TestClient(build_app(None)) as c:
        response = c.post("/calls", headers=bearer(WRITER_KEY))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    named = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    saved_named = [(lg.handlers[:], lg.propagate) for lg in named]
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for lg, (handlers, propagate) in zip(named, saved_named, strict=True):
        lg.handlers[:] = handlers
        lg.propagate = propagate


@pytest.mark.usefixtures("restore_logging")
def test_keys_never_reach_the_logs(key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("auth-test", "DEBUG")  # here, not in a fixture: capsys swaps sys.stdout per phase
    with TestClient(build_app(ApiKeyStore.from_file(key_file)), raise_server_exceptions=False) as c:
        assert c.post("/calls", headers=bearer(WRITER_KEY)).status_code == 200
        assert c.post("/calls", headers={"X-API-Key": WRITER_KEY}).status_code == 200
        assert c.post("/calls", headers=bearer(UNKNOWN_KEY)).status_code == 401
        assert c.post("/calls", headers=bearer(READER_KEY)).status_code == 403
        assert c.get("/explode", headers=bearer(READER_KEY)).status_code == 500
        assert c.get("/explode", headers={"X-API-Key": WRITER_KEY}).status_code == 500

    captured = capsys.readouterr()
    out = captured.out + captured.err
    # The requests were logged (so this test would see a leak) ...
    assert "write by demo-writer for tenant demo" in out
    assert "handling failed; headers were" in out
    assert "[REDACTED]" in out
    # ... and no key made it into them.
    for key in (WRITER_KEY, READER_KEY, UNKNOWN_KEY):
        assert key not in out


# --- service keys: read-only, one tenant per request -----------------------------------------------


def test_a_service_key_reads_for_the_tenant_its_request_names(client: TestClient) -> None:
    for tenant in ("demo", "acme"):
        r = client.get("/calls", headers={**bearer(SERVICE_KEY), "X-LLMOps-Tenant": tenant})
        assert r.status_code == 200, r.text
        assert r.json() == {"key_id": "svc-evaluation", "tenant_id": tenant}


def test_a_service_key_without_a_tenant_or_with_a_bad_one_is_refused(client: TestClient) -> None:
    r = client.get("/calls", headers=bearer(SERVICE_KEY))
    assert r.status_code == 400
    assert "X-LLMOps-Tenant" in r.json()["detail"]
    r = client.get("/calls", headers={**bearer(SERVICE_KEY), "X-LLMOps-Tenant": "*"})
    assert r.status_code == 400


def test_a_service_key_is_read_only(client: TestClient) -> None:
    r = client.post("/calls", headers={**bearer(SERVICE_KEY), "X-LLMOps-Tenant": "demo"})
    assert r.status_code == 403


def test_a_tenant_key_stays_in_its_tenant_whatever_it_names(client: TestClient) -> None:
    r = client.get("/calls", headers={**bearer(READER_KEY), "X-LLMOps-Tenant": "demo"})
    assert r.status_code == 200
    assert r.json()["tenant_id"] == "acme"


def test_only_service_keys_span_tenants() -> None:
    with pytest.raises(ValueError, match="goes with role 'service'"):
        ApiKeyRecord(id="x", tenant_id="*", role="reader", sha256="0" * 64)
    with pytest.raises(ValueError, match="goes with role 'service'"):
        ApiKeyRecord(id="x", tenant_id="demo", role="service", sha256="0" * 64)
    principal = ApiKeyStore([ApiKeyRecord(id="s", tenant_id="*", role="service", sha256=hash_key(SERVICE_KEY))])
    assert principal.authenticate(SERVICE_KEY).is_platform  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer(WRITER_KEY),
        bearer(READER_KEY),
        bearer(UNKNOWN_KEY),
        {"Authorization": f"bearer   {WRITER_KEY}  "},
        {"Authorization": f"Token {WRITER_KEY}"},
        {"Authorization": f"Basic {WRITER_KEY}", "X-API-Key": READER_KEY},
        {"Authorization": f" {WRITER_KEY}"},
        {"Authorization": "Bearer", "X-API-Key": WRITER_KEY},
        {"Authorization": "Bearer ", "X-API-Key": READER_KEY},
        {"X-API-Key": WRITER_KEY},
        {"X-API-Key": ""},
        {**bearer(READER_KEY), "X-LLMOps-Tenant": "demo"},
        bearer(SERVICE_KEY),
    ],
)
def test_authenticate_in_the_route_answers_as_the_dependency_does(key_file: Path, headers: dict[str, str]) -> None:
    """``authenticate(request, ...)`` (hot routes) reads the same headers and refuses the same way."""
    app = build_app(ApiKeyStore.from_file(key_file))

    @app.post("/calls-inline", openapi_extra={"security": API_KEY_SECURITY})
    async def write_inline(request: Request) -> dict[str, str]:
        principal = authenticate(request, "calls:write")
        return {"key_id": principal.key_id, "tenant_id": principal.tenant_id, "role": principal.role}

    with TestClient(app, raise_server_exceptions=False) as c:
        via_dependency, inline = c.post("/calls", headers=headers), c.post("/calls-inline", headers=headers)
        document = c.get("/openapi.json").json()["paths"]
    assert (inline.status_code, inline.json(), inline.headers.get("www-authenticate")) == (
        via_dependency.status_code,
        via_dependency.json(),
        via_dependency.headers.get("www-authenticate"),
    )
    assert document["/calls-inline"]["post"]["security"] == document["/calls"]["post"]["security"]


def test_authenticate_in_the_route_scopes_a_service_key_to_its_named_tenant(key_file: Path) -> None:
    app = build_app(ApiKeyStore.from_file(key_file))

    @app.get("/calls-inline", openapi_extra={"security": API_KEY_SECURITY})
    async def read_inline(request: Request) -> dict[str, str]:
        return {"tenant_id": authenticate(request, "calls:read").tenant_id}

    with TestClient(app, raise_server_exceptions=False) as c:
        named = c.get("/calls-inline", headers={**bearer(SERVICE_KEY), "X-LLMOps-Tenant": "acme"})
        unnamed = c.get("/calls-inline", headers=bearer(SERVICE_KEY))
    assert (named.status_code, named.json()) == (200, {"tenant_id": "acme"})
    assert unnamed.status_code == 400
