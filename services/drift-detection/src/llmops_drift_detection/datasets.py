"""A pinned dataset reference: a scope's calls of a fixed period, read once, with embeddings of a sample of them.

The calls come from the warehouse's query API (at most ``max_calls``), as the rows a streamed call has, with
their scores and feedback. Then at most ``max_embeddings`` of their prompts, picked by a hash of the call id (as
the windows' sample: the same calls again after a restart), are embedded through the gateway by the worker's
:class:`~llmops_drift_detection.embeddings.PromptEmbedder` (requests of at most 64 texts, the gateway client's
bound on requests in flight, ``embedding_reference_timeout_s`` for all of them), so ``prompt_embedding`` and its
topic feature are tested against the dataset as against a window reference (docs/adr/0058).

A complete reference is stored in the references table (its changelog, ``llmops.drift.references``) as a window
reference is, within one record (:func:`~llmops_drift_detection.kept.bounded`), so a restarted worker neither
reads the warehouse nor calls the embedder again. One the warehouse or the embedder could not complete is used
as it is for the window at hand, with a note saying what it lacks, and built again at the next window's close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmops_drift import flatten_call_record
from llmops_kit.platform_client import WarehouseReader

from llmops_drift_detection.embeddings import FEATURE, PromptEmbedder, Wanted, sampled
from llmops_drift_detection.features import Row, Scope
from llmops_drift_detection.outcomes import Joined

__all__ = ["Dataset", "DatasetReader", "dataset_entry", "row_of_stored_call"]

_KEEP = ("prompt_length", "answer_length", "prompt_tokens", "completion_tokens", "latency_ms",
         "time_to_first_token_ms", "language", "model")  # fmt: skip


def row_of_stored_call(record: dict[str, Any]) -> Row:
    """A call as the warehouse returns it, as the same features a streamed call has."""
    flat = flatten_call_record(record)
    row: Row = {name: flat[name] for name in _KEEP if name in flat}
    row["error"] = "true" if flat.get("status") == "error" else "false"
    choices = record.get("choices")
    choices = choices if isinstance(choices, list) else []
    refused = any(isinstance(c, dict) and (c.get("refusal") or c.get("finish_reason") == "content_filter")
                  for c in choices)  # fmt: skip
    row["refusal"] = "true" if refused else "false"
    row.setdefault("language", "unknown")
    return row


@dataclass
class Dataset:
    """A dataset reference's rows and, per feature, what it lacks (empty: complete, worth storing)."""

    rows: list[Row]
    notes: dict[str, str] = field(default_factory=dict)
    complete: bool = True


def dataset_entry(dataset_id: str, rows: list[Row]) -> dict[str, Any]:
    """The references table's entry of a dataset reference (the rows already bounded)."""
    return {"dataset_id": dataset_id, "rows": rows}


class DatasetReader:
    """Reads a scope's calls of the period, joins their outcomes and embeds a bounded sample of their prompts."""

    def __init__(
        self, reader: WarehouseReader, *, max_calls: int, embedder: PromptEmbedder | None, max_embeddings: int
    ) -> None:
        self.reader, self.max_calls, self.embedder, self.max_embeddings = reader, max_calls, embedder, max_embeddings

    async def calls(self, scope: Scope, filters: dict[str, Any]) -> tuple[dict[str, Row], dict[str, str]]:
        """The scope's rows by call id, and the prompt text of each (never stored, never logged)."""
        rows: dict[str, Row] = {}
        prompts: dict[str, str] = {}
        async for record in self.reader.calls(scope.tenant, **filters):
            call_id = str(record.get("call_id"))
            rows[call_id] = row_of_stored_call(record)
            prompts[call_id] = str(flatten_call_record(record).get("prompt") or "")
            if len(rows) >= self.max_calls:
                break
        return rows, prompts

    async def embedded(self, scope: Scope, joined: Joined, ids: list[str], prompts: dict[str, str]) -> Dataset:
        """``joined``'s rows (in the order of ``ids``) with the sample's embeddings; notes when some are missing."""
        dataset = Dataset(joined.rows, {}, joined.read)
        if self.embedder is None or self.embedder.gateway is None or self.max_embeddings == 0 or not ids:
            return dataset  # the windows have none either: nothing is missing
        by_id = dict(zip(ids, joined.rows, strict=True))
        rate = min(1.0, self.max_embeddings / len(ids))
        chosen = [call_id for call_id in ids if sampled(call_id, rate) and prompts.get(call_id)]
        wanted: list[Wanted] = [(scope.tenant, prompts[i], by_id[i]) for i in chosen[: self.max_embeddings]]
        await self.embedder.embed(wanted)
        missing = sum(1 for _, _, row in wanted if FEATURE not in row)
        if missing:
            dataset.complete = False
            dataset.notes[FEATURE] = (
                f"the dataset reference has {len(wanted) - missing} of {len(wanted)} sampled prompt embeddings: the "
                "embedder (the gateway's /v1/embeddings) failed, refused, timed out or is paused after a failure; "
                "built again at the next window's close"
            )
        return dataset
