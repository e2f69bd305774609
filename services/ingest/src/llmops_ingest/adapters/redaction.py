"""The PII-redaction hook point.

Ingest calls a :class:`~llmops_ingest.ports.Redactor` on every valid record before publishing it. The
redaction policy (which fields, which patterns, per-tenant switches) is a later piece of work; until
then :class:`NoopRedactor` keeps records as they are, and replacing it is a one-line change in
``bootstrap.py``.
"""

from __future__ import annotations

from llmops_schemas.v2 import CallRecorded

__all__ = ["NoopRedactor"]


class NoopRedactor:
    """Publishes records unchanged."""

    def redact(self, call: CallRecorded, *, tenant_id: str) -> CallRecorded:
        return call
