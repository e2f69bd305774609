"""When a tenant's retention changes, move the expiry of the rows already stored (bounded per run).

New rows are stamped with the retention in force when they are inserted (:mod:`.expiry`). Rows stored before
a change keep their ``expires_at`` until this component re-stamps them with one mutation per (tenant, table):
``ALTER TABLE t UPDATE expires_at = time + days WHERE tenant_id = tenant``, so shortening a retention deletes
old rows too and lengthening it keeps them. ``retention_stamps`` records what each (tenant, table) was last
stamped to; a pair with no record was stamped with the table's default. The work is level-triggered: each
run compares the retention in force with the stamps, so a change missed while the warehouse was down is
found at the next start. A run issues at most ``per_run`` mutations (each rewrites one column of the
tenant's parts, asynchronously in ClickHouse); the rest wait for the next run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from llmops_kit.tasks import cancel_and_wait

from llmops_warehouse.retention.expiry import EXPIRES_AT, Retention
from llmops_warehouse.retention.mapping import MAX_EXPIRY_S, TABLE_DATASET, default_days, time_column

__all__ = ["Restamper", "Stamp", "due_stamps"]

log = logging.getLogger(__name__)

Stamp = tuple[str, str, int]
"""(tenant, table, days)."""


def due_stamps(
    retention: Retention, stamped: Mapping[tuple[str, str], int], defaults: Mapping[str, int]
) -> list[Stamp]:
    """The (tenant, table, days) whose retention in force differs from what their rows were stamped with."""
    tenants = (retention.policies.tenants() if retention.policies is not None else set()) | {t for t, _ in stamped}
    due: list[Stamp] = []
    for tenant in sorted(tenants):
        for table in sorted(TABLE_DATASET):
            days = retention.table(tenant, table).days
            if days != stamped.get((tenant, table), default_days(table, defaults)):
                due.append((tenant, table, days))
    return due


class Restamper:
    """A lifespan component: every ``interval_s``, re-stamps at most ``per_run`` (tenant, table) pairs."""

    def __init__(
        self,
        client: Callable[[], Any],
        database: str,
        retention: Retention,
        defaults: Mapping[str, int],
        *,
        interval_s: float,
        per_run: int,
    ) -> None:
        self._connect = client
        self._client: Any = None
        self._db = database
        self._retention = retention
        self._defaults = dict(defaults)
        self._interval_s = interval_s
        self._per_run = per_run
        self._stamped: dict[tuple[str, str], int] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention-restamp")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("re-stamping retention failed; retrying in %.0fs", self._interval_s)
            await asyncio.sleep(self._interval_s)  # the period of the job, not a wait for a condition

    def run_once(self) -> list[Stamp]:
        """Issue the mutations due now (at most ``per_run``); nothing until the policies are materialised."""
        policies = self._retention.policies
        if policies is not None and not policies.caught_up:
            return []
        client = self._client = self._client or self._connect()
        if self._stamped is None:
            self._stamped = self._load(client)
        done = due_stamps(self._retention, self._stamped, self._defaults)[: self._per_run]
        for tenant, table, days in done:
            self._restamp(client, tenant, table, days)
            self._stamped[(tenant, table)] = days
        return done

    def _load(self, client: Any) -> dict[tuple[str, str], int]:
        rows = client.query(
            f"SELECT tenant_id, table_name, argMax(days, stamped_at) FROM {self._db}.retention_stamps"  # noqa: S608 - validated database name
            " GROUP BY tenant_id, table_name"
        ).result_rows
        return {(tenant, table): int(days) for tenant, table, days in rows}

    def _restamp(self, client: Any, tenant: str, table: str, days: int) -> None:
        column = time_column(table)
        client.command(
            f"ALTER TABLE {self._db}.{table} UPDATE {EXPIRES_AT} = toDateTime(least("
            f"toUInt64(toUnixTimestamp({column})) + {{days:UInt64}} * 86400, {MAX_EXPIRY_S}), 'UTC')"
            " WHERE tenant_id = {tenant:String}",
            parameters={"days": days, "tenant": tenant},
        )
        client.insert(
            f"{self._db}.retention_stamps", [[tenant, table, days]], column_names=["tenant_id", "table_name", "days"]
        )
        log.info("retention of %s for tenant %s is now %d days (stored rows re-stamped)", table, tenant, days)
