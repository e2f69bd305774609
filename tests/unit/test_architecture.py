"""Boundaries of the monorepo: services never import each other; shared code never imports a service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
SHARED = {"schemas": ROOT / "schemas" / "src", "kit": ROOT / "kit" / "src"}


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
        found[str(path.relative_to(ROOT))] = names
    return found


def test_there_are_services_to_check() -> None:
    assert {"ingest", "warehouse"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = {f"llmops_{s}" for s in SERVICES if s != service} | {"llmops_cli"}
    offenders = {
        file: sorted(names & others)
        for file, names in _imported_packages(ROOT / "services" / service / "src").items()
        if names & others
    }
    assert offenders == {}


@pytest.mark.parametrize("library", sorted(SHARED))
def test_shared_code_imports_no_service(library: str) -> None:
    forbidden = {f"llmops_{s}" for s in SERVICES} | {"llmops_cli"}
    if library == "schemas":
        forbidden.add("llmops_kit")  # contracts stand alone
    offenders = {
        file: sorted(names & forbidden)
        for file, names in _imported_packages(SHARED[library]).items()
        if names & forbidden
    }
    assert offenders == {}
