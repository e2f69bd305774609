"""Contract tests of docker-compose.yml, the services' Dockerfile and .dockerignore.

No Docker engine (nor `docker compose`) is available here, so the file is checked offline, twice:

1. against the official Compose Specification JSON schema (compose-spec.json). The copy used is
   the one vendored, with its license, by the `check-jsonschema` PyPI package
   (check_jsonschema/builtin_schemas/vendor/compose-spec.json); its service definitions are closed
   (`unevaluatedProperties: false`), so a misspelt key fails;
2. structurally, for what the platform relies on and the schema cannot know: pinned images,
   healthchecks, start order on healthy dependencies, env wiring between services, localhost-only
   ports, declared volumes, and one Dockerfile stage and compose block per directory under services/
   (the service list is derived from the tree, so a new service cannot be forgotten).
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from llmops_kit.audit_digests import DigestSigner

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

# Every platform service: the directories under services/ (each a workspace package llmops-<name>).
SERVICES = sorted(p.name for p in (REPO_ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
# Services that need neither Kafka nor API keys (the Triton model server); the others share the wiring below.
STANDALONE = {"model-server"}
INFRA_IMAGES = {"kafka": "apache/kafka:3.9.1", "clickhouse": "clickhouse/clickhouse-server:25.8"}
API_KEYS_SOURCE = "./infra/dev/api-keys.yaml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # safe_load resolves the `<<: *anchor` merge keys the file uses, as compose does.
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    try:
        vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        pytest.fail(
            "the Compose Specification schema comes from the check-jsonschema package: "
            "add `check-jsonschema` to the root dev dependency group and `uv sync`"
        )
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def schema_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def dockerfile_stages() -> dict[str, str]:
    """Stage name -> its instructions (line continuations joined), from the Dockerfile at the root."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    parts = re.split(r"^FROM \S+ AS (\S+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def stage_env(stage: str) -> dict[str, str]:
    pairs = [token for line in re.findall(r"^ENV (.*)$", stage, re.M) for token in line.split()]
    return dict(pair.split("=", 1) for pair in pairs)


def service_port(name: str) -> int:
    """The HTTP port of a service: <PREFIX>_PORT in its Dockerfile stage."""
    return int(stage_env(dockerfile_stages()[name])[f"{env_prefix(name)}_PORT"])


def env_prefix(name: str) -> str:
    return name.upper().replace("-", "_")


# ---------------------------------------------------------------------------- compose specification


def test_compose_file_matches_the_compose_specification(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    errors = schema_errors(compose_schema, compose)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(lambda c: c["services"]["ingest"].update(healthchek={"test": ["NONE"]}), id="misspelt-key"),
        pytest.param(lambda c: c["services"]["kafka"].update(ports="9092:9092"), id="ports-not-a-list"),
        pytest.param(
            lambda c: c["services"]["warehouse"]["depends_on"]["kafka"].update(condition="healthy"),
            id="unknown-depends-on-condition",
        ),
        pytest.param(lambda c: c.update(servces={}), id="unknown-top-level-key"),
    ],
)
def test_the_specification_check_rejects_broken_files(
    compose: dict[str, Any], compose_schema: dict[str, Any], mutation: Any
) -> None:
    broken = copy.deepcopy(compose)
    mutation(broken)
    assert schema_errors(compose_schema, broken)


# ------------------------------------------------------------------------------------- structure


def test_expected_services_and_pinned_infrastructure_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(SERVICES) | set(INFRA_IMAGES) <= set(services)
    for name, image in INFRA_IMAGES.items():
        assert services[name]["image"] == image


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable", False), name
        test = check["test"]
        assert test and (isinstance(test, str) or test[0] in ("CMD", "CMD-SHELL")), name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}.healthcheck.{key}"


def test_infrastructure_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in healthcheck_command(services["kafka"])
    assert "/ping" in healthcheck_command(services["clickhouse"])


def test_kafka_is_a_single_kraft_node(compose: dict[str, Any]) -> None:
    env = environment(compose["services"]["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    node = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node}@kafka:")
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[key] == "1", key
    # A KRaft cluster id is a base64url-encoded 16-byte UUID (22 characters).
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    # Topics come from infra/kafka/topics.yaml only.
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def kafka_advertised(compose: dict[str, Any]) -> dict[str, tuple[str, int]]:
    env = environment(compose["services"]["kafka"])
    listeners = {}
    for entry in env["KAFKA_ADVERTISED_LISTENERS"].split(","):
        name, _, address = entry.partition("://")
        listeners[name] = host_port(address)
    return listeners


def test_services_are_derived_from_the_tree() -> None:
    assert {"ingest", "warehouse", "inference", "model-server"} <= set(SERVICES)
    assert set(SERVICES) >= STANDALONE


@pytest.mark.parametrize("name", sorted(set(SERVICES) - STANDALONE))
def test_platform_service_wiring(compose: dict[str, Any], name: str) -> None:
    port, prefix = service_port(name), env_prefix(name)
    services = compose["services"]
    service = services[name]
    env = environment(service)

    # Kafka: the bootstrap address is the broker's listener advertised to the compose network.
    host, kafka_port = host_port(env["KAFKA_BOOTSTRAP_SERVERS"])
    assert host in services
    assert (host, kafka_port) in kafka_advertised(compose).values()
    assert service["depends_on"]["kafka"] == {"condition": "service_healthy"}

    # HTTP: bound to all interfaces in the container, on the port the healthcheck and ports use.
    assert env[f"{prefix}_HOST"] == "0.0.0.0"
    assert env[f"{prefix}_PORT"] == str(port)
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"127.0.0.1:{port}/healthz" in healthcheck_command(service)

    # API keys: the file the service reads is the read-only mount of infra/dev/api-keys.yaml.
    assert f"{API_KEYS_SOURCE}:{env['LLMOPS_API_KEYS_FILE']}:ro" in service["volumes"]

    # Any service talking to ClickHouse waits for it to be healthy and reaches it by service name.
    if "CLICKHOUSE_URL" in env:
        url = urlsplit(env["CLICKHOUSE_URL"])
        assert url.scheme == "http"
        assert (url.hostname, url.port) == ("clickhouse", 8123)
        assert service["depends_on"]["clickhouse"] == {"condition": "service_healthy"}
        assert {"CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"} <= env.keys()


def test_only_the_warehouse_writes_clickhouse(compose: dict[str, Any]) -> None:
    users = {name for name, s in compose["services"].items() if "CLICKHOUSE_URL" in environment(s)}
    assert users == {"warehouse"}


def test_each_kafka_client_takes_its_own_credentials_from_a_git_ignored_env_file(compose: dict[str, Any]) -> None:
    """One principal per service: credentials come from .secrets/kafka-<service>.env, never from the file."""
    clients = {name: s for name, s in compose["services"].items() if "KAFKA_BOOTSTRAP_SERVERS" in environment(s)}
    assert clients
    for name, service in clients.items():
        assert service.get("env_file", [])[-1:] == [{"path": f"./.secrets/kafka-{name}.env", "required": False}], name
        assert not {k for k in environment(service) if k.startswith(("KAFKA_SASL_", "KAFKA_SSL_"))}, name
    assert ".secrets/" in (REPO_ROOT / ".gitignore").read_text().splitlines()


def test_platform_keys_come_from_the_dev_file_unless_overridden(compose: dict[str, Any]) -> None:
    """The audit signing key and the PII hash key: the published dev file, then a git-ignored override."""
    readers = {"governance-audit", "ingest", "inference"}  # the audit chain's writer; the two that record calls
    dev = REPO_ROOT / "infra" / "dev" / "platform-keys.env"
    values = dict(line.split("=", 1) for line in dev.read_text().splitlines() if line and not line.startswith("#"))
    assert dev.read_text().startswith("# DEVELOPMENT ONLY")
    assert DigestSigner.from_text(values["GOVERNANCE_AUDIT_SIGNING_KEY"]) and len(values["LLMOPS_PII_HASH_KEY"]) >= 16
    for name, service in compose["services"].items():
        files = [entry["path"] for entry in service.get("env_file", [])]
        if name in readers:
            assert files[:2] == ["./infra/dev/platform-keys.env", "./.secrets/platform-keys.env"], name
            assert not set(values) & set(environment(service)), "the file's keys would be shadowed"
        else:
            assert "./infra/dev/platform-keys.env" not in files, name


def test_ports_are_published_on_localhost_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for mapping in service.get("ports", []):
            assert isinstance(mapping, str) and mapping.startswith("127.0.0.1:"), f"{name}: {mapping}"


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith(("/", ".", "~", "$")):
                used.add(source)
    assert used == declared
    assert {"kafka-data", "clickhouse-data"} <= declared


def test_interpolated_variables_have_defaults() -> None:
    """`docker compose up` must work without a .env file: every ${VAR} carries a :- default."""
    text = COMPOSE_FILE.read_text()
    without_escapes = text.replace("$$", "")
    references = re.findall(r"\$\{([^}]*)\}", without_escapes)
    assert references, "expected the LOG_LEVEL / CLICKHOUSE_* interpolations"
    undefaulted = [r for r in references if not re.fullmatch(r"[A-Z_][A-Z0-9_]*:-.*", r)]
    assert not undefaulted
    # A bare $VAR (no braces) would be interpolated too.
    assert not re.search(r"\$[A-Za-z_]", without_escapes)


# ---------------------------------------------------------------------------- images / Dockerfiles


def workspace_members() -> list[str]:
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    members: list[str] = root["tool"]["uv"]["workspace"]["members"]
    return members


def test_one_dockerfile_builds_every_service() -> None:
    """Shared stages: the locked venv of llmops-<SERVICE> on python:3.11-slim, as a non-root user."""
    text = DOCKERFILE.read_text()
    stages = dockerfile_stages()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS builder$", text, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS runtime$", text, re.M)
    assert re.search(r"^ARG SERVICE$", stages["builder"], re.M)
    assert re.search(r'pip install --no-cache-dir "uv==', stages["builder"])
    syncs = re.findall(r"uv sync (.*)$", text, re.M)
    assert len(syncs) == 2 and all('--frozen --no-dev --package "llmops-${SERVICE}"' in s for s in syncs), syncs
    users = re.findall(r"^USER (\S+)$", stages["runtime"], re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for name, stage in stages.items():
        for healthcheck in re.findall(r"^HEALTHCHECK .*$", stage, re.M):
            assert "python -c" in healthcheck and "LLMOPS_HEALTH_URL" in healthcheck, name
            assert "curl" not in healthcheck and "wget" not in healthcheck, name


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_has_its_stage_and_compose_builds_it(compose: dict[str, Any], name: str) -> None:
    stages = dockerfile_stages()
    assert name in stages, f"the Dockerfile has no `FROM runtime AS {name}` stage"
    assert re.search(rf"^FROM runtime AS {re.escape(name)}$", DOCKERFILE.read_text(), re.M)
    stage, port, prefix = stages[name], service_port(name), env_prefix(name)
    env = stage_env(stage)
    assert env[f"{prefix}_HOST"] == "0.0.0.0"
    assert re.findall(r"^EXPOSE (.*)$", stage, re.M)[0].split()[0] == str(port)
    assert urlsplit(env["LLMOPS_HEALTH_URL"]).port == port
    package = f"llmops-{name}"
    assert re.findall(r"^CMD \[(.*)\]$", stage, re.M) == [f'"{package}"']
    project = tomllib.loads((REPO_ROOT / "services" / name / "pyproject.toml").read_text())["project"]
    assert project["name"] == package
    assert package in project["scripts"], "the console script the image runs"

    build = compose["services"][name]["build"]
    assert (REPO_ROOT / build["context"]).resolve() == REPO_ROOT, "the build context is the repository root"
    assert (REPO_ROOT / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    assert build["target"] == build["args"]["SERVICE"] == name
    assert compose["services"][name]["image"] == f"llmops/{name}:dev"


def test_there_are_no_per_service_dockerfiles() -> None:
    assert not list((REPO_ROOT / "services").glob("*/Dockerfile")), "use a stage of the Dockerfile at the root"


def test_dockerignore_lets_the_build_inputs_through() -> None:
    """.dockerignore is an allow-list: everything the Dockerfile reads must be re-included."""
    lines = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()]
    rules = [ln for ln in lines if ln and not ln.startswith("#")]
    assert rules[0] == "*", "allow-list: exclude everything first"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert {"pyproject.toml", "uv.lock"} <= allowed
    for member in workspace_members():
        assert member.split("/*")[0] in allowed, f"workspace member {member} is not sent to the build"
    for source in re.findall(r"^COPY (?!--from)(\S+) ", DOCKERFILE.read_text(), re.M):
        if source != ".":
            assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"
    # Dev secrets and local state never reach the daemon.
    assert not any(a.startswith(("infra/dev", ".venv", ".cache", ".git")) for a in allowed)


# ---------------------------------------------------------------------------------- model server

GPU_OVERRIDE_FILE = REPO_ROOT / "docker-compose.gpu.yml"
ROUTES_FILE = REPO_ROOT / "infra" / "dev" / "inference-routes.yaml"


def test_model_server_service(compose: dict[str, Any]) -> None:
    service = compose["services"]["model-server"]
    assert service["build"] == {"context": ".", "target": "model-server", "args": {"SERVICE": "model-server"}}
    assert "COPY --from=models /app/models /app/models" in dockerfile_stages()["model-server"]
    env = environment(service)
    assert env["MODEL_SERVER_HOST"] == "0.0.0.0"
    ports = [env[f"MODEL_SERVER_{name}PORT"] for name in ("", "GRPC_", "METRICS_")]
    assert service["ports"] == [f"127.0.0.1:{port}:{port}" for port in ports] == [
        "127.0.0.1:8100:8100", "127.0.0.1:8101:8101", "127.0.0.1:8102:8102",
    ]  # fmt: skip
    # PyTriton runs tritonserver from /tmp: with a read-only root that tmpfs must allow exec
    assert any(t.startswith("/tmp:") and "exec" in t.split(":", 1)[1].split(",") for t in service["tmpfs"])
    assert service["shm_size"] == "256m"
    assert "127.0.0.1:8100/v2/health/ready" in healthcheck_command(service)
    assert service["healthcheck"]["start_period"] == "60s"


def test_the_gateway_routes_to_the_model_server_once_it_is_healthy(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["inference"]
    assert gateway["depends_on"]["model-server"] == {"condition": "service_healthy"}
    assert gateway["depends_on"]["kafka"] == {"condition": "service_healthy"}
    routes = yaml.safe_load(ROUTES_FILE.read_text())
    tritons = {u["name"]: u["base_url"] for u in routes["upstreams"] if u["base_url"].startswith("grpc://")}
    assert set(tritons.values()) == {"grpc://model-server:8101"}
    llm = [t for targets in routes["models"].values() for t in targets if t["backend"] == "triton"]
    assert {(t["upstream"], t["model"]) for t in llm} >= {(next(iter(tritons)), "llm")}


def test_gpu_override_reserves_one_nvidia_gpu_for_the_model_server(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    override = yaml.safe_load(GPU_OVERRIDE_FILE.read_text())
    errors = schema_errors(compose_schema, override)
    assert not errors, "\n".join(errors)
    assert set(override["services"]) == {"model-server"} <= set(compose["services"])
    devices = override["services"]["model-server"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
