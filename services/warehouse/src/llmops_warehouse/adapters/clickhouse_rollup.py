"""Putting back what an interrupted insert kept from the per-minute rollup (docs/adr/0064).

``calls_per_minute`` is fed by a materialized view on ``calls``. ClickHouse writes an insert's ``calls`` part and
then the view's part of the rollup, two parts and no transaction: a warehouse killed between them (or an insert
failing in the view) leaves calls stored that the rollup never counted. The consumer had not committed that batch,
so it reads it again, and the dedup check, finding those calls stored, would skip them for good: every call
queryable, the summary short of them.

So whenever a batch holds calls already stored, the store compares, over the minutes of those calls, the count in
the rollup with the rows in ``calls``, and rebuilds each rollup key (tenant, minute, app, environment,
model, origin) that counts fewer, from ``calls``. A redelivered call that was fully stored finds the counts equal and
costs one small query; a rollup that counts more (calls erased or expired since, the rollup keeps counts for 400
days) is left alone. The rebuild deletes the key's rows and inserts them again: a process killed between the two
has not committed the batch either, and its replay finds the key short and rebuilds it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ROLLUP_AGGREGATES", "restore_rollup"]


ROLLUP_AGGREGATES = (
    "countState() AS calls, "
    "sumState(toUInt64(status = 'error')) AS errors, "
    "sumState(ifNull(prompt_tokens, toUInt64(0))) AS prompt_tokens, "
    "sumState(ifNull(completion_tokens, toUInt64(0))) AS completion_tokens, "
    "sumState(ifNull(total_tokens, toUInt64(0))) AS total_tokens, "
    "quantilesState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms"
)
"""The aggregates of ``calls_per_minute_mv`` (infra/clickhouse/migrations/0003): must stay the view's. The
integration test that rebuilds a key compares every one of them with what the view wrote."""

_KEY = "tenant_id, minute, app, environment, model, origin"
_KEY_TYPE = "Array(Tuple(String, UInt32, String, String, String, String))"
_MINUTE = "toDateTime(toStartOfMinute(started_at), 'UTC')"
_CALLS_IN_MINUTES = (
    "tenant_id IN {tenants:Array(String)}"
    " AND started_at >= toDateTime({lo:UInt32}, 'UTC')"
    " AND started_at < toDateTime({hi:UInt32}, 'UTC')"
    " AND toUnixTimestamp(toStartOfMinute(started_at)) IN {minutes:Array(UInt32)}"
)
_ROLLUP_IN_MINUTES = "tenant_id IN {tenants:Array(String)} AND toUnixTimestamp(minute) IN {minutes:Array(UInt32)}"


def restore_rollup(client: Any, database: str, replayed: Iterable[tuple[str, int]], settings: Mapping[str, Any]) -> int:
    """Rebuild every rollup key short of the calls stored, over the minutes of the ``replayed`` calls (tenant,
    start time in epoch seconds) that a batch found already stored, on the writer ``client`` (under the store's
    lock); returns how many keys were rebuilt."""
    minutes_by_tenant = {(tenant, seconds - seconds % 60) for tenant, seconds in replayed}
    if not minutes_by_tenant:
        return 0
    minutes = sorted({minute for _, minute in minutes_by_tenant})
    params: dict[str, Any] = {
        "tenants": sorted({tenant for tenant, _ in minutes_by_tenant}),
        "minutes": minutes,
        "lo": minutes[0],
        "hi": minutes[-1] + 60,
    }
    rows = client.query(_short_keys_sql(database), parameters=params, settings=settings).result_rows
    short = [tuple(row) for row in rows]
    if short:
        params["keys"] = short
        client.command(_delete_sql(database), parameters=params, settings=settings)
        client.command(_rebuild_sql(database), parameters=params, settings=settings)
    return len(short)


def _short_keys_sql(database: str) -> str:
    """The rollup keys of those minutes whose count is below the rows stored (0 where it has none).

    Rows, not distinct event ids (half the price): a duplicate row the check let through counts in both or was
    merged away, so rows exceed the rollup's count only where the rollup missed calls, or where a rebuild left out
    a duplicate not yet merged (rebuilding again is then merely redundant)."""
    return (
        f"SELECT tenant_id, toUnixTimestamp(minute), app, environment, model, origin FROM ("  # noqa: S608 - database validated
        f" SELECT tenant_id, {_MINUTE} AS minute, app, environment, model, origin, count() AS stored"
        f" FROM {database}.calls WHERE {_CALLS_IN_MINUTES} GROUP BY {_KEY}"
        ") AS c LEFT JOIN ("
        " SELECT tenant_id, minute, app, environment, model, origin, countMerge(calls) AS counted"
        f" FROM {database}.calls_per_minute WHERE {_ROLLUP_IN_MINUTES} GROUP BY {_KEY}"
        f") AS r USING ({_KEY}) WHERE r.counted < c.stored"
    )


def _delete_sql(database: str) -> str:
    return (
        f"DELETE FROM {database}.calls_per_minute WHERE {_ROLLUP_IN_MINUTES}"  # noqa: S608 - database validated
        f" AND (tenant_id, toUnixTimestamp(minute), app, environment, model, origin) IN {{keys:{_KEY_TYPE}}}"
    )


def _rebuild_sql(database: str) -> str:
    """The view's aggregation over the keys' calls, one row per (tenant, event id) as reads count them."""
    return (
        f"INSERT INTO {database}.calls_per_minute ({_KEY}, calls, errors, prompt_tokens, completion_tokens,"  # noqa: S608
        f" total_tokens, latency_ms) SELECT {_KEY}, {ROLLUP_AGGREGATES} FROM ("
        f" SELECT tenant_id, {_MINUTE} AS minute, app, environment, model, origin, status, prompt_tokens,"
        f" completion_tokens, total_tokens, latency_ms, event_id FROM {database}.calls WHERE {_CALLS_IN_MINUTES}"
        f" AND (tenant_id, toUnixTimestamp(minute), app, environment, model, origin) IN {{keys:{_KEY_TYPE}}}"
        " LIMIT 1 BY tenant_id, event_id"
        f") GROUP BY {_KEY}"
    )
