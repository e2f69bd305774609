"""Contract tests of docker-compose.yml, the service Dockerfiles and .dockerignore.

No Docker engine (nor `docker compose`) is available here, so the file is checked offline, twice:

1. against the official Compose Specification JSON schema (compose-spec.json). The copy used is
   the one vendored, with its license, by the `check-jsonschema` PyPI package
   (check_jsonschema/builtin_schemas/vendor/compose-spec.json); its service definitions are closed
   (`unevaluatedProperties: false`), so a misspelt key fails;
2. structurally, for what the platform relies on and the schema cannot know: pinned images,
   healthchecks, start order on healthy dependencies, env wiring between services, localhost-only
   ports, declared volumes, build contexts and Dockerfiles that exist and match the services.
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

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

# Platform services built from this repository: compose name -> (HTTP port, env prefix).
PLATFORM_SERVICES = {"ingest": (8001, "INGEST"), "warehouse": (8002, "WAREHOUSE")}
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
    assert set(PLATFORM_SERVICES) | set(INFRA_IMAGES) <= set(services)
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


@pytest.mark.parametrize("name", sorted(PLATFORM_SERVICES))
def test_platform_service_wiring(compose: dict[str, Any], name: str) -> None:
    port, prefix = PLATFORM_SERVICES[name]
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
        assert service.get("env_file") == [{"path": f"./.secrets/kafka-{name}.env", "required": False}], name
        assert not {k for k in environment(service) if k.startswith(("KAFKA_SASL_", "KAFKA_SSL_"))}, name
    assert ".secrets/" in (REPO_ROOT / ".gitignore").read_text().splitlines()


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


@pytest.mark.parametrize("name", sorted(PLATFORM_SERVICES))
def test_build_context_and_dockerfile(compose: dict[str, Any], name: str) -> None:
    port, prefix = PLATFORM_SERVICES[name]
    build = compose["services"][name]["build"]
    context = (REPO_ROOT / build["context"]).resolve()
    assert context == REPO_ROOT, "the build context is the repository root (uv workspace + lock)"
    dockerfile = context / build["dockerfile"]
    assert dockerfile == REPO_ROOT / "services" / name / "Dockerfile"
    assert dockerfile.is_file()

    text = dockerfile.read_text()
    package = f"llmops-{name}"
    project = tomllib.loads((REPO_ROOT / "services" / name / "pyproject.toml").read_text())["project"]
    assert project["name"] == package
    assert package in project["scripts"], "the console script the image runs"

    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS runtime$", text, re.M)
    assert re.search(r'pip install --no-cache-dir "uv==', text)
    syncs = re.findall(r"uv sync (.*)$", text, re.M)
    assert syncs and all(f"--frozen --no-dev --package {package}" in s for s in syncs), syncs
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.findall(r"^EXPOSE (\d+)$", text, re.M) == [str(port)]
    assert re.search(rf"^\s+{prefix}_PORT={port}", text, re.M)
    assert re.search(rf"^\s+{prefix}_HOST=0\.0\.0\.0", text, re.M)
    healthcheck = text[text.index("HEALTHCHECK") :]
    assert "python -c" in healthcheck and "/healthz" in healthcheck and "curl" not in healthcheck
    assert re.findall(r"^CMD \[(.*)\]$", text, re.M) == [f'"{package}"']


@pytest.mark.parametrize("name", sorted(PLATFORM_SERVICES))
def test_dockerignore_lets_the_build_inputs_through(name: str) -> None:
    """.dockerignore is an allow-list: everything a Dockerfile reads must be re-included."""
    lines = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()]
    rules = [ln for ln in lines if ln and not ln.startswith("#")]
    assert rules[0] == "*", "allow-list: exclude everything first"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert {"pyproject.toml", "uv.lock"} <= allowed
    for member in workspace_members():
        assert member.split("/*")[0] in allowed, f"workspace member {member} is not sent to the build"
    text = (REPO_ROOT / "services" / name / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+) ", text, re.M):
        if source != ".":
            assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"
    # Dev secrets and local state never reach the daemon.
    assert not any(a.startswith(("infra/dev", ".venv", ".cache", ".git")) for a in allowed)


# ---------------------------------------------------------------------------------- model server

GPU_OVERRIDE_FILE = REPO_ROOT / "docker-compose.gpu.yml"
ROUTES_FILE = REPO_ROOT / "infra" / "dev" / "inference-routes.yaml"


def test_model_server_service(compose: dict[str, Any]) -> None:
    service = compose["services"]["model-server"]
    assert service["build"] == {"context": ".", "dockerfile": "services/model-server/Dockerfile"}
    assert (REPO_ROOT / service["build"]["dockerfile"]).is_file()
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
