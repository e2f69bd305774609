"""The local platform `llmops up` runs: Kafka, then each service as its own process.

Everything lives under the data dir (``.data`` by default) so a second `llmops up` reuses the
broker's storage, the ClickHouse data and the development API keys.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from llmops_kit.auth import generate_key, hash_key
from llmops_kit.infra import LocalKafkaBroker
from llmops_kit.infra.process import ManagedProcess

__all__ = ["LocalPlatform", "PlatformPorts", "ensure_dev_keys"]

DEV_TENANT = "demo"
DEV_ROLES = ("admin", "writer", "reader")


@dataclass(frozen=True)
class PlatformPorts:
    kafka: int = 9092
    kafka_controller: int = 9093
    ingest: int = 8001
    warehouse: int = 8002


def ensure_dev_keys(data_dir: Path) -> tuple[Path, dict[str, str]]:
    """Create (once) one key per role for the demo tenant; returns the hashed key file and the keys.

    Plain keys go to ``credentials.json`` (mode 0600) for the CLI's own use; services only ever see
    the hashed file.
    """
    keys_file, creds_file = data_dir / "api-keys.yaml", data_dir / "credentials.json"
    if keys_file.is_file() and creds_file.is_file():
        return keys_file, json.loads(creds_file.read_text())
    keys = {role: generate_key() for role in DEV_ROLES}
    records = [
        {"id": f"dev-{role}", "tenant_id": DEV_TENANT, "role": role, "sha256": hash_key(key)}
        for role, key in keys.items()
    ]
    data_dir.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(yaml.safe_dump({"keys": records}, sort_keys=False))
    creds_file.write_text(json.dumps(keys, indent=2))
    creds_file.chmod(0o600)
    return keys_file, keys


@dataclass
class LocalPlatform:
    """Starts and stops the platform's processes in dependency order."""

    data_dir: Path
    ports: PlatformPorts = field(default_factory=PlatformPorts)
    broker: LocalKafkaBroker | None = None
    services: list[ManagedProcess] = field(default_factory=list)

    @property
    def bootstrap_servers(self) -> str:
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if external:
            return external
        assert self.broker is not None
        return self.broker.bootstrap_servers

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, service)}"

    def start_kafka(self) -> None:
        """Start the local broker unless ``KAFKA_BOOTSTRAP_SERVERS`` points at an existing cluster."""
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            return
        self.broker = LocalKafkaBroker(self.data_dir / "kafka", self.ports.kafka, self.ports.kafka_controller)
        self.broker.start()

    def start_services(self, keys_file: Path) -> None:
        common = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "LLMOPS_API_KEYS_FILE": str(keys_file),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        }
        clickhouse = os.environ.get("CLICKHOUSE_URL", f"chdb://{(self.data_dir / 'clickhouse').resolve()}")
        specs = {
            "warehouse": {"WAREHOUSE_PORT": str(self.ports.warehouse), "CLICKHOUSE_URL": clickhouse},
            "ingest": {"INGEST_PORT": str(self.ports.ingest)},
        }
        for name, env in specs.items():
            process = ManagedProcess(
                name,
                [str(Path(sys.executable).with_name(f"llmops-{name}"))],
                log_path=self.data_dir / "logs" / f"{name}.log",
                env={**common, **env},
                ready_url=f"{self.url(name)}/readyz",
            )
            process.start()
            self.services.append(process)
        for process in self.services:
            process.wait_ready(timeout_s=120)

    def dead_services(self) -> list[ManagedProcess]:
        return [p for p in self.services if not p.alive()]

    def stop(self) -> None:
        """Stop services first (they drain and commit), then the broker."""
        for process in reversed(self.services):
            process.stop()
        self.services.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
