"""The one place that turns :class:`~llmops_kit.settings.KafkaSecurity` into aiokafka client arguments.

Every Kafka client the platform creates (producer, consumer loop, admin, materializers, the broker probe)
spreads these into its constructor, so TLS and SASL apply to all of them or to none::

    AIOKafkaProducer(bootstrap_servers=servers, **client_kwargs(settings.kafka_security), ...)

A faust worker takes the same settings through ``faust.auth.SASLCredentials``/``SSLCredentials``; see
docs/kafka-security.md.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.helpers import create_ssl_context

from llmops_kit.settings import KafkaSecurity

__all__ = ["client_kwargs", "open_client", "ssl_context"]


def client_kwargs(security: KafkaSecurity | None) -> dict[str, Any]:
    """aiokafka's ``security_protocol``/``sasl_*``/``ssl_context`` for ``security``.

    None reads :class:`KafkaSecurity` from the environment (``KAFKA_SECURITY_PROTOCOL``, ...), so a client
    whose caller forgot to pass the settings still connects as the deployment says, never silently in
    PLAINTEXT to a secured cluster.
    """
    if security is None:
        security = KafkaSecurity()
    if security.security_protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": security.security_protocol}
    if security.uses_tls:
        kwargs["ssl_context"] = ssl_context(security)
    if security.uses_sasl:
        assert security.sasl_password is not None  # KafkaSecurity refuses SASL without credentials
        kwargs["sasl_mechanism"] = security.sasl_mechanism
        kwargs["sasl_plain_username"] = security.sasl_username
        kwargs["sasl_plain_password"] = security.sasl_password.get_secret_value()
    return kwargs


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    """A client TLS context: the CA file (or the system trust store), the client certificate if any."""
    context: ssl.SSLContext = create_ssl_context(
        cafile=security.ssl_cafile, certfile=security.ssl_certfile, keyfile=security.ssl_keyfile
    )
    # Only for brokers reached by an address their certificate does not name (a port-forward); never the default.
    context.check_hostname = security.ssl_check_hostname
    return context


@contextlib.asynccontextmanager
async def open_client(
    bootstrap_servers: str, security: KafkaSecurity | None, *, client_id: str, timeout_s: float, **options: Any
) -> AsyncIterator[AIOKafkaClient]:
    """A bootstrapped low-level client, for protocol requests aiokafka's admin client lacks (ACLs, SCRAM)."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        request_timeout_ms=int(timeout_s * 1000),
        **options,
        **client_kwargs(security),
    )
    try:
        await client.bootstrap()
        yield client
    finally:
        await client.close()
