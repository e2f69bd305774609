"""`llmops pii`: the platform's PII and secrets redaction, offline, on any text (docs/pii.md).

``llmops pii redact`` reads standard input and prints it redacted with the same engine and policy as ingest and
the gateway (``LLMOPS_PII_POLICY``, ``LLMOPS_PII_HASH_KEY``, or ``--policy``); ``--findings`` prints what was
found instead (types and offsets, never the values). Exit code 2 when the policy blocks the text or is invalid.
``llmops pii check`` reads a ``pii_redaction`` policy record (or its settings) and says whether ingest and the
gateway would apply it, with the cause when not (a custom pattern RE2 refuses, a bound exceeded, an unknown
entity).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from llmops_pii.detector import find
from llmops_pii.policy import PolicyBook, PolicyError
from llmops_pii.records import rule_of
from llmops_pii.redact import PiiBlocked, redact_text
from llmops_pii.settings import PiiSettings
from llmops_schemas.v1.governance import PiiRedactionSettings
from pydantic import ValidationError

from llmops_cli.context import cli_context

__all__ = ["pii_app"]

pii_app = typer.Typer(help="Find and redact personal data and secrets in text.", no_args_is_help=True)
MAX_STDIN_BYTES = 64 * 1024 * 1024


@pii_app.command("redact")
def redact(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Whose policy applies (the hashing secret is the tenant's)")] = "default",
    policy: Annotated[
        str | None, typer.Option(help='JSON like LLMOPS_PII_POLICY, e.g. \'{"default": {"email": "mask"}}\'')
    ] = None,
    findings: Annotated[bool, typer.Option("--findings", help="Print the findings as JSON, not the text")] = False,
) -> None:
    """Read text on standard input, print it with personal data and secrets redacted."""
    cli = cli_context(ctx)
    text = sys.stdin.read(MAX_STDIN_BYTES + 1)
    if len(text) > MAX_STDIN_BYTES:
        raise cli.fail(f"the input is larger than {MAX_STDIN_BYTES} characters", code=2)
    if findings:
        found = [{"type": f.type, "start": f.start, "end": f.end} for f in find(text)]
        typer.echo(json.dumps(found))
        return
    try:
        book = _book(policy)
        typer.echo(redact_text(text, book.for_tenant(tenant)), nl=False)
    except (PolicyError, PiiBlocked) as exc:
        raise cli.fail(str(exc), code=2) from exc


@pii_app.command("check")
def check(ctx: typer.Context) -> None:
    """Read a pii_redaction policy record (or its settings) on standard input; exit 2 with the cause if a service
    would not apply it."""
    cli = cli_context(ctx)
    text = sys.stdin.read(MAX_STDIN_BYTES + 1)
    try:
        document = json.loads(text)
        settings = document.get("settings", document) if isinstance(document, dict) else document
        rule = rule_of(PiiRedactionSettings.model_validate(settings))
    except (ValueError, ValidationError, PolicyError) as exc:
        raise cli.fail(f"not applied: {exc}", code=2) from exc
    patterns = ", ".join(p.name for p in rule.patterns) or "none"
    typer.echo(
        f"applies: {len(rule.actions)} types, custom patterns: {patterns}; targets: {', '.join(sorted(rule.targets))}"
    )


def _book(policy: str | None) -> PolicyBook:
    settings = PiiSettings()
    if policy is not None:
        settings = settings.model_copy(update={"policy": policy})
    return settings.policy_book()
