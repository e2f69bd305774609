"""The PII-redaction hook point.

Ingest calls a :class:`~llmops_ingest.ports.Redactor` on every valid record before publishing it. The
redaction policy (which fields, which patterns, per-tenant switches) is a later piece of work; until
then :class:`NoopRedactor` keeps records as they are, and replacing it is a one-line change in
``bootstrap.py``.
"""

from __future__ import annotations

from llmops_ingest.ports import CallStruct

__all__ = ["NoopRedactor"]


class NoopRedactor:
    """Publishes records unchanged."""

    def redact(self, call: CallStruct, *, tenant_id: str) -> CallStruct:
        return call
