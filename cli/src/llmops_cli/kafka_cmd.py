"""`llmops kafka`: the services' Kafka principals, their SCRAM credentials and the catalog's ACLs.

Both commands connect with ``KAFKA_BOOTSTRAP_SERVERS`` and the ``KAFKA_SECURITY_PROTOCOL``/``KAFKA_SASL_*``/
``KAFKA_SSL_*`` settings of a super user (docs/kafka-security.md)::

    llmops kafka acls                 # print the ACLs topics.yaml implies
    llmops kafka acls --apply         # create missing topics, then the ACLs
    printf '%s' "$PW" | llmops kafka set-password ingest --password-stdin
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Annotated

import typer

from llmops_cli.context import cli_context

__all__ = ["kafka_app"]

kafka_app = typer.Typer(help="Kafka principals, credentials and ACLs.", no_args_is_help=True)


_SERVICE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def _service(value: str) -> str:
    if not _SERVICE.match(value):
        raise typer.BadParameter("a service directory name: lower-case letters, digits and '-', starting with a letter")
    return value


@kafka_app.command("acls")
def acls(
    ctx: typer.Context,
    apply: Annotated[bool, typer.Option("--apply", help="Create them on the cluster (default: only print)")] = False,
    create_topics: Annotated[bool, typer.Option(help="With --apply: create missing catalog topics first")] = True,
) -> None:
    """The ACLs derived from topics.yaml's producers/consumers: each service writes only the topics it owns."""
    from llmops_kit.kafka.acls import apply_acls, catalog_acls
    from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
    from llmops_kit.settings import ServiceSettings

    cli = cli_context(ctx)
    catalog = TopicCatalog.load()
    bindings = catalog_acls(catalog)
    for binding in bindings:
        cli.out.print(str(binding), highlight=False, soft_wrap=True)
    if not apply:
        return
    settings = ServiceSettings()
    servers, security = settings.kafka_bootstrap_servers, settings.kafka_security

    async def run() -> list[str]:
        created = await ensure_topics(servers, catalog, security=security) if create_topics else []
        await apply_acls(servers, bindings, security=security)
        return created

    try:
        created = asyncio.run(run())
    except Exception as exc:
        raise cli.fail(f"could not apply the ACLs on {servers}: {exc}") from exc
    if created:
        cli.err.print(f"created topics: {', '.join(created)}", highlight=False, soft_wrap=True)
    cli.err.print(f"applied {len(bindings)} ACLs on {servers}", highlight=False)


@kafka_app.command("set-password")
def set_password(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="The service (its SCRAM user name), e.g. ingest", callback=_service)],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create or change a service's SCRAM-SHA-512 credential (the password never appears in arguments)."""
    from llmops_kit.kafka.scram import upsert_scram_users
    from llmops_kit.settings import ServiceSettings
    from pydantic import SecretStr

    cli = cli_context(ctx)
    text = sys.stdin.read().rstrip("\n") if password_stdin else typer.prompt("Password", hide_input=True)
    if len(text) < 12:
        raise cli.fail("the password must have at least 12 characters", code=2)
    settings = ServiceSettings()
    servers = settings.kafka_bootstrap_servers
    try:
        asyncio.run(upsert_scram_users(servers, {service: SecretStr(text)}, security=settings.kafka_security))
    except Exception as exc:
        raise cli.fail(f"could not set the password of {service} on {servers}: {exc}") from exc
    cli.err.print(f"SCRAM-SHA-512 credential of User:{service} stored on {servers}", highlight=False)
