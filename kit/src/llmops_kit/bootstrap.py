"""Wiring every service does the same way at start: its topics and its API keys.

* :class:`TopicProvisioner`: a start-only component creating the catalog topics a service uses (and their
  dead-letter topics) when they are missing; every service puts it before its Kafka clients.
* :func:`load_api_keys` and :func:`install_api_keys`: the service's key store, kept current from the governance
  service's keys topic (:mod:`llmops_kit.keystate`: revocations and rotations apply within a second, without a
  restart), with the keys of ``LLMOPS_API_KEYS_FILE`` as its bootstrap; ``/readyz`` answers 503 until the store
  has read the topic (its ``api_keys`` check). A malformed file fails the start. A store given as None (tests)
  installs nothing: authenticated routes answer 503 ("authentication is not configured"), and so does
  ``/readyz``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI

from llmops_kit.auth import ApiKeyStore
from llmops_kit.http.app import ReadinessCheck
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
from llmops_kit.keystate import KeyStateFollower
from llmops_kit.settings import KafkaSecurity, ServiceSettings

__all__ = ["NO_KEYS_FILE", "TopicProvisioner", "install_api_keys", "load_api_keys"]

NO_KEYS_FILE = "LLMOPS_API_KEYS_FILE is not set: only keys created through the governance service are accepted"
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


def load_api_keys(settings: ServiceSettings) -> ApiKeyStore:
    """The keys of ``settings.api_keys_file`` (if any), kept current from the keys topic once the app starts."""
    path = settings.api_keys_file
    if path is None:
        log.info(NO_KEYS_FILE)
    store = ApiKeyStore.from_file(path) if path is not None else ApiKeyStore()
    store.source = KeyStateFollower(settings, store)
    return store


async def _never_ready() -> bool:
    return False


def install_api_keys(app: FastAPI, keys: ApiKeyStore | None) -> dict[str, ReadinessCheck]:
    """Put ``keys`` where :func:`~llmops_kit.auth.requires` reads them; the readiness checks this adds.

    A store from :func:`load_api_keys` follows the keys topic: the kit's lifespan starts its follower before
    the service's own components (and stops it after them), its refusals are audited as the app's service,
    and the ``api_keys`` check passes once it has caught up. With no keys, nothing is installed (every
    authenticated route answers 503) and the ``api_keys`` check fails, so the service reports not ready.
    """
    if keys is None:
        return {"api_keys": _never_ready}
    app.state.api_keys = keys
    if isinstance(keys.source, KeyStateFollower):
        keys.source.audit_as(getattr(app.state, "service_name", "service"))
        return {"api_keys": keys.source.check}
    return {}
