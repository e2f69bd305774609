"""`llmops audit explain CALL_ID`: what was in force when a stored call was made (issue 10 §5).

From the warehouse alone (the kit's :class:`~llmops_kit.platform_client.WarehouseReader`, one tenant), for the
call's ``started_at``: the prompt version it ran and where that prompt's labels pointed; the experiment's
configuration (status, variants and weights) as last published before the call; every governance policy
(latest version per policy, deleted ones left out) published before it, each marked ``applies_to_call`` when it
was enabled and covered the call's app; and the API key the call was accepted
under, with the last audit entries about that key before the call. Compacted topics are stored as
append-only history (docs/adr/0008), so "as of T" is "the newest row with time <= T". Every read is bounded;
``truncated`` says when a bound cut the history short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from llmops_kit.platform_client import WarehouseReader

__all__ = ["MAX_ROWS", "Explanation", "explain"]

MAX_ROWS = 5_000
"""Most rows one history read may scan (policies, label moves, audit entries before the call)."""


@dataclass
class Explanation:
    """What was in force for one call; ``None`` where the call used no such thing."""

    call: dict[str, Any]
    prompt_version: dict[str, Any] | None = None
    prompt_labels: dict[str, int] = field(default_factory=dict)
    experiment: dict[str, Any] | None = None
    policies: list[dict[str, Any]] = field(default_factory=list)
    key: dict[str, Any] = field(default_factory=dict)
    truncated: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "call": self.call, "prompt_version": self.prompt_version, "prompt_labels": self.prompt_labels,
            "experiment": self.experiment, "policies": self.policies, "key": self.key, "truncated": self.truncated,
        }  # fmt: skip


async def explain(reader: WarehouseReader, tenant: str, call_id: str) -> Explanation | None:
    """The explanation of ``call_id`` of ``tenant``; None when the warehouse has no such call."""
    call = await reader.call(tenant, call_id)
    if call is None:
        return None
    # Rows are stored with millisecond times: "until the call" includes the call's own millisecond.
    until = (datetime.fromisoformat(call["started_at"]) + timedelta(milliseconds=1)).isoformat()
    found = Explanation(call={k: call.get(k) for k in ("call_id", "app", "model", "started_at", "prompt",
                                                         "experiment", "key_id")})  # fmt: skip
    await _prompt(reader, tenant, call.get("prompt"), until, found)
    await _experiment(reader, tenant, call.get("experiment"), until, found)
    await _policies(reader, tenant, until, found)
    await _key(reader, tenant, call.get("key_id"), until, found)
    return found


async def _rows(
    reader: WarehouseReader, tenant: str, table: str, params: dict[str, str], found: Explanation
) -> list[dict[str, Any]]:
    """The rows of ``table`` up to the call, newest first (noting a read its bound cut short)."""
    history = await reader.read(tenant, table, params, MAX_ROWS)
    if history.truncated:
        found.truncated.append(table)
    return history.rows


async def _prompt(
    reader: WarehouseReader, tenant: str, prompt: dict[str, Any] | None, until: str, found: Explanation
) -> None:
    if not prompt:
        return
    name, version = prompt["name"], str(prompt["version"])
    versions = await _rows(reader, tenant, "prompt_versions", {"prompt_name": name, "prompt_version": version,
                                                               "end": until}, found)  # fmt: skip
    if versions:
        data = versions[0]["data"]
        found.prompt_version = {k: data.get(k) for k in ("name", "version", "model", "labels", "created_by",
                                                         "created_at")}  # fmt: skip
    for row in await _rows(reader, tenant, "prompt_label_moves", {"prompt_name": name, "end": until}, found):
        if row.get("data"):  # newest first: a label's first row is where it pointed
            found.prompt_labels.setdefault(row["data"]["label"], row["data"]["version"])


async def _experiment(
    reader: WarehouseReader, tenant: str, ref: dict[str, Any] | None, until: str, found: Explanation
) -> None:
    if not ref:
        return
    rows = await _rows(reader, tenant, "experiments", {"experiment_id": ref["experiment_id"], "end": until}, found)
    if rows and not rows[0].get("deleted"):
        data = rows[0]["data"]
        found.experiment = {
            "experiment_id": data["experiment_id"], "version": data["version"], "status": data["status"],
            "kind": data["kind"], "variant": ref["variant"], "shadow": ref.get("shadow", False),
            "weights": {v["name"]: v.get("weight") for v in data["variants"]}, "updated_at": data["updated_at"],
        }  # fmt: skip


async def _policies(reader: WarehouseReader, tenant: str, until: str, found: Explanation) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for row in await _rows(reader, tenant, "policies", {"end": until}, found):
        data = row.get("data")
        latest.setdefault(data["policy_id"] if data else (row.get("record_key") or "").partition(":")[2], row)
    app = found.call.get("app")
    found.policies = [
        {**{k: row["data"].get(k) for k in ("policy_id", "name", "kind", "version", "enabled", "settings",
                                           "updated_at")},
         "applies_to_call": bool(row["data"].get("enabled", True)) and _names_app(row["data"], app)}
        for row in latest.values()
        if row.get("data") and not row.get("deleted")
    ]  # fmt: skip


def _names_app(policy: dict[str, Any], app: str | None) -> bool:
    """Whether a policy covers the call's app: one naming an app covers only it (docs/adr/0045); the others, all."""
    named = (policy.get("settings") or {}).get("app")
    return named is None or named == app


async def _key(reader: WarehouseReader, tenant: str, key_id: str | None, until: str, found: Explanation) -> None:
    found.key = {"key_id": key_id, "changes": []}
    if not key_id:
        return
    for row in await _rows(reader, tenant, "audit_records", {"end": until}, found):
        data = row["data"]
        if data["resource"]["id"] == key_id and data["resource"]["type"] in ("api_key", "key"):
            found.key["changes"].append({"action": data["action"], "outcome": data["outcome"],
                                         "actor": data["actor"]["id"], "at": data["occurred_at"]})  # fmt: skip
