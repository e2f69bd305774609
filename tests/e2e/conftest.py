"""End-to-end fixtures: ingest, warehouse, model server and gateway as separate OS processes on the suite's real
broker."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_kit.auth import generate_key, hash_key
from llmops_kit.infra import free_port
from llmops_kit.infra.process import ManagedProcess

from tests.e2e.offsets import wait_until_committed

CALLS_TOPIC = "llmops.calls.recorded"


@dataclass
class E2EPlatform:
    """A tenant of its own, a hashed key file, and helpers to start/kill/restart the services."""

    bootstrap: str
    workdir: Path
    tenant: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:8]}")
    key: str = field(default_factory=generate_key)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys_file = self.workdir / "api-keys.yaml"
        record = {"id": "e2e", "tenant_id": self.tenant, "role": "writer", "sha256": hash_key(self.key)}
        self.keys_file.write_text(yaml.safe_dump({"keys": [record]}))
        self.group = f"warehouse-{self.tenant}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str, **env: str) -> ManagedProcess:
        """Start ``llmops-<name>`` (reusing its port on a restart) and wait until it is ready."""
        return self.launch(name, env)

    def launch(
        self, name: str, env: dict[str, str], *, ready_path: str = "/readyz", timeout_s: float = 120
    ) -> ManagedProcess:
        """:meth:`start` with the ready endpoint and how long to wait for it."""
        port = self.ports.setdefault(name, free_port())
        prefix = name.upper().replace("-", "_")
        process = ManagedProcess(
            name,
            [str(Path(sys.executable).with_name(f"llmops-{name}"))],
            log_path=self.workdir / f"{name}.log",
            env={
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "LLMOPS_API_KEYS_FILE": str(self.keys_file),
                f"{prefix}_PORT": str(port),
                "LOG_LEVEL": "WARNING",
                **env,
            },
            ready_url=f"http://127.0.0.1:{port}{ready_path}",
        )
        process.start()
        self.processes[name] = process
        process.wait_ready(timeout_s=timeout_s)
        return process

    def start_warehouse(self) -> ManagedProcess:
        return self.start(
            "warehouse",
            CLICKHOUSE_URL=f"chdb://{self.workdir / 'clickhouse'}",
            WAREHOUSE_CONSUMER_GROUP=self.group,
        )

    def start_model_server(self) -> ManagedProcess:
        """PyTriton serving ``llm`` and ``embedder`` (models from the repo's cache, built there when missing)."""
        grpc = self.ports.setdefault("model-server-grpc", free_port())
        metrics = self.ports.setdefault("model-server-metrics", free_port())
        env = {
            "MODEL_SERVER_HOST": "127.0.0.1",
            "MODEL_SERVER_GRPC_PORT": str(grpc),
            "MODEL_SERVER_METRICS_PORT": str(metrics),
        }
        return self.launch("model-server", env, ready_path="/v2/health/ready", timeout_s=180)

    def start_gateway(self, models: dict[str, list[dict[str, Any]]], **env: str) -> ManagedProcess:
        """The inference gateway with a routes file of ``models`` over one ``triton`` upstream (the model server)."""
        routes = {
            "upstreams": [{"name": "triton", "base_url": f"grpc://127.0.0.1:{self.ports['model-server-grpc']}"}],
            "models": models,
        }
        routes_file = self.workdir / "inference-routes.yaml"
        routes_file.write_text(yaml.safe_dump(routes))
        return self.start(
            "inference",
            INFERENCE_ROUTES_FILE=str(routes_file),
            INFERENCE_SPOOL_DIR=str(self.workdir / "inference-spool"),
            INFERENCE_DEFAULT_APP="e2e",
            **env,
        )

    def stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def send(self, client: httpx.Client, calls: list[dict[str, Any]]) -> dict[str, Any]:
        response = client.post(f"{self.url('ingest')}/v1/calls", json={"calls": calls}, headers=self.headers)
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def total_calls(self, client: httpx.Client) -> int:
        """Calls counted by the per-minute rollup (a duplicate insert would be counted twice there)."""
        response = client.get(
            f"{self.url('warehouse')}/v1/metrics/summary",
            params={"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"},
            headers=self.headers,
        )
        assert response.status_code == 200, f"the calls summary answered {response.status_code}: {response.text[:500]}"
        return sum(int(row["calls"]) for row in response.json()["items"])

    def wait_for_total(self, client: httpx.Client, expected: int, timeout_s: float = 180) -> int:
        """The stored total once it reached ``expected`` and the warehouse committed every record of the calls
        topic (so a duplicate, had one been stored, is counted by then); the last total seen at the deadline."""
        deadline = time.monotonic() + timeout_s
        total = self.total_calls(client)
        while total < expected and time.monotonic() < deadline:
            time.sleep(0.5)
            total = self.total_calls(client)
        if total < expected:
            return total
        wait_until_committed(self.bootstrap, self.group, CALLS_TOPIC, max(1.0, deadline - time.monotonic()))
        return self.total_calls(client)

    def all_call_ids(self, client: httpx.Client) -> list[str]:
        """Every stored call id, by walking the cursor pages of GET /v1/calls."""
        ids: list[str] = []
        params: dict[str, Any] = {"limit": 1000, "start": "2000-01-01T00:00:00Z"}
        while True:
            response = client.get(f"{self.url('warehouse')}/v1/calls", params=params, headers=self.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            ids.extend(item["call_id"] for item in page["items"])
            if not page.get("next_cursor"):
                return ids
            params["cursor"] = page["next_cursor"]


@pytest.fixture
def e2e_platform(kafka_bootstrap: str, tmp_path: Path) -> Iterator[E2EPlatform]:
    platform = E2EPlatform(bootstrap=kafka_bootstrap, workdir=tmp_path)
    try:
        yield platform
    finally:
        platform.stop_all()
