"""The local platform `llmops up` runs: Kafka, then each service as its own process.

The model server (PyTriton serving ``llm`` and ``embedder`` on the CPU) starts with ingest and the warehouse;
the inference gateway starts once it is ready, with a routes file in the data dir that sends
:data:`GATEWAY_MODEL` to its ``llm`` and :data:`EMBEDDING_MODEL` to its ``embedder``.

Everything lives under the data dir (``.data`` by default) so a second `llmops up` reuses the
broker's storage, the ClickHouse data and the development API keys.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from llmops_kit.auth import ANY_TENANT as SERVICE_TENANT
from llmops_kit.auth import SERVICE_ROLE, generate_key, hash_key
from llmops_kit.infra import LocalKafkaBroker
from llmops_kit.infra.process import ManagedProcess
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
from llmops_kit.settings import KafkaSecurity

from llmops_cli.audit_cmd import ensure_audit_signing_key
from llmops_cli.demo_upstream import DEMO_UPSTREAM_MODEL

__all__ = ["EMBEDDING_MODEL", "GATEWAY_MODEL", "LocalPlatform", "PlatformPorts", "ensure_dev_keys", "write_routes"]

DEV_TENANT = "demo"
DEV_ROLES = ("admin", "writer", "reader", "reviewer", "service")
"""One key per role; ``service`` is the platform's own (any tenant): the evaluation service's runs use it."""
GATEWAY_MODEL = "opticks-gpt2"  # the public name the gateway routes to the model server's `llm`
EMBEDDING_MODEL = "local-embedder"  # and to its `embedder` (the name infra/dev and Helm use too)
JUDGE_MODEL = "local-judge"  # and to its deterministic `judge` (the evaluation service's LLM-as-judge demo)
TOOLS_MODEL = "demo-tools"  # and to the demo upstream's scripted tool-calling model (llmops up only)
MODEL_SERVER_READY_TIMEOUT_S = 180.0
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class PlatformPorts:
    kafka: int = 9092
    kafka_controller: int = 9093
    ingest: int = 8001
    warehouse: int = 8002
    model_server: int = 8100  # HTTP (KServe v2 + health); gRPC is the next port, Prometheus metrics the one after
    inference: int = 8003
    demo_upstream: int = 8004  # the scripted tool-calling model the gateway's `demo-tools` routes to
    feedback: int = 8006
    evaluation: int = 8005
    cost: int = 8008
    drift_detection: int = 8009
    alerting: int = 8010
    governance_audit: int = 8007

    @property
    def model_server_grpc(self) -> int:
        return self.model_server + 1

    @property
    def model_server_metrics(self) -> int:
        return self.model_server + 2

    def all(self) -> list[int]:
        """Every port the platform listens on (the model server's three included)."""
        return [
            self.kafka, self.kafka_controller, self.ingest, self.warehouse, self.model_server,
            self.model_server_grpc, self.model_server_metrics, self.inference, self.demo_upstream, self.feedback,
            self.evaluation, self.cost, self.alerting, self.governance_audit, self.drift_detection,
        ]  # fmt: skip


def write_routes(path: Path, grpc_port: int, demo_upstream_port: int) -> Path:
    """The gateway's routes file: :data:`GATEWAY_MODEL`, :data:`EMBEDDING_MODEL` and :data:`JUDGE_MODEL` to
    Triton's ``llm``, ``embedder`` and ``judge`` on ``grpc_port``, :data:`TOOLS_MODEL` to the demo upstream
    (rewritten every start)."""
    routes = {
        "upstreams": [
            {"name": "triton", "base_url": f"grpc://127.0.0.1:{grpc_port}"},
            {"name": "demo", "base_url": f"http://127.0.0.1:{demo_upstream_port}/v1", "health_path": "/models"},
        ],
        "models": {
            GATEWAY_MODEL: [{"backend": "triton", "upstream": "triton", "model": "llm", "timeout_s": 60}],
            EMBEDDING_MODEL: [{"backend": "triton", "upstream": "triton", "model": "embedder", "timeout_s": 10}],
            JUDGE_MODEL: [{"backend": "triton", "upstream": "triton", "model": "judge", "timeout_s": 30}],
            TOOLS_MODEL: [{"backend": "openai", "upstream": "demo", "model": DEMO_UPSTREAM_MODEL, "timeout_s": 10}],
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(routes, sort_keys=False))
    return path


def ensure_alerting_secrets(data_dir: Path) -> Path:
    """The alerting service's secrets file for development: a PagerDuty-format routing key and a webhook signing
    key for the demo's local receivers, created once in the data dir (mode 0600)."""
    path = data_dir / "alerting-secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        secrets_ = {"demo-routing-key": secrets.token_hex(16), "demo-webhook-key": secrets.token_urlsafe(32)}
        path.write_text(json.dumps(secrets_), encoding="utf-8")
        path.chmod(0o600)
    return path


def ensure_feedback_token_secret(data_dir: Path) -> str:
    """The secret the gateway signs feedback tokens with and the feedback service verifies them with: the
    environment's ``LLMOPS_FEEDBACK_TOKEN_SECRET``, else one created once in the data dir (mode 0600)."""
    configured = os.environ.get("LLMOPS_FEEDBACK_TOKEN_SECRET")
    if configured:
        return configured
    path = data_dir / "feedback-token.secret"
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def ensure_dev_keys(data_dir: Path) -> tuple[Path, dict[str, str]]:
    """Create (once) one key per role for the demo tenant; returns the hashed key file and the keys.

    Plain keys go to ``credentials.json`` (mode 0600) for the CLI's own use; services only ever see
    the hashed file.
    """
    keys_file, creds_file = data_dir / "api-keys.yaml", data_dir / "credentials.json"
    if keys_file.is_file() and creds_file.is_file():
        known: dict[str, str] = json.loads(creds_file.read_text())
        if SERVICE_ROLE in known:  # a data directory of an older version has no service key yet
            return keys_file, known
    keys = {role: generate_key() for role in (*DEV_ROLES, SERVICE_ROLE)}
    records = [
        {
            "id": f"dev-{role}",
            # The platform's own services act for any tenant, naming it per request (docs/adr/0007).
            "tenant_id": SERVICE_TENANT if role == SERVICE_ROLE else DEV_TENANT,
            "role": role,
            "sha256": hash_key(key),
        }
        for role, key in keys.items()
    ]  # fmt: skip
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
    service_key: str = ""
    """The platform's service key (set by :meth:`start_services`): liveness probes with it get the reason."""

    @property
    def bootstrap_servers(self) -> str:
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if external:
            return external
        assert self.broker is not None
        return self.broker.bootstrap_servers

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, service.replace('-', '_'))}"

    def start_kafka(self) -> None:
        """Start the local broker unless ``KAFKA_BOOTSTRAP_SERVERS`` points at an existing cluster."""
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            return
        self.broker = LocalKafkaBroker(self.data_dir / "kafka", self.ports.kafka, self.ports.kafka_controller)
        self.broker.start()

    def apply_topic_catalog(self) -> list[str]:
        """Create every topic of infra/kafka/topics.yaml (and its DLQ) that is missing; idempotent."""
        return asyncio.run(ensure_topics(self.bootstrap_servers, TopicCatalog.load(), security=KafkaSecurity()))

    def start_services(self, keys_file: Path, service_key: str) -> None:
        """Ingest, feedback, evaluation, cost, drift-detection, alerting, governance-audit, the warehouse, the model
        server and the demo upstream together; then the gateway.

        Evaluation and feedback read history from the warehouse and send platform traffic through the gateway
        with ``service_key`` (their clients connect on first use, so the gateway may start after them).
        """
        self.service_key = service_key
        platform_clients = {
            "LLMOPS_WAREHOUSE_URL": self.url("warehouse"),
            "LLMOPS_GATEWAY_URL": self.url("inference"),
            "LLMOPS_SERVICE_KEY": service_key,
        }
        common = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "LLMOPS_API_KEYS_FILE": str(keys_file),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            "LLMOPS_FEEDBACK_TOKEN_SECRET": ensure_feedback_token_secret(self.data_dir),
        }
        clickhouse = os.environ.get("CLICKHOUSE_URL", f"chdb://{(self.data_dir / 'clickhouse').resolve()}")
        first = {
            "warehouse": {"WAREHOUSE_PORT": str(self.ports.warehouse), "CLICKHOUSE_URL": clickhouse},
            "ingest": {"INGEST_PORT": str(self.ports.ingest)},
            "feedback": {"FEEDBACK_PORT": str(self.ports.feedback), **platform_clients},
            "evaluation": {"EVALUATION_PORT": str(self.ports.evaluation), **platform_clients},
            "cost": {"COST_PORT": str(self.ports.cost), **platform_clients},
            # Ten-minute windows, open for half an hour after their end: the demo's calls go 30 minutes back.
            "drift-detection": {
                "DRIFT_DETECTION_PORT": str(self.ports.drift_detection),
                "DRIFT_DETECTION_WINDOW_S": "600",
                "DRIFT_DETECTION_GRACE_S": "1800",
                # Judge-drift monitors start evaluation runs with the service key (docs/drift.md#judge-drift).
                "LLMOPS_EVALUATION_URL": self.url("evaluation"),
                **platform_clients,  # window scores and feedback (warehouse); sampled prompt embeddings (gateway)
            },
            "alerting": {
                "ALERTING_PORT": str(self.ports.alerting),
                # Local receivers (the demo's PagerDuty-format receiver) are on loopback.
                "ALERTING_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
                "ALERTING_SECRETS_FILE": str(ensure_alerting_secrets(self.data_dir)),
                "ALERTING_EVALUATE_INTERVAL_S": "5",  # the demo's objective shows its budget within seconds
                **platform_clients,
            },
            "governance-audit": {
                "GOVERNANCE_AUDIT_PORT": str(self.ports.governance_audit),
                "GOVERNANCE_AUDIT_SIGNING_KEY": ensure_audit_signing_key(self.data_dir),
                "GOVERNANCE_AUDIT_DIGEST_INTERVAL_S": "5",
                **platform_clients,  # erasure receipts are read through the warehouse
            },
            "demo-upstream": {"DEMO_UPSTREAM_PORT": str(self.ports.demo_upstream)},
            "model-server": {
                "MODEL_SERVER_HOST": "127.0.0.1",
                "MODEL_SERVER_PORT": str(self.ports.model_server),
                "MODEL_SERVER_GRPC_PORT": str(self.ports.model_server_grpc),
                "MODEL_SERVER_METRICS_PORT": str(self.ports.model_server_metrics),
            },
        }
        started = [self._start(name, {**common, **env}) for name, env in first.items()]
        for process in started:
            process.wait_ready(timeout_s=_ready_timeout_s(process.name))
        routes = write_routes(
            self.data_dir / "inference-routes.yaml", self.ports.model_server_grpc, self.ports.demo_upstream
        )
        gateway = {
            "INFERENCE_PORT": str(self.ports.inference),
            "INFERENCE_ROUTES_FILE": str(routes.resolve()),
            "INFERENCE_SPOOL_DIR": str((self.data_dir / "inference" / "spool").resolve()),
            "INFERENCE_ENVIRONMENT": "development",
            # Budgets count their period's spend older than the cost topic holds from the warehouse.
            "LLMOPS_WAREHOUSE_URL": platform_clients["LLMOPS_WAREHOUSE_URL"],
            "LLMOPS_SERVICE_KEY": service_key,
        }
        self._start("inference", {**common, **gateway}).wait_ready(timeout_s=READY_TIMEOUT_S)

    def _start(self, name: str, env: dict[str, str]) -> ManagedProcess:
        ready_path = "/v2/health/ready" if name == "model-server" else "/readyz"
        process = ManagedProcess(
            name,
            [str(Path(sys.executable).with_name(f"llmops-{name}"))],
            log_path=self.data_dir / "logs" / f"{name}.log",
            env=env,
            ready_url=f"{self.url(name)}{ready_path}",
        )
        self.services.append(process)  # listed before it starts: an interrupt in between still stops it
        process.start()
        return process

    def busy_ports(self) -> list[str]:
        """``--<name>-port N`` for each port this platform needs that something else already listens on."""
        needed = {
            "ingest": [self.ports.ingest],
            "warehouse": [self.ports.warehouse],
            "model-server": [self.ports.model_server, self.ports.model_server_grpc, self.ports.model_server_metrics],
            "inference": [self.ports.inference],
            "demo-upstream": [self.ports.demo_upstream],
            "feedback": [self.ports.feedback],
            "evaluation": [self.ports.evaluation],
            "cost": [self.ports.cost],
            "drift-detection": [self.ports.drift_detection],
            "alerting": [self.ports.alerting],
            "governance-audit": [self.ports.governance_audit],
        }
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            needed |= {"kafka": [self.ports.kafka], "kafka-controller": [self.ports.kafka_controller]}
        return [
            f"--{name}-port {ports[0]}" + (f" (uses {ports[0]}-{ports[-1]})" if len(ports) > 1 else "")
            for name, ports in needed.items()
            if not all(_port_free(port) for port in ports)
        ]

    @staticmethod
    def restart(process: ManagedProcess) -> None:
        """Start a service that died again, same command and environment (the supervisor watches it get ready)."""
        process.start()

    @staticmethod
    def ready(process: ManagedProcess) -> bool:
        """One probe of the service's readiness URL (a couple of seconds at most)."""
        return process.is_ready()

    def stuck(self, process: ManagedProcess) -> str | None:
        """One probe of the service's liveness (``/healthz``, a couple of seconds at most): why it is stuck when it
        answers 503, else None. No answer is not judged here: a busy service may be slow to answer, and one that
        died is the supervisor's other case."""
        if process.name == "model-server":  # Triton's own probes; it reports nothing stuck
            return None
        headers = {"Authorization": f"Bearer {self.service_key}"} if self.service_key else {}
        try:
            response = httpx.get(f"{self.url(process.name)}/healthz", headers=headers, timeout=2.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 503:
            return None
        try:
            reason = response.json().get("reason")
        except (ValueError, AttributeError):
            reason = None
        return str(reason or "its /healthz answers 503")

    @staticmethod
    def ready_timeout_s(process: ManagedProcess) -> float:
        """How long the service may take to get ready (the model server loads its models first)."""
        return _ready_timeout_s(process.name)

    def broker_died(self) -> bool:
        """The local broker exited on its own (never true for an external ``KAFKA_BOOTSTRAP_SERVERS``)."""
        return self.broker is not None and not self.broker.running

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


def _ready_timeout_s(name: str) -> float:
    return MODEL_SERVER_READY_TIMEOUT_S if name == "model-server" else READY_TIMEOUT_S


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on ``port`` (a bind succeeds; SO_REUSEADDR as servers set it, so TIME_WAIT is no obstacle)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
