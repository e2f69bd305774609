"""Create or change SCRAM credentials through the Kafka admin API (KIP-554, AlterUserScramCredentials).

    await upsert_scram_users("broker:9092", {"ingest": SecretStr("..."), ...}, security=admin_security)

The client salts and hashes the password itself (RFC 5802 ``SaltedPassword``), so the broker never sees it;
what goes over the wire is what ``kafka-configs --alter --add-config 'SCRAM-SHA-512=[password=...]'`` sends.
aiokafka has no message for this API, so the (flexible, v0) request is declared here with aiokafka's own
protocol types.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar

from aiokafka.errors import for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import CompactArray, CompactBytes, CompactString, Int8, Int16, Int32, Schema, TaggedFields
from pydantic import SecretStr

from llmops_kit.kafka.security import open_client
from llmops_kit.settings import KafkaSecurity

__all__ = ["ScramError", "upsert_scram_users"]

_SHA512 = 2  # ScramMechanism.SCRAM_SHA_512
ITERATIONS = 8192
"""SCRAM-SHA-512 needs at least 4096; Kafka's tools default to 4096, a little more costs nothing here."""


class ScramError(RuntimeError):
    """The broker refused to store one or more credentials."""


class _AlterScramResponse(Response):  # type: ignore[misc]  # aiokafka ships no type hints
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScramStruct(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION: ClassVar[bool] = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterScramResponse
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScramRequest(Request[_AlterScramStruct]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, upsertions: list[tuple[Any, ...]]) -> None:
        self._upsertions = upsertions

    def build(self, request_struct_class: type[_AlterScramStruct]) -> _AlterScramStruct:
        return request_struct_class([], self._upsertions, {})


def _upsertion(user: str, password: SecretStr) -> tuple[Any, ...]:
    salt = secrets.token_bytes(32)
    salted = hashlib.pbkdf2_hmac("sha512", password.get_secret_value().encode(), salt, ITERATIONS)
    return (user, _SHA512, ITERATIONS, salt, salted, {})


async def upsert_scram_users(
    bootstrap_servers: str,
    users: Mapping[str, SecretStr],
    *,
    security: KafkaSecurity | None = None,
    timeout_s: float = 30.0,
) -> None:
    """Set the SCRAM-SHA-512 password of each user (created if new); ``security`` must be a super user."""
    if not users:
        return
    request = _AlterScramRequest([_upsertion(user, password) for user, password in users.items()])
    async with open_client(bootstrap_servers, security, client_id="llmops-scram", timeout_s=timeout_s) as client:
        response = await client.send(client.get_random_node(), request)
    failures = [
        f"{user}: {message or for_code(code).__name__}" for user, code, message, _ in response.results if code != 0
    ]
    if failures:
        raise ScramError("could not store SCRAM credentials: " + "; ".join(failures))
