"""Wiring every service does the same way at start: its topics and its API keys.

* :class:`TopicProvisioner`: a start-only component creating the catalog topics a service uses (and their
  dead-letter topics) when they are missing; every service puts it before its Kafka clients.
* :func:`load_api_keys` and :func:`install_api_keys`: without ``LLMOPS_API_KEYS_FILE`` a service still starts,
  its authenticated routes answer 503 ("authentication is not configured") and ``/readyz`` answers 503 (its
  failing ``api_keys`` check is in the details, which need a valid key, so only the start-up warning names it),
  so an orchestrator never routes traffic to it; a malformed file fails the start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from llmops_kit.auth import ApiKeyStore
from llmops_kit.http.app import ReadinessCheck
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
from llmops_kit.settings import KafkaSecurity

__all__ = ["MISSING_KEYS", "TopicProvisioner", "install_api_keys", "load_api_keys"]

MISSING_KEYS = "LLMOPS_API_KEYS_FILE is not set: every authenticated request answers 503 until it is"
log = logging.getLogger(__name__)


class TopicProvisioner:
    """Creates ``topics`` of the catalog (and their DLQs) at start if they are missing; idempotent."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        timeout_s: float = 30.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topics = list(topics)
        self._timeout_s = timeout_s
        self._security = security

    async def start(self) -> None:
        created = await ensure_topics(
            self._bootstrap_servers,
            TopicCatalog.load(),
            self._topics,
            timeout_s=self._timeout_s,
            security=self._security,
        )
        if created:
            log.info("created topics %s", ", ".join(created))

    async def stop(self) -> None:
        return None


def load_api_keys(path: Path | None) -> ApiKeyStore | None:
    """The key store of ``path``; None (with a warning) when no file is configured."""
    if path is None:
        log.warning(MISSING_KEYS)
        return None
    return ApiKeyStore.from_file(path)


async def _never_ready() -> bool:
    return False


def install_api_keys(app: FastAPI, keys: ApiKeyStore | None) -> dict[str, ReadinessCheck]:
    """Put ``keys`` where :func:`~llmops_kit.auth.requires` reads them; the readiness checks this adds.

    With no keys, nothing is installed (every authenticated route answers 503) and the returned
    ``api_keys`` check fails, so the service reports not ready.
    """
    if keys is None:
        return {"api_keys": _never_ready}
    app.state.api_keys = keys
    return {}
