"""Locate the repository checkout that holds ``infra/`` (scripts, topic catalog)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "LLMOPS_HOME"
_MARKER = Path("infra") / "kafka" / "pom.xml"


def repo_root() -> Path:
    """The directory containing ``infra/kafka/pom.xml``.

    ``$LLMOPS_HOME`` wins when set; otherwise walk up from this file (works for the editable
    workspace install). Raises ``FileNotFoundError`` with a hint when neither works, e.g. when
    llmops_kit is installed as a wheel outside the checkout.
    """
    env = os.environ.get(ENV_HOME)
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / _MARKER).is_file():
            raise FileNotFoundError(f"${ENV_HOME}={env} does not contain {_MARKER}")
        return root
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / _MARKER).is_file():
            return parent
    raise FileNotFoundError(f"no directory above {here} contains {_MARKER}; set ${ENV_HOME} to the repository checkout")


def kafka_infra_dir() -> Path:
    """``<repo>/infra/kafka``: pom.xml, fetch.sh, start.sh, log4j.properties, topics.yaml."""
    return repo_root() / "infra" / "kafka"


def cache_dir() -> Path:
    """``$LLMOPS_CACHE_DIR`` or ``<repo>/.cache`` (the same default fetch.sh uses)."""
    env = os.environ.get("LLMOPS_CACHE_DIR")
    return Path(env).expanduser() if env else repo_root() / ".cache"
