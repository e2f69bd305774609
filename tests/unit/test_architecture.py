"""Boundaries of the monorepo: services never import each other; shared code never imports a service."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
SHARED = {
    "schemas": ROOT / "schemas" / "src",
    "kit": ROOT / "kit" / "src",
    "pii": ROOT / "pii" / "src",
    "drift": ROOT / "drift" / "src",
}
PACKAGES = [
    ROOT / "schemas", ROOT / "kit", ROOT / "pii", ROOT / "drift", ROOT / "cli",
    *(ROOT / "services" / s for s in SERVICES),
]  # fmt: skip


def package_of(directory: str) -> str:
    """The import name of a service directory: ``model-server`` is imported as ``llmops_model_server``."""
    return "llmops_" + directory.replace("-", "_")


def _imported_packages(source_root: Path) -> dict[str, set[str]]:
    """Top-level package of every import, per file."""
    found: dict[str, set[str]] = {}
    for path in source_root.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(source_root))] = names
    return found


def forbidden_imports(source_root: Path, forbidden: set[str]) -> dict[str, list[str]]:
    """The files under ``source_root`` that import one of ``forbidden``, with what they import."""
    return {
        file: sorted(names & forbidden) for file, names in _imported_packages(source_root).items() if names & forbidden
    }


def test_there_are_services_to_check() -> None:
    assert {"ingest", "inference", "model-server", "warehouse"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = {package_of(s) for s in SERVICES if s != service} | {"llmops_cli"}
    assert forbidden_imports(ROOT / "services" / service / "src", others) == {}


@pytest.mark.parametrize("library", sorted(SHARED))
def test_shared_code_imports_no_service(library: str) -> None:
    forbidden = {package_of(s) for s in SERVICES} | {"llmops_cli"}
    if library in {"schemas", "pii", "drift"}:
        forbidden.add("llmops_kit")  # contracts, the redaction engine and the drift statistics stand alone
    assert forbidden_imports(SHARED[library], forbidden) == {}


def test_the_check_catches_a_planted_import_of_the_model_server(tmp_path: Path) -> None:
    """A package name with a dash is checked under its import name (it was ``llmops_model-server``: never matched)."""
    (tmp_path / "handlers.py").write_text("import os\nfrom llmops_model_server.models import gpt\n")
    (tmp_path / "clean.py").write_text("from llmops_kit.kafka.publisher import EventPublisher\n")
    others = {package_of(s) for s in SERVICES if s != "ingest"}

    assert forbidden_imports(tmp_path, others) == {"handlers.py": ["llmops_model_server"]}


def _distribution(requirement: str) -> str:
    name = re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_a_package_declares_every_library_it_imports(package: Path) -> None:
    """A library reached only through another package's dependencies breaks when that package drops it."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    declared = {_distribution(r) for r in project["dependencies"]} | {_distribution(project["name"])}
    owners = packages_distributions()
    imported = set().union(*_imported_packages(package / "src").values()) - set(sys.stdlib_module_names)
    needed = {
        _distribution(module.replace("_", "-")) if module.startswith("llmops_") else _distribution(dist)
        for module in imported - {"__future__"}
        for dist in owners.get(module, [module])
    }
    assert sorted(needed - declared) == []
