"""The platform's Prometheus rules (helm/llmops/files/llmops-rules.yaml): valid for promtool, each alert firing on
the series it is written for (infra/prometheus/llmops-rules.test.yaml), shipped by the chart as a PrometheusRule,
and naming only metrics the platform exports.

promtool is built from the Go module proxy by infra/tools/install-promtool.sh when .cache/bin/promtool is missing
(minutes cold, instant afterwards), as helm is; never skipped.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.contract.test_helm_chart import helm, render

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "helm" / "llmops" / "files" / "llmops-rules.yaml"
RULE_TESTS = REPO_ROOT / "infra" / "prometheus" / "llmops-rules.test.yaml"
INSTALL = REPO_ROOT / "infra" / "tools" / "install-promtool.sh"
PROMTOOL = REPO_ROOT / ".cache" / "bin" / "promtool"
# Series that come from outside the platform's code: Prometheus's own and kube-state-metrics'.
EXTERNAL = {"up", "kube_deployment_status_replicas_unavailable"}
# Room for the one-off promtool build (session fixture) on top of the suite's 600 s default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
__all__ = ["helm"]  # the chart's fixture, used by the last test


@pytest.fixture(scope="session")
def promtool() -> Path:
    built = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=2200, check=False)
    assert built.returncode == 0, built.stderr
    return PROMTOOL


def test_promtool_checks_the_rules(promtool: Path) -> None:
    checked = subprocess.run([str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 9 rules found" in checked.stdout


def test_every_alert_fires_on_its_series(promtool: Path) -> None:
    tested = subprocess.run(
        [str(promtool), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_rules_name_only_metrics_the_code_exports() -> None:
    exported = set()
    for path in [*REPO_ROOT.glob("kit/src/**/*.py"), *REPO_ROOT.glob("services/*/src/**/*.py")]:
        exported |= set(re.findall(r'"(llmops_[a-z_]+)"', path.read_text(encoding="utf-8")))
    exprs = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    named = {m for e in exprs for m in re.findall(r"\b([a-z_]+)(?=\{|\[|\)| >| ==)", e) if "_" in m or m == "up"}
    named -= {"sum", "max", "rate", "increase", "deriv", "by", "and"}
    assert named - EXTERNAL <= exported, named - EXTERNAL - exported


def test_the_chart_ships_the_rules_as_a_prometheus_rule(helm: Path) -> None:
    off = [d for d in render(helm) if d["kind"] == "PrometheusRule"]
    assert off == []
    [rule] = [
        d
        for d in render(helm, sets=["prometheusRule.enabled=true", "prometheusRule.labels.release=kps"])
        if d["kind"] == "PrometheusRule"
    ]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["metadata"]["labels"]["release"] == "kps"
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
