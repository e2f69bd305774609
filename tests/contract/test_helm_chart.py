"""Contract tests of the umbrella Helm chart (helm/llmops) and its example value sets.

Every value set (chart defaults + each file in helm/values-examples/) is rendered with the pinned
helm binary (`helm template`), linted (`helm lint --strict`) and every rendered object is validated
offline, in strict mode (unknown fields fail), against the Kubernetes API JSON schemas shipped by
the `kubernetes-validate` package for KUBE_VERSION. The rest asserts what the platform relies on:
the object set per enabled service, probes on /readyz and /healthz, the security context, the
Prometheus annotations, the env wiring, and that values.schema.json rejects bad values.

helm is built from the Go module proxy by infra/tools/install-helm.sh (session fixture) when
.cache/bin/helm is missing: about 2.5 minutes cold on a 2-core machine, instant afterwards.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from llmops_kit.audit_digests import DigestSigner

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "helm" / "llmops"
EXAMPLES_DIR = REPO_ROOT / "helm" / "values-examples"
INSTALL_HELM = REPO_ROOT / "infra" / "tools" / "install-helm.sh"
HELM_BIN = REPO_ROOT / ".cache" / "bin" / "helm"

# The Kubernetes version the manifests are rendered for (--kube-version) and validated against.
KUBE_VERSION = "1.35.0"
RELEASE = "llmops"
NAMESPACE = "llmops"
# Where the gateway's routes file is mounted (INFERENCE_ROUTES_FILE = <ROUTES_DIR>/routes.yaml).
ROUTES_DIR = "/etc/llmops/routes"
COMPOSE_ROUTES_FILE = REPO_ROOT / "infra" / "dev" / "inference-routes.yaml"

# Every platform service: the directories under services/ (each a workspace package llmops-<name>).
SERVICES = sorted(p.name for p in (REPO_ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
# The development key README.md publishes for docker compose, and where its digest is.
DEV_KEY = "llmops_dev_only_insecure_key_for_docker_compose"
DEV_SERVICE_KEY = "llmops_dev_only_insecure_service_key_for_docker_compose"
DEV_KEYS_FILE = REPO_ROOT / "infra" / "dev" / "api-keys.yaml"

EXAMPLE_FILES = sorted(EXAMPLES_DIR.glob("*.yaml"))
# None = the chart's own defaults.
VALUE_SETS: list[Path | None] = [None, *EXAMPLE_FILES]
VALUE_SET_IDS = ["defaults", *(p.stem for p in EXAMPLE_FILES)]

# Room for the one-off helm build (session fixture) on top of the suite's 600 s default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


# --------------------------------------------------------------------------------------- helpers

PLATFORM_KEYS = {"auditSigningKey": "audit-signing-key", "piiHashKey": "pii-hash-key"}
"""The platform keys the chart generates when no existingSecret is given: value -> Secret name suffix."""


@pytest.fixture(scope="session")
def helm() -> Path:
    """The pinned helm binary, built by infra/tools/install-helm.sh when missing (never skipped)."""
    override = os.environ.get("LLMOPS_HELM")
    if override:
        return Path(override)
    # The script is idempotent: it returns at once when .cache/bin/helm is the pinned version.
    proc = subprocess.run(["bash", str(INSTALL_HELM)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"install-helm.sh failed:\n{proc.stdout}\n{proc.stderr}"
    assert HELM_BIN.is_file(), f"install-helm.sh did not produce {HELM_BIN}"
    return HELM_BIN


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def template(helm: Path, values: Sequence[Path] = (), sets: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    for v in values:
        args += ["-f", str(v)]
    for s in sets:
        args += ["--set", s]
    return run_helm(helm, *args)


def render(helm: Path, values: Sequence[Path] = (), sets: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The rendered objects (a fresh copy: callers may mutate it)."""
    return copy.deepcopy(_render(helm, tuple(values), tuple(sets)))


@cache
def _render(helm: Path, values: tuple[Path, ...], sets: tuple[str, ...]) -> list[dict[str, Any]]:
    proc = template(helm, values, sets)
    assert proc.returncode == 0, f"helm template failed:\n{proc.stderr}"
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert docs, "helm template rendered nothing"
    return docs


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a values file over the chart defaults (maps merge, the rest replaces)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def effective_values(value_set: Path | None) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    if value_set is not None:
        values = deep_merge(values, yaml.safe_load(value_set.read_text()) or {})
    return values


def enabled_services(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in values["services"].items() if svc.get("enabled")}


def by_kind_name(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    index = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(index) == len(docs), "two rendered objects share a kind and name"
    return index


def fullname(service: str) -> str:
    return f"{RELEASE}-{service}"


def only_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def value_set_params() -> list[Any]:
    return [pytest.param(v, id=i) for v, i in zip(VALUE_SETS, VALUE_SET_IDS, strict=True)]


# ------------------------------------------------------------------------------------------ tests


def test_there_are_at_least_three_example_value_sets() -> None:
    assert len(EXAMPLE_FILES) >= 3, f"expected >= 3 value sets in {EXAMPLES_DIR}"
    # At least one of them disables a service (the "disabled service renders nothing" case).
    assert any(
        not svc.get("enabled", True)
        for p in EXAMPLE_FILES
        for svc in (yaml.safe_load(p.read_text()) or {}).get("services", {}).values()
    )


@pytest.mark.parametrize("value_set", value_set_params())
def test_helm_lint_strict(helm: Path, value_set: Path | None) -> None:
    args = ["lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION]
    if value_set is not None:
        args += ["-f", str(value_set)]
    proc = run_helm(helm, *args)
    assert proc.returncode == 0, f"helm lint --strict failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("value_set", value_set_params())
def test_rendered_manifests_match_kubernetes_schemas(helm: Path, value_set: Path | None) -> None:
    docs = render(helm, [value_set] if value_set else [])
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = "/".join(str(p) for p in e.path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(e.message)
    assert not errors, "\n".join(errors)


def test_strict_validation_catches_a_broken_manifest(helm: Path) -> None:
    """Guards the test above: the validator really is strict (unknown fields, wrong types)."""
    deployment = by_kind_name(render(helm))[("Deployment", fullname("ingest"))]
    kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)

    unknown_field = copy.deepcopy(deployment)
    only_container(unknown_field)["readinesProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown_field, KUBE_VERSION, strict=True)

    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("value_set", value_set_params())
def test_each_enabled_service_gets_its_objects_and_nothing_else(helm: Path, value_set: Path | None) -> None:
    values = effective_values(value_set)
    index = by_kind_name(render(helm, [value_set] if value_set else []))

    expected: set[tuple[str, str]] = set()
    if values["global"]["apiKeys"].get("inline") and not values["global"]["apiKeys"]["existingSecret"]:
        expected.add(("Secret", fullname("api-keys")))
    for which, name in PLATFORM_KEYS.items():
        readers = [svc for svc in enabled_services(values).values() if svc.get(which)]
        if readers and not values["global"][which]["existingSecret"]:
            expected.add(("Secret", fullname(name)))
    for name, svc in enabled_services(values).items():
        expected |= {(kind, fullname(name)) for kind in ("Deployment", "Service", "ConfigMap")}
        if svc.get("routes") and not svc.get("routesConfigMap"):
            expected.add(("ConfigMap", fullname(f"{name}-routes")))
        if svc.get("podDisruptionBudget", {}).get("enabled", True):
            expected.add(("PodDisruptionBudget", fullname(name)))
        if svc.get("serviceAccount", {}).get("create", True):
            expected.add(("ServiceAccount", fullname(name)))
        if svc.get("spool", {}).get("persistence", {}).get("enabled", False):
            expected.add(("PersistentVolumeClaim", fullname(f"{name}-spool")))
        autoscaling = svc.get("autoscaling", {}).get("enabled", False)
        if autoscaling:
            expected.add(("HorizontalPodAutoscaler", fullname(name)))
        replicas = index[("Deployment", fullname(name))]["spec"].get("replicas")
        # With an HPA the Deployment must not pin replicas (every upgrade would reset the scale).
        assert replicas == (None if autoscaling else svc["replicas"]), name
    assert set(index) == expected


@pytest.mark.parametrize("value_set", value_set_params())
def test_probes_ports_and_selectors(helm: Path, value_set: Path | None) -> None:
    values = effective_values(value_set)
    index = by_kind_name(render(helm, [value_set] if value_set else []))
    for name, svc in enabled_services(values).items():
        deployment = index[("Deployment", fullname(name))]
        container = only_container(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == svc["port"]
        extra_ports = {p["name"]: p["port"] for p in svc.get("extraPorts", [])}
        assert extra_ports.items() <= ports.items()

        # /readyz and /healthz unless the block names others (Triton's /v2/health/*).
        probes = svc.get("probes", {})
        readiness, liveness = container["readinessProbe"], container["livenessProbe"]
        assert readiness["httpGet"] == {"path": probes.get("readiness", {}).get("path", "/readyz"), "port": "http"}
        assert liveness["httpGet"] == {"path": probes.get("liveness", {}).get("path", "/healthz"), "port": "http"}

        selector = deployment["spec"]["selector"]["matchLabels"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()

        service = index[("Service", fullname(name))]
        assert service["spec"]["selector"] == selector
        assert service["spec"]["ports"] == [
            {"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
            for port_name, port in {"http": svc["port"], **extra_ports}.items()
        ]

        pdb = index.get(("PodDisruptionBudget", fullname(name)))
        if pdb is not None:
            assert pdb["spec"]["selector"]["matchLabels"] == selector
            assert pdb["spec"]["minAvailable"] == svc["podDisruptionBudget"]["minAvailable"]

        hpa = index.get(("HorizontalPodAutoscaler", fullname(name)))
        if hpa is not None:
            assert hpa["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": fullname(name),
            }
            assert hpa["spec"]["minReplicas"] == svc["autoscaling"]["minReplicas"]
            assert hpa["spec"]["maxReplicas"] == svc["autoscaling"]["maxReplicas"]


@pytest.mark.parametrize("value_set", value_set_params())
def test_security_context_and_scrape_annotations(helm: Path, value_set: Path | None) -> None:
    values = effective_values(value_set)
    index = by_kind_name(render(helm, [value_set] if value_set else []))
    for name, svc in enabled_services(values).items():
        deployment = index[("Deployment", fullname(name))]
        pod = deployment["spec"]["template"]
        container = only_container(deployment)

        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        # A read-only root needs a writable /tmp.
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]

        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(svc.get("metrics", {}).get("port", svc["port"]))
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["checksum/config"]

        assert pod["spec"]["serviceAccountName"] == fullname(name)
        assert container["envFrom"] == [{"configMapRef": {"name": fullname(name)}}]


@pytest.mark.parametrize("value_set", value_set_params())
def test_environment_wiring(helm: Path, value_set: Path | None) -> None:
    values = effective_values(value_set)
    g = values["global"]
    index = by_kind_name(render(helm, [value_set] if value_set else []))
    for name, svc in enabled_services(values).items():
        data = index[("ConfigMap", fullname(name))]["data"]
        prefix = svc.get("envPrefix", name.upper().replace("-", "_"))
        assert data[f"{prefix}_HOST"] == "0.0.0.0"
        assert data[f"{prefix}_PORT"] == str(svc["port"])
        assert data["KAFKA_BOOTSTRAP_SERVERS"] == g["kafka"]["bootstrapServers"]
        assert data["LOG_LEVEL"] == g["logLevel"]
        for key, value in (svc.get("env") or {}).items():
            assert data[key] == str(value)

        deployment = index[("Deployment", fullname(name))]
        container = only_container(deployment)
        env = {e["name"]: e for e in container.get("env", [])}
        if svc.get("clickhouse"):
            assert data["CLICKHOUSE_URL"] == g["clickhouse"]["url"]
            if g["clickhouse"]["existingSecret"]:
                for var, key in (("CLICKHOUSE_USER", "userKey"), ("CLICKHOUSE_PASSWORD", "passwordKey")):
                    assert env[var]["valueFrom"]["secretKeyRef"] == {
                        "name": g["clickhouse"]["existingSecret"],
                        "key": g["clickhouse"][key],
                    }
            else:
                assert "CLICKHOUSE_USER" not in env
        else:
            assert "CLICKHOUSE_URL" not in data
            assert "CLICKHOUSE_USER" not in env
        for var, ref in (svc.get("secretEnv") or {}).items():
            assert env[var]["valueFrom"]["secretKeyRef"] == {"name": ref["secretName"], "key": ref["key"]}
            assert var not in data  # a secret never lands in the ConfigMap
        for which, variable in (
            ("auditSigningKey", "GOVERNANCE_AUDIT_SIGNING_KEY"),
            ("piiHashKey", "LLMOPS_PII_HASH_KEY"),
        ):
            if svc.get(which):
                secret = g[which]["existingSecret"] or fullname(PLATFORM_KEYS[which])
                assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": g[which]["key"]}
            else:
                assert variable not in env
            assert variable not in data

        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        keys = g["apiKeys"]
        keys_secret = keys["existingSecret"] or (fullname("api-keys") if keys.get("inline") else "")
        if keys_secret and svc.get("apiKeys", True):
            assert data["LLMOPS_API_KEYS_FILE"] == f"{keys['mountPath']}/{keys['key']}"
            assert volumes["api-keys"]["secret"]["secretName"] == keys_secret
            assert mounts["api-keys"] == {"name": "api-keys", "mountPath": keys["mountPath"], "readOnly": True}
        else:
            assert "LLMOPS_API_KEYS_FILE" not in data
            assert "api-keys" not in volumes

        # A service with routes (the gateway) reads them from a read-only ConfigMap mount.
        routes_config_map = svc.get("routesConfigMap") or (fullname(f"{name}-routes") if svc.get("routes") else None)
        if routes_config_map:
            assert data[f"{prefix}_ROUTES_FILE"] == f"{ROUTES_DIR}/routes.yaml"
            assert volumes["routes"]["configMap"] == {
                "name": routes_config_map,
                "items": [{"key": "routes.yaml", "path": "routes.yaml"}],
            }
            assert mounts["routes"] == {"name": "routes", "mountPath": ROUTES_DIR, "readOnly": True}
            assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/routes"]
        else:
            assert f"{prefix}_ROUTES_FILE" not in data
            assert "routes" not in volumes


@pytest.mark.parametrize("value_set", value_set_params())
def test_image_references(helm: Path, value_set: Path | None) -> None:
    values = effective_values(value_set)
    index = by_kind_name(render(helm, [value_set] if value_set else []))
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    for name, svc in enabled_services(values).items():
        registry = values["global"]["image"]["registry"]
        tag = svc["image"].get("tag") or values["global"]["image"]["tag"] or app_version
        repo = f"{registry}/{svc['image']['repository']}" if registry else svc["image"]["repository"]
        assert only_container(index[("Deployment", fullname(name))])["image"] == f"{repo}:{tag}"


def test_every_service_of_the_tree_has_a_values_block() -> None:
    """Each directory under services/ is deployable: a block in values.yaml naming its image, and no other."""
    blocks = effective_values(None)["services"]
    assert set(blocks) == set(SERVICES)
    for name in SERVICES:
        assert blocks[name]["image"]["repository"] == f"llmops/{name}", name


@pytest.mark.parametrize("service", SERVICES)
def test_a_disabled_service_renders_nothing(helm: Path, service: str) -> None:
    docs = render(helm, sets=[f"services.{service}.enabled=false"])
    leftovers = [
        f"{d['kind']}/{d['metadata']['name']}"
        for d in docs
        if service in d["metadata"]["name"]
        or d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == service
    ]
    assert not leftovers, f"{service} is disabled but rendered {leftovers}"
    # ... and the other services are untouched.
    index = by_kind_name(docs)
    for other in set(SERVICES) - {service}:
        assert ("Deployment", fullname(other)) in index, other


def test_a_new_service_is_one_small_values_block(helm: Path, tmp_path: Path) -> None:
    """The extension point for the coming services: a few keys yield a complete, valid object set."""
    extra = tmp_path / "evaluation.yaml"
    extra.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "answer-length": {"enabled": True, "image": {"repository": "llmops/answer-length"}, "port": 8011}
                }
            }
        )
    )
    docs = render(helm, [extra])
    index = by_kind_name(docs)
    name = fullname("answer-length")  # docs/adding-a-service.md's example
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "ServiceAccount", "ConfigMap"):
        assert (kind, name) in index, kind
    assert ("HorizontalPodAutoscaler", name) not in index
    container = only_container(index[("Deployment", name)])
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert index[("ConfigMap", name)]["data"]["ANSWER_LENGTH_PORT"] == "8011"
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


@pytest.mark.parametrize(
    ("set_value", "complaint"),
    [
        pytest.param("services.ingest.replicas=three", "replicas", id="replicas-not-integer"),
        pytest.param("services.ingest.port=70000", "port", id="port-out-of-range"),
        pytest.param("services.ingest.replica=3", "replica", id="unknown-service-key"),
        pytest.param("services.warehouse.enabled=maybe", "enabled", id="enabled-not-boolean"),
        pytest.param("global.kafka.bootstrapServers=kafka", "bootstrapServers", id="bootstrap-without-port"),
        pytest.param("global.clickhouse.url=clickhouse:8123", "url", id="clickhouse-url-without-scheme"),
        pytest.param("services.ingest.autoscaling.enabled=yes", "enabled", id="autoscaling-not-boolean"),
        pytest.param("global.logLevel=LOUD", "logLevel", id="unknown-log-level"),
        pytest.param("services.inference.routesConfigMap=My_Routes", "routesConfigMap", id="routes-configmap-name"),
        pytest.param("services.inference.routes.upstreams[0].url=x", "url", id="routes-upstream-unknown-key"),
        pytest.param("services.inference.routes.models.m[0].backend=grpc", "backend", id="routes-unknown-backend"),
        pytest.param("services.inference.routes.models.m[0].timeout=5", "timeout", id="routes-target-unknown-key"),
        pytest.param("services.inference.routes.endpoints=x", "endpoints", id="routes-unknown-key"),
        pytest.param("services.inference.secretEnv.OPENAI_API_KEY.name=x", "secretEnv", id="secret-env-without-ref"),
        pytest.param("global.kafka.securityProtocol=TLS", "securityProtocol", id="kafka-unknown-protocol"),
        pytest.param("global.kafka.saslMechanism=PLAIN", "saslMechanism", id="kafka-plain-mechanism"),
        pytest.param("services.ingest.kafka.sasl.secret=x", "sasl", id="kafka-sasl-unknown-key"),
        pytest.param("global.kafka.tls.caSecret=Kafka_CA", "caSecret", id="kafka-ca-secret-name"),
        pytest.param("services.inference.spool.persistence.size=lots", "size", id="spool-size-not-a-quantity"),
        pytest.param("services.inference.spool.persistence.class=x", "class", id="spool-unknown-key"),
    ],
)
def test_values_schema_rejects_bad_values(helm: Path, set_value: str, complaint: str) -> None:
    proc = template(helm, sets=[set_value])
    assert proc.returncode != 0, f"helm template accepted --set {set_value}"
    assert "schema" in proc.stderr
    assert complaint in proc.stderr


def test_pdb_that_would_block_node_drains_is_refused(helm: Path) -> None:
    proc = template(helm, sets=["services.warehouse.replicas=1"])
    assert proc.returncode != 0
    assert "node drains" in proc.stderr
    # A percentage, a disabled PDB or more replicas are fine.
    for fix in (
        "services.warehouse.podDisruptionBudget.minAvailable=50%",
        "services.warehouse.podDisruptionBudget.enabled=false",
        "services.warehouse.replicas=3",
    ):
        assert template(helm, sets=["services.warehouse.replicas=1", fix]).returncode == 0, fix


def test_notes_list_each_service_and_warn_without_api_keys(helm: Path, tmp_path: Path) -> None:
    """NOTES.txt is only rendered by `helm install`; render it through a wrapper in a chart copy."""
    chart = tmp_path / "llmops"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "_notes.tpl").write_text('{{- define "test.notes" }}' + notes + "{{- end }}")
    (chart / "templates" / "notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
        'data:\n  NOTES: {{ include "test.notes" . | toJson }}\n'
    )

    def rendered(values: Path | None, sets: Sequence[str] = ()) -> str:
        args = ["template", "x", str(chart), "-n", "demo", "--show-only", "templates/notes.yaml"]
        args += [a for s in sets for a in ("--set", s)]
        proc = run_helm(helm, *args, *(["-f", str(values)] if values else []))
        assert proc.returncode == 0, proc.stderr
        text: str = yaml.safe_load(proc.stdout)["data"]["NOTES"]
        return text

    defaults = rendered(None)
    assert "ingest: http://x-ingest.demo.svc:8001" in defaults
    assert "warehouse: http://x-warehouse.demo.svc:8002" in defaults
    assert "WARNING: global.apiKeys.existingSecret is empty" in defaults
    assert "inference: http://x-inference.demo.svc:8003" in defaults
    assert "model-server: http://x-model-server.demo.svc:8100" in defaults
    assert "routes file: ConfigMap x-inference-routes, models: local-embedder, local-judge, opticks-gpt2" in defaults
    assert "x-model-server" in defaults and "is disabled" not in defaults
    assert "signed with a key this chart generated (Secret x-audit-signing-key" in defaults
    assert "get secret x-audit-signing-key -o jsonpath='{.data.signing-key}' | base64 -d | llmops audit public-key" in (
        defaults
    )
    assert "generated" not in rendered(None, ["global.auditSigningKey.existingSecret=mine"])

    # The default routes without their model server: said, not silently unready.
    orphaned = rendered(None, ["services.model-server.enabled=false"])
    assert "services.inference.routes point at x-model-server, but services.model-server is disabled" in orphaned
    own = rendered(None, ["services.model-server.enabled=false", "services.inference.routesConfigMap=mine"])
    assert "routes file: ConfigMap mine (yours" in own
    assert "is disabled" not in own

    trimmed = rendered(EXAMPLES_DIR / "ingest-only-custom-endpoints.yaml")
    assert "warehouse: disabled" in trimmed
    assert "broker-a.events.internal:9094" in trimmed
    assert "WARNING" not in trimmed


@pytest.mark.parametrize("gpu", [False, True], ids=["cpu", "gpu"])
def test_the_model_server_block(helm: Path, tmp_path: Path, gpu: bool) -> None:
    """Triton's probes and ports, a larger /tmp and a /dev/shm for PyTriton, an optional GPU on GPU nodes."""
    values = tmp_path / "model-server.yaml"
    node_selector = {"nvidia.com/gpu.present": "true"}
    tolerations = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    block = {"enabled": True, "gpu": {"enabled": gpu}, "nodeSelector": node_selector, "tolerations": tolerations}
    values.write_text(yaml.safe_dump({"services": {"model-server": block}}))
    docs = render(helm, [values])
    index = by_kind_name(docs)
    name = fullname("model-server")
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "ServiceAccount", "ConfigMap"):
        assert (kind, name) in index, kind
    pod = index[("Deployment", name)]["spec"]["template"]
    container = only_container(index[("Deployment", name)])
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8100, "grpc": 8101, "metrics": 8102}
    service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in index[("Service", name)]["spec"]["ports"]}
    assert service_ports == {"http": (8100, "http"), "grpc": (8101, "grpc")}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8102"
    data = index[("ConfigMap", name)]["data"]
    assert (data["MODEL_SERVER_HOST"], data["MODEL_SERVER_PORT"]) == ("0.0.0.0", "8100")
    assert (data["MODEL_SERVER_GRPC_PORT"], data["MODEL_SERVER_METRICS_PORT"]) == ("8101", "8102")
    assert "LLMOPS_API_KEYS_FILE" not in data
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "2Gi"}
    assert volumes["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "256Mi"}
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    limits = container["resources"]["limits"]
    assert ("nvidia.com/gpu" in limits) is gpu
    if gpu:
        assert limits["nvidia.com/gpu"] == 1
        assert limits["memory"] == "4Gi"  # the GPU joins the configured limits
    assert pod["spec"]["nodeSelector"] == node_selector
    assert pod["spec"]["tolerations"] == tolerations
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


# ------------------------------------------------------------- the gateway and the model server


def routes_file(index: dict[tuple[str, str], dict[str, Any]], service: str = "inference") -> dict[str, Any]:
    """The routes file the chart rendered for a service (parsed)."""
    routes: dict[str, Any] = yaml.safe_load(index[("ConfigMap", fullname(f"{service}-routes"))]["data"]["routes.yaml"])
    return routes


@pytest.mark.parametrize("value_set", value_set_params())
def test_rendered_routes_files_load_in_the_gateway(helm: Path, value_set: Path | None, tmp_path: Path) -> None:
    """Every rendered routes file is one the gateway accepts, and its Triton upstreams are Services of the release."""
    from llmops_inference.routing_table import RoutingTable

    inference = effective_values(value_set)["services"]["inference"]
    if not inference.get("enabled"):
        pytest.skip("the gateway is disabled in this value set: no routes file is rendered")
    index = by_kind_name(render(helm, [value_set] if value_set else []))
    routes_maps = [cm for (kind, name), cm in index.items() if kind == "ConfigMap" and name.endswith("-routes")]
    if not inference.get("routesConfigMap"):  # else the routes file is the operator's own ConfigMap
        assert ("ConfigMap", fullname("inference-routes")) in index
        assert routes_maps, "a value set with the gateway on renders at least its routes file"
    for config_map in routes_maps:
        path = tmp_path / f"{config_map['metadata']['name']}.yaml"
        path.write_text(config_map["data"]["routes.yaml"])
        table = RoutingTable.load(path)
        for upstream in table.upstreams:
            if table.backend_of(upstream.name) != "triton":
                continue
            host, _, port = upstream.base_url.removeprefix("grpc://").partition(":")
            service_ports = {p["port"]: p["name"] for p in index[("Service", host)]["spec"]["ports"]}
            assert service_ports.get(int(port)) == "grpc", upstream


def test_a_default_install_runs_the_gateway_and_the_model_server(helm: Path) -> None:
    """Both are on by default; the chart renders the gateway's routes, aimed at this release's model server."""
    docs = render(helm)
    index = by_kind_name(docs)
    for service in ("inference", "model-server"):
        for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "ServiceAccount"):
            assert (kind, fullname(service)) in index, (kind, service)
    assert ("ConfigMap", fullname("inference-routes")) in index
    assert ("ConfigMap", fullname("model-server-routes")) not in index  # only the block with routes gets one

    gateway = index[("Deployment", fullname("inference"))]
    pod = gateway["spec"]["template"]["spec"]
    container = only_container(gateway)
    assert index[("ConfigMap", fullname("inference"))]["data"]["INFERENCE_ROUTES_FILE"] == f"{ROUTES_DIR}/routes.yaml"
    assert {"name": "routes", "mountPath": ROUTES_DIR, "readOnly": True} in container["volumeMounts"]
    assert {
        "name": "routes",
        "configMap": {"name": fullname("inference-routes"), "items": [{"key": "routes.yaml", "path": "routes.yaml"}]},
    } in pod["volumes"]
    # The model server needs no routes file nor API keys.
    model_server = only_container(index[("Deployment", fullname("model-server"))])
    assert all(m["name"] != "routes" for m in model_server["volumeMounts"])

    routes = routes_file(index)
    assert routes["upstreams"] == [{"name": "triton", "base_url": f"grpc://{fullname('model-server')}:8101"}]
    served = {
        name: [(t["backend"], t["upstream"], t["model"]) for t in targets] for name, targets in routes["models"].items()
    }
    assert served == {
        "opticks-gpt2": [("triton", "triton", "llm")],
        "local-embedder": [("triton", "triton", "embedder")],
        "local-judge": [("triton", "triton", "judge")],
    }
    # The same public names as docker compose's routes to the model server (infra/dev/inference-routes.yaml).
    compose = yaml.safe_load(COMPOSE_ROUTES_FILE.read_text())
    compose_triton = {
        name: [(t["backend"], t["upstream"], t["model"]) for t in targets]
        for name, targets in compose["models"].items()
        if all(t["backend"] == "triton" for t in targets)
    }
    assert served == compose_triton
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_the_routes_follow_the_release_name(helm: Path) -> None:
    proc = run_helm(helm, "template", "prod", str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION)
    assert proc.returncode == 0, proc.stderr
    index = by_kind_name([d for d in yaml.safe_load_all(proc.stdout) if d])
    routes = yaml.safe_load(index[("ConfigMap", "prod-inference-routes")]["data"]["routes.yaml"])
    assert routes["upstreams"][0]["base_url"] == "grpc://prod-model-server:8101"
    assert ("Service", "prod-model-server") in index


def test_changed_routes_roll_the_gateway_pods(helm: Path, tmp_path: Path) -> None:
    """checksum/routes changes with the routes (and only then), so `helm upgrade` restarts the gateway."""

    def annotations(values: Sequence[Path]) -> dict[str, str]:
        index = by_kind_name(render(helm, values))
        pod_annotations: dict[str, str] = index[("Deployment", fullname("inference"))]["spec"]["template"]["metadata"][
            "annotations"
        ]
        return pod_annotations

    more = tmp_path / "more-routes.yaml"
    more.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "inference": {
                        "routes": {"models": {"tiny": [{"backend": "triton", "upstream": "triton", "model": "llm"}]}}
                    }
                }
            }
        )
    )
    before, after = annotations([]), annotations([more])
    assert before["checksum/routes"] != after["checksum/routes"]
    assert before["checksum/config"] == after["checksum/config"]
    assert "tiny" in routes_file(by_kind_name(render(helm, [more])))["models"]


def test_a_routes_config_map_of_your_own_replaces_the_rendered_one(helm: Path) -> None:
    docs = render(helm, sets=["services.inference.routesConfigMap=my-routes"])
    index = by_kind_name(docs)
    assert ("ConfigMap", fullname("inference-routes")) not in index
    gateway = index[("Deployment", fullname("inference"))]
    volumes = {v["name"]: v for v in gateway["spec"]["template"]["spec"]["volumes"]}
    assert volumes["routes"]["configMap"] == {
        "name": "my-routes",
        "items": [{"key": "routes.yaml", "path": "routes.yaml"}],
    }
    assert {"name": "routes", "mountPath": ROUTES_DIR, "readOnly": True} in only_container(gateway)["volumeMounts"]
    assert index[("ConfigMap", fullname("inference"))]["data"]["INFERENCE_ROUTES_FILE"] == f"{ROUTES_DIR}/routes.yaml"
    assert gateway["spec"]["template"]["metadata"]["annotations"]["checksum/routes"]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_without_routes_the_gateway_gets_no_routes_file(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "no-routes.yaml"
    values.write_text("services:\n  inference:\n    routes: null\n")
    index = by_kind_name(render(helm, [values]))
    assert ("ConfigMap", fullname("inference-routes")) not in index
    assert "INFERENCE_ROUTES_FILE" not in index[("ConfigMap", fullname("inference"))]["data"]
    gateway = index[("Deployment", fullname("inference"))]
    assert all(v["name"] != "routes" for v in gateway["spec"]["template"]["spec"]["volumes"])
    assert "checksum/routes" not in gateway["spec"]["template"]["metadata"]["annotations"]


def test_a_hosted_provider_route_with_its_key_from_a_secret(helm: Path, tmp_path: Path) -> None:
    """routes.upstreams replaces the default list, models merge (null drops one); secretEnv carries the key."""
    values = tmp_path / "hosted.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "inference": {
                        "secretEnv": {"OPENAI_API_KEY": {"secretName": "openai", "key": "api-key"}},
                        "routes": {
                            "upstreams": [
                                {
                                    "name": "openai",
                                    "base_url": "https://api.openai.com/v1",
                                    "api_key_env": "OPENAI_API_KEY",
                                }
                            ],
                            "models": {
                                "opticks-gpt2": None,
                                "local-embedder": None,
                                "local-judge": None,
                                "gpt-4o-mini": [{"backend": "openai", "upstream": "openai", "model": "gpt-4o-mini"}],
                            },
                        },
                    }
                }
            }
        )
    )
    index = by_kind_name(render(helm, [values]))
    routes = routes_file(index)
    assert [u["name"] for u in routes["upstreams"]] == ["openai"]
    assert list(routes["models"]) == ["gpt-4o-mini"]
    container = only_container(index[("Deployment", fullname("inference"))])
    assert {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {"name": "openai", "key": "api-key"}}} in container[
        "env"
    ]
    assert "OPENAI_API_KEY" not in index[("ConfigMap", fullname("inference"))]["data"]


def test_a_route_to_an_undeclared_upstream_fails_the_render(helm: Path) -> None:
    # Replacing the upstream list drops `triton`, which the default models still use.
    proc = template(
        helm,
        sets=[
            "services.inference.routes.upstreams[0].name=vllm",
            "services.inference.routes.upstreams[0].base_url=http://vllm:8000/v1",
        ],
    )
    assert proc.returncode != 0
    assert 'upstream "triton" is not in routes.upstreams (vllm)' in proc.stderr


def test_gpu_enabled_requests_an_nvidia_gpu_for_the_model_server(helm: Path) -> None:
    default = only_container(by_kind_name(render(helm))[("Deployment", fullname("model-server"))])
    assert "nvidia.com/gpu" not in default["resources"]["limits"]
    docs = render(helm, sets=["services.model-server.gpu.enabled=true", "services.model-server.gpu.count=2"])
    limits = only_container(by_kind_name(docs)[("Deployment", fullname("model-server"))])["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 2
    assert limits["cpu"] == default["resources"]["limits"]["cpu"]  # the configured limits stay
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


# ------------------------------------------------------------------ the published development key


def keys_values(tmp_path: Path, sha256: str, allow: bool | None = None) -> Path:
    """A values file with one inline key entry (and allowInsecureDevKey when given)."""
    api_keys: dict[str, Any] = {"inline": [{"id": "k1", "tenant_id": "demo", "role": "admin", "sha256": sha256}]}
    if allow is not None:
        api_keys["allowInsecureDevKey"] = allow
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump({"global": {"apiKeys": api_keys}}))
    return path


def test_the_chart_knows_the_published_development_keys(helm: Path) -> None:
    digests = [hashlib.sha256(key.encode()).hexdigest() for key in (DEV_KEY, DEV_SERVICE_KEY)]
    readme = (REPO_ROOT / "README.md").read_text()
    assert DEV_KEY in readme and DEV_SERVICE_KEY in readme
    assert [k["sha256"] for k in yaml.safe_load(DEV_KEYS_FILE.read_text())["keys"]] == digests
    assert f'"llmops.devKeyDigests" -}}}}{" ".join(digests)}{{{{' in (CHART / "templates" / "_helpers.tpl").read_text()


@pytest.mark.parametrize("key", [DEV_KEY, DEV_SERVICE_KEY])
def test_the_development_keys_are_refused(helm: Path, tmp_path: Path, key: str) -> None:
    digest = hashlib.sha256(key.encode()).hexdigest()
    for allow in (None, False):
        proc = template(helm, [keys_values(tmp_path, digest, allow)])
        assert proc.returncode != 0
        assert 'global.apiKeys.inline: refusing key "k1": it is the development key published in README.md' in (
            proc.stderr
        )
        assert "allowInsecureDevKey=true" in proc.stderr


def test_the_development_key_renders_when_explicitly_allowed(helm: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(DEV_KEY.encode()).hexdigest()
    docs = render(helm, [keys_values(tmp_path, digest, allow=True)])
    index = by_kind_name(docs)
    secret = index[("Secret", fullname("api-keys"))]
    assert digest in base64.b64decode(secret["data"]["api-keys.yaml"]).decode()
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_inline_keys_become_the_mounted_secret(helm: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"a key of my own").hexdigest()
    index = by_kind_name(render(helm, [keys_values(tmp_path, digest)]))
    file = yaml.safe_load(base64.b64decode(index[("Secret", fullname("api-keys"))]["data"]["api-keys.yaml"]))
    assert file == {"keys": [{"id": "k1", "tenant_id": "demo", "role": "admin", "sha256": digest}]}
    volumes = index[("Deployment", fullname("ingest"))]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "api-keys", "secret": {"secretName": fullname("api-keys"), "items": [
        {"key": "api-keys.yaml", "path": "api-keys.yaml"}
    ]}} in volumes  # fmt: skip


@pytest.mark.parametrize("value_set", value_set_params())
def test_no_example_deploys_the_development_key(helm: Path, value_set: Path | None) -> None:
    """Defect 3.10: the minimal example told users to create its Secret from infra/dev/api-keys.yaml."""
    digest = hashlib.sha256(DEV_KEY.encode()).hexdigest()
    if value_set is not None:
        text = value_set.read_text()
        assert "--from-file=api-keys.yaml=infra/dev/api-keys.yaml" not in text
        assert not re.search(r"--from-file=\S*infra/dev/", text)
        assert digest not in text and DEV_KEY not in text
        assert not (yaml.safe_load(text) or {}).get("global", {}).get("apiKeys", {}).get("allowInsecureDevKey")
    rendered = template(helm, [value_set] if value_set else [])
    assert rendered.returncode == 0, rendered.stderr
    assert digest not in rendered.stdout


def test_each_kafka_client_connects_as_its_own_principal_from_a_secret(helm: Path, tmp_path: Path) -> None:
    """SASL_SSL: each Kafka-using service reads its SCRAM user from its own Secret, the CA from another."""
    values = tmp_path / "kafka-sasl.yaml"
    secrets = {
        "ingest": "kafka-ingest",
        "warehouse": "kafka-warehouse",
        "inference": "kafka-inference",
        "feedback": "kafka-feedback",
        "evaluation": "kafka-evaluation",
        "cost": "kafka-cost",
        "drift-detection": "kafka-drift-detection",
        "alerting": "kafka-alerting",
        "governance-audit": "kafka-governance-audit",
    }
    services: dict[str, Any] = {name: {"kafka": {"sasl": {"existingSecret": s}}} for name, s in secrets.items()}
    services["warehouse"]["kafka"]["sasl"]["passwordKey"] = "scram-password"
    global_kafka = {"securityProtocol": "SASL_SSL", "tls": {"caSecret": "kafka-ca"}}
    values.write_text(yaml.safe_dump({"global": {"kafka": global_kafka}, "services": services}))
    index = by_kind_name(render(helm, [values]))
    for name, secret in secrets.items():
        container = only_container(index[("Deployment", fullname(name))])
        password_key = "scram-password" if name == "warehouse" else "password"
        assert {"name": "KAFKA_SASL_USERNAME", "valueFrom": {"secretKeyRef": {"name": secret, "key": "username"}}} in (
            container["env"]
        )
        assert {
            "name": "KAFKA_SASL_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": password_key}},
        } in container["env"]
        data = index[("ConfigMap", fullname(name))]["data"]
        assert data["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert data["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert data["KAFKA_SSL_CAFILE"] == "/etc/llmops/kafka-tls/ca.crt"
        assert not {k for k in data if k in {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}}
        assert {"name": "kafka-tls", "mountPath": "/etc/llmops/kafka-tls", "readOnly": True} in container[
            "volumeMounts"
        ]
    model_server = index[("ConfigMap", fullname("model-server"))]["data"]
    assert "KAFKA_SECURITY_PROTOCOL" not in model_server  # it uses no Kafka: no principal needed


def test_sasl_without_a_service_secret_fails_the_render(helm: Path) -> None:
    proc = template(helm, sets=["global.kafka.securityProtocol=SASL_PLAINTEXT"])
    assert proc.returncode != 0
    assert "kafka.sasl.existingSecret is required" in proc.stderr


def test_plaintext_adds_no_kafka_security_settings(helm: Path) -> None:
    for doc in render(helm):
        if doc["kind"] == "ConfigMap":
            assert not [k for k in doc.get("data", {}) if k.startswith(("KAFKA_SASL", "KAFKA_SSL", "KAFKA_SECURITY"))]


def test_a_persistent_spool_for_the_gateway(helm: Path) -> None:
    """spool.persistence: a PVC, mounted where INFERENCE_SPOOL_DIR points, one pod at a time unless RWX."""
    persistent = [
        "services.inference.spool.persistence.enabled=true",
        "services.inference.spool.persistence.size=5Gi",
        "services.inference.spool.persistence.storageClass=fast-ssd",
    ]
    single = ["services.inference.replicas=1", "services.inference.podDisruptionBudget.enabled=false"]
    refused = template(helm, sets=persistent)
    assert refused.returncode != 0 and "ReadWriteOnce attaches to one node" in refused.stderr

    docs = render(helm, sets=[*persistent, *single])
    index = by_kind_name(docs)
    claim = index[("PersistentVolumeClaim", fullname("inference-spool"))]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast-ssd",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    gateway = index[("Deployment", fullname("inference"))]
    assert gateway["spec"]["strategy"] == {"type": "Recreate"}
    assert {"name": "spool", "persistentVolumeClaim": {"claimName": fullname("inference-spool")}} in gateway["spec"][
        "template"
    ]["spec"]["volumes"]
    assert {"name": "spool", "mountPath": "/var/lib/llmops/spool"} in only_container(gateway)["volumeMounts"]
    assert index[("ConfigMap", fullname("inference"))]["data"]["INFERENCE_SPOOL_DIR"] == "/var/lib/llmops/spool"
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)

    shared = by_kind_name(
        render(helm, sets=[*persistent, "services.inference.spool.persistence.accessMode=ReadWriteMany"])
    )
    assert shared[("PersistentVolumeClaim", fullname("inference-spool"))]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert shared[("Deployment", fullname("inference"))]["spec"]["strategy"]["type"] == "RollingUpdate"
    default = by_kind_name(render(helm))
    assert ("PersistentVolumeClaim", fullname("inference-spool")) not in default
    assert default[("ConfigMap", fullname("inference"))]["data"]["INFERENCE_SPOOL_DIR"] == "/tmp/llmops-spool"


def test_services_with_platform_clients_are_told_where_the_warehouse_and_gateway_are(helm: Path) -> None:
    index = by_kind_name(render(helm, []))
    for name in ("evaluation", "feedback", "cost", "inference"):
        data = index[("ConfigMap", fullname(name))]["data"]
        assert data["LLMOPS_WAREHOUSE_URL"] == f"http://{fullname('warehouse')}:8002"
        assert data["LLMOPS_GATEWAY_URL"] == f"http://{fullname('inference')}:8003"
        assert "LLMOPS_SERVICE_KEY" not in data  # a secret: only ever from secretEnv
    assert "LLMOPS_WAREHOUSE_URL" not in index[("ConfigMap", fullname("ingest"))]["data"]


def test_the_platform_keys_are_generated_when_not_given_and_usable(helm: Path) -> None:
    """global.auditSigningKey / piiHashKey: a generated Ed25519 PEM the service loads, a 48-character hash key;
    kept on uninstall; and only the services that read them get them."""
    index = by_kind_name(render(helm))
    signing = index[("Secret", fullname("audit-signing-key"))]
    hashing = index[("Secret", fullname("pii-hash-key"))]
    for secret in (signing, hashing):
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pem = base64.b64decode(signing["data"]["signing-key"]).decode()
    assert DigestSigner.from_text(pem).public_key is not None
    assert len(base64.b64decode(hashing["data"]["hash-key"])) == 48
    readers = {
        name: {e["name"] for e in only_container(index[("Deployment", fullname(name))]).get("env", [])}
        for name in ("governance-audit", "ingest", "inference", "warehouse")
    }
    assert "GOVERNANCE_AUDIT_SIGNING_KEY" in readers["governance-audit"]
    assert {"LLMOPS_PII_HASH_KEY"} <= readers["ingest"] & readers["inference"]
    assert not {"GOVERNANCE_AUDIT_SIGNING_KEY", "LLMOPS_PII_HASH_KEY"} & readers["warehouse"]


def test_platform_keys_from_existing_secrets_render_no_secret(helm: Path) -> None:
    sets = ["global.auditSigningKey.existingSecret=audit-key", "global.piiHashKey.existingSecret=pii-key"]
    index = by_kind_name(render(helm, sets=sets))
    assert not {("Secret", fullname(n)) for n in PLATFORM_KEYS.values()} & set(index)
    env = {e["name"]: e for e in only_container(index[("Deployment", fullname("ingest"))])["env"]}
    assert env["LLMOPS_PII_HASH_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "pii-key", "key": "hash-key"}
