"""The local platform `llmops up` runs: Kafka, then each service as its own process.

Everything lives under the data dir (``.data`` by default) so a second `llmops up` reuses the
broker's storage, the ClickHouse data and the development API keys.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from llmops_kit.auth import generate_key, hash_key
from llmops_kit.infra import LocalKafkaBroker
from llmops_kit.infra.process import ManagedProcess
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics

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
    creds_file.unlink(missing_ok=True)
    with os.fdopen(os.open(creds_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(json.dumps(keys, indent=2))
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

    def apply_topic_catalog(self) -> list[str]:
        """Create every topic of infra/kafka/topics.yaml (and its DLQ) that is missing; idempotent."""
        return asyncio.run(ensure_topics(self.bootstrap_servers, TopicCatalog.load()))

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
            self.services.append(process)  # listed before it starts: an interrupt in between still stops it
            process.start()
        for process in self.services:
            process.wait_ready(timeout_s=120)

    def busy_ports(self) -> list[str]:
        """``--<name>-port N`` for each port this platform needs that something else already listens on."""
        needed = {"ingest": self.ports.ingest, "warehouse": self.ports.warehouse}
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            needed |= {"kafka": self.ports.kafka, "kafka-controller": self.ports.kafka_controller}
        return [f"--{name}-port {port}" for name, port in needed.items() if not _port_free(port)]

    def dead_processes(self) -> list[str]:
        """Names of the processes that exited on their own (the broker included)."""
        dead = [p.name for p in self.services if not p.alive()]
        if self.broker is not None and not self.broker.running:
            dead.insert(0, "kafka")
        return dead

    def log_tail(self, name: str) -> str:
        if name == "kafka":
            return self.broker.log_tail(30) if self.broker else ""
        return next((p.log_tail() for p in self.services if p.name == name), "")

    def pids(self) -> dict[str, int]:
        """Process (and process group) id of each child, for ``up.json``."""
        pids = {p.name: p.pid for p in self.services if p.pid is not None}
        if self.broker is not None and self.broker.pid is not None:
            pids["kafka"] = self.broker.pid
        return pids

    def stop(self) -> None:
        """Stop services first (they drain and commit), then the broker."""
        for process in reversed(self.services):
            process.stop()
        self.services.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on ``port`` (a bind succeeds; SO_REUSEADDR as servers set it, so TIME_WAIT is no obstacle)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
