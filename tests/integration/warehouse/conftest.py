"""One embedded chDB engine for the whole pytest session (chDB allows a single engine path per process), or a
ClickHouse server in a container with ``LLMOPS_TEST_BACKEND=testcontainers`` (tests/fixtures/backends.py).

Tests isolate themselves by tenant id (the store contract) or by using a database of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from llmops_kit.kafka.producer import EventProducer
from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.migrations import apply_migrations

from tests.fixtures.backends import Backend, clickhouse_container, session_backend

_CHDB: dict[str, Any] = {}


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A clickhouse-connect client on this session's chDB engine (the same path for every test), or the container's."""
    if session_backend() is Backend.TESTCONTAINERS:
        with clickhouse_container() as url:
            yield connect(url)
        return
    if "client" not in _CHDB:
        path = tmp_path_factory.mktemp("chdb") / "engine"
        _CHDB["url"] = f"chdb://{path}"
        _CHDB["client"] = connect(_CHDB["url"])
    yield _CHDB["client"]


@pytest.fixture(scope="session")
def chdb_url(chdb_client: Any) -> str:
    """The URL of the session's chDB engine: more clients on it share the engine (as the store's readers do)."""
    url: str = _CHDB["url"]
    return url


@pytest.fixture(scope="session")
def warehouse_database(chdb_client: Any) -> str:
    """A database migrated to the current schema, shared by the session (isolate by tenant id)."""
    database = "llmops_it"
    apply_migrations(chdb_client, database=database)
    return database


@pytest.fixture
def scratch_database(chdb_client: Any) -> Iterator[str]:
    """A fresh, empty database name, dropped after the test."""
    database = f"scratch_{uuid.uuid4().hex[:12]}"
    yield database
    chdb_client.command(f"DROP DATABASE IF EXISTS {database} SYNC")


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    """A started producer on the session broker, as the warehouse's DLQ producer and the tests' publisher."""
    producer = EventProducer(kafka_bootstrap, service="warehouse-it")
    await producer.start()
    yield producer
    await producer.stop()
