"""Which warehouse reads are privileged, and their audit entries (docs/governance.md, "Privileged reads").

- the audit trail and the key history (``audit_records``, ``audit_chain``, ``audit_digests``, ``api_keys``),
  whoever reads them: ``audit.read``;
- stored prompts and outputs (``/v1/calls``, ``/v1/calls/{id}``, ``/v1/events/calls``) read by a tenant's key:
  ``calls.read``. A platform service's key (evaluation, feedback, cost reading history to do their work) is not
  a person reading the data, and its reads would flood the trail;
- the other tables that hold text about stored calls, read by a tenant's key (the same exemption): dataset
  examples (``dataset.read``, as the evaluation service's route), review items (``review_items.read``, as the
  feedback service's route), feedback (``feedback.read``: corrections and comments) and evaluation scores
  (``scores.read``: a judge's explanation may quote the output it scored).

A paginated read is one entry, at its first page (a later page continues a query already recorded). An entry
names the table or call id and the filters used, never their values (a text search or a user id is subject data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from llmops_kit.access_audit import audit_read, filter_names
from llmops_kit.auth import Principal

__all__ = ["AUDIT_TABLES", "SUBJECT_TABLES", "audit_call_read", "audit_table_read"]

AUDIT_TABLES = frozenset({"audit_records", "audit_chain", "audit_digests", "api_keys"})
SUBJECT_TABLES = {
    "dataset_examples": "dataset.read",
    "review_items": "review_items.read",
    "feedback": "feedback.read",
    "evaluation_scores": "scores.read",
}
"""Tables (but calls) whose rows hold text about stored calls, and the action a tenant key's read of one is."""


async def audit_table_read(
    request: Request, caller: Principal, table: str, filters: Mapping[str, Any], cursor: str | None
) -> None:
    """The entry for a first page of ``table`` when reading it is privileged (else nothing)."""
    if cursor is not None:
        return
    if table in AUDIT_TABLES:
        await audit_read(request, caller, action="audit.read", resource=("table", table), details=filter_names(filters))
    elif table == "calls":
        await audit_call_read(request, caller, "all", filters)
    elif table in SUBJECT_TABLES and not caller.is_platform:
        action = SUBJECT_TABLES[table]
        await audit_read(request, caller, action=action, resource=("table", table), details=filter_names(filters))


async def audit_call_read(request: Request, caller: Principal, call_id: str, filters: Mapping[str, Any]) -> None:
    """The entry for a tenant key's read of stored calls (one call, or a first page of a list)."""
    if not caller.is_platform:
        await audit_read(
            request, caller, action="calls.read", resource=("call", call_id), details=filter_names(filters)
        )
