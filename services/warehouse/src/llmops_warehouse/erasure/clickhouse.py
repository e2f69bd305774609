"""The erasure in ClickHouse: find the subject's calls, count and delete its rows in every table, keep the ledger.

Order (docs/adr/0043): record the erased call ids, count, record the ledger entry (the receipt is fixed from
then on), delete. A redelivered request finds its entry and only deletes again (a no-op when nothing came
back), so it neither erases twice nor changes its receipt. Deletes are lightweight (rows vanish from every
read at once); ``APPLY DELETED MASK`` then rewrites the parts in the background so the rows are physically
gone within the merge bound. Every statement is parameterised; table and column names come from
:mod:`llmops_warehouse.erasure.rules`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from llmops_warehouse.erasure.ledger import LedgerEntry
from llmops_warehouse.erasure.rules import CALLS, RULES, TableRule
from llmops_warehouse.erasure.subjects import normalise, text_token

__all__ = ["ClickHouseErasures"]

_WRITE = {"priority": 1}
_HASH_PATTERN = r"^\\[[A-Z][A-Z0-9_]*:[0-9a-f]{16}\\]$"
_CALL_TEXTS = (
    "concat(arrayStringConcat(message_contents, '\\n'), '\\n', ifNull(output, ''), '\\n', "
    "arrayStringConcat(arrayMap(o -> ifNull(o, ''), choice_outputs), '\\n'), '\\n', "
    "arrayStringConcat(tool_arguments, '\\n'), '\\n', error_message, '\\n', parameters, '\\n', "
    "arrayStringConcat(tags, '\\n'), '\\n', arrayStringConcat(mapValues(metadata), '\\n'))"
)
"""The texts of a call where a hashed id's token is looked for."""
_ERASED = (
    "SELECT call_id FROM {db}.erased_calls WHERE tenant_id = {{tenant:String}} AND request_id = {{request:String}}"
)


def _hashed(expression: str) -> str:
    """SQL of :func:`~llmops_warehouse.erasure.subjects.normalise` for ``hashed_id`` over ``expression``."""
    t = f"trimBoth({expression})"
    return (
        f"multiIf(match({t}, '{_HASH_PATTERN}'), extract({t}, ':([0-9a-f]{{16}})'), "
        f"match(lower({t}), '^[0-9a-f]{{16}}$'), lower({t}), {t})"
    )


def subject_predicate(rule: TableRule, subject_type: str, params: dict[str, Any]) -> str | None:
    """The condition a row of ``rule.table`` matches the subject on (``{subject:String}``), or None."""
    ids = {name: sql for name, (sql, _) in rule.identifiers.items()}
    if subject_type in ("user_id", "session_id", "call_id"):
        return f"{ids[subject_type]} = {{subject:String}}" if subject_type in ids else None
    parts: list[str] = []
    if subject_type == "email":
        parts += [f"lower(trimBoth({ids['user_id']})) = {{subject:String}}"] if "user_id" in ids else []
        if rule.is_calls:
            parts.append("has(arrayMap(v -> lower(trimBoth(v)), mapValues(metadata)), {subject:String})")
    elif subject_type == "hashed_id":
        parts += [f"{_hashed(ids[f])} = {{subject:String}}" for f in ("user_id", "session_id") if f in ids]
        if rule.is_calls:
            parts.append(f"arrayExists(v -> {_hashed('v')} = {{subject:String}}, mapValues(metadata))")
            if params.get("token"):
                parts.append(f"position({_CALL_TEXTS}, {{token:String}}) > 0")
    return " OR ".join(parts) or None


def _table_where(rule: TableRule, subject_type: str, params: dict[str, Any], db: str) -> str | None:
    parts = [f"{sql} IN ({_ERASED.format(db=db)})" for sql, _ in rule.call_refs]
    predicate = subject_predicate(rule, subject_type, params)
    parts += [predicate] if predicate else []
    return " OR ".join(f"({part})" for part in parts) or None


class ClickHouseErasures:
    """The erasure's statements on the warehouse's writer client (``writing``) and reads (``read``)."""

    def __init__(self, db: str, writing: Callable[[], Any], read: Callable[[str, dict[str, Any]], Sequence[Any]]):
        self._db = db
        self._writing = writing
        self._read = read

    @staticmethod
    def _params(tenant_id: str, request_id: str, subject_type: str, value: str) -> dict[str, Any]:
        subject = normalise(subject_type, value)
        token = text_token(subject) if subject_type == "hashed_id" else None
        return {"tenant": tenant_id, "request": request_id, "subject": subject, "token": token or ""}

    def entry(self, tenant_id: str, request_id: str) -> LedgerEntry | None:
        """The ledger entry of a processed request, or None."""
        rows = self._read(self._entries_sql("WHERE tenant_id = {tenant:String} AND request_id = {request:String}"),
                          {"tenant": tenant_id, "request": request_id})  # fmt: skip
        return _entry(rows[0]) if rows else None

    def entries(self, since_ms: int = 0) -> list[LedgerEntry]:
        """The requests recorded since ``since_ms`` (0: every one, at start)."""
        where = "WHERE recorded_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')"
        return [_entry(row) for row in self._read(self._entries_sql(where), {"since": since_ms})]

    def erased_calls(self, since_ms: int = 0) -> list[tuple[str, str]]:
        """The (tenant, call id) pairs erased since ``since_ms`` (0: every one, at start)."""
        sql = (
            f"SELECT DISTINCT tenant_id, call_id FROM {self._db}.erased_calls"  # noqa: S608
            " WHERE recorded_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')"
        )
        return [(t, c) for t, c in self._read(sql, {"since": since_ms})]

    def call_page(self, tenant_id: str, request_id: str, after: str, limit: int) -> list[str]:
        """Up to ``limit`` call ids erased by the request, in order, after ``after``."""
        sql = (
            f"SELECT DISTINCT call_id FROM {self._db}.erased_calls WHERE tenant_id = {{tenant:String}}"  # noqa: S608
            " AND request_id = {request:String} AND call_id > {after:String} ORDER BY call_id LIMIT {limit:UInt32}"
        )
        return [row[0] for row in self._read(sql, {"tenant": tenant_id, "request": request_id, "after": after,
                                                   "limit": limit})]  # fmt: skip

    def _entries_sql(self, where: str) -> str:
        return (
            "SELECT tenant_id, request_id, subject_type, subject_digest, cutoff, toString(receipt_id),"  # noqa: S608
            f" counts, purge_deadline, completed_at FROM {self._db}.erasure_ledger FINAL {where}"
        )

    def plan(self, tenant_id: str, request_id: str, subject_type: str, value: str) -> dict[str, int]:
        """Record the subject's call ids under the request and count its rows per table (nothing deleted)."""
        params = self._params(tenant_id, request_id, subject_type, value)
        with self._writing() as client:
            predicate = subject_predicate(CALLS, subject_type, params)
            client.command(
                f"INSERT INTO {self._db}.erased_calls (tenant_id, request_id, call_id)"  # noqa: S608
                f" SELECT tenant_id, {{request:String}}, call_id FROM {self._db}.calls"
                f" WHERE tenant_id = {{tenant:String}} AND ({predicate})",
                parameters=params,
                settings=_WRITE,
            )
            if subject_type == "call_id":  # its scores or feedback go even when the call itself was never stored
                row = [tenant_id, request_id, params["subject"]]
                client.insert(f"{self._db}.erased_calls", [row], column_names=_CALL_COLUMNS)
            return {rule.table: self._count(client, rule, subject_type, params) for rule in RULES}

    def _count(self, client: Any, rule: TableRule, subject_type: str, params: dict[str, Any]) -> int:
        where = _table_where(rule, subject_type, params, self._db)
        if where is None:
            return 0
        sql = f"SELECT count() FROM {self._db}.{rule.table} WHERE tenant_id = {{tenant:String}} AND ({where})"  # noqa: S608
        return int(client.query(sql, parameters=params, settings=_WRITE).result_rows[0][0])

    def record(self, entry: LedgerEntry) -> None:
        """Keep the processed request (its receipt included) in the ledger table."""
        row = [entry.tenant_id, entry.request_id, entry.subject_type, entry.subject_digest, entry.cutoff,
               entry.receipt_id, entry.counts, entry.purge_deadline, entry.completed_at]  # fmt: skip
        with self._writing() as client:
            client.insert(f"{self._db}.erasure_ledger", [row], column_names=_LEDGER_COLUMNS)

    def delete(self, tenant_id: str, request_id: str, subject_type: str, value: str) -> None:
        """Delete the subject's rows and its calls' rows from every table; their parts are rewritten later."""
        params = self._params(tenant_id, request_id, subject_type, value)
        with self._writing() as client:
            for rule in RULES:
                where = _table_where(rule, subject_type, params, self._db)
                # A DELETE is a mutation over every part of the table and the mask a rewrite of the parts it
                # touched: none for a table where nothing matches (most tables, a redelivery, a subject never seen).
                if where is not None and self._holds(client, rule, where, params):
                    client.command(
                        f"DELETE FROM {self._db}.{rule.table} WHERE tenant_id = {{tenant:String}} AND ({where})",  # noqa: S608
                        parameters=params,
                        settings=_WRITE,
                    )
                    mask = f"ALTER TABLE {self._db}.{rule.table} APPLY DELETED MASK"
                    client.command(mask, settings={"mutations_sync": 0})

    def _holds(self, client: Any, rule: TableRule, where: str, params: dict[str, Any]) -> bool:
        sql = f"SELECT 1 FROM {self._db}.{rule.table} WHERE tenant_id = {{tenant:String}} AND ({where}) LIMIT 1"  # noqa: S608
        return bool(client.query(sql, parameters=params, settings=_WRITE).result_rows)

    def calls_of(self, tenant_id: str, request_id: str) -> list[str]:
        """Every call id erased by the request."""
        return [row[0] for row in self._read(_ERASED.format(db=self._db), {"tenant": tenant_id, "request": request_id})]

    def add_calls(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Record (tenant, request id, call id) of calls that arrived after their subject was erased."""
        with self._writing() as client:
            client.insert(f"{self._db}.erased_calls", [list(r) for r in rows], column_names=_CALL_COLUMNS)


_CALL_COLUMNS = ["tenant_id", "request_id", "call_id"]
_LEDGER_COLUMNS = ["tenant_id", "request_id", "subject_type", "subject_digest", "cutoff", "receipt_id", "counts",
                   "purge_deadline", "completed_at"]  # fmt: skip


def _entry(row: Sequence[Any]) -> LedgerEntry:
    tenant, request, subject_type, digest, cutoff, receipt, counts, purge, completed = row
    counts = json.loads(counts) if isinstance(counts, str) else dict(counts)
    return LedgerEntry(tenant, request, subject_type, digest, cutoff, receipt, {k: int(v) for k, v in counts.items()},
                       purge, completed)  # fmt: skip
