"""The materialised views of ``llmops.evaluations.datasets`` and ``llmops.evaluations.runs``.

A dataset version is visible once its manifest and every example of the manifest's digest have been applied
(examples are published first, so a reader never sees part of a version). The first manifest of a version
wins: a second upload that raced for the same number is ignored, and its examples, keyed under its own
digest, never mix with the first one's. Nothing deletes a version: a run must always be able to name the
examples it ran. An example's tombstone (the erasure of a data subject, docs/adr/0044) removes that example
only: its version stays, less the erased examples, which it counts. A tombstone compacted away leaves no
trace, so at catch-up every example a known manifest lacks counts as erased (examples are published before
their manifest: once a manifest was read, every example of it had been published before).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from llmops_kit.kafka.materializer import CompactedStore
from llmops_schemas import CloudEvent
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated, RunUpdated

__all__ = ["DatasetStore", "DatasetVersion", "RunStore"]

log = logging.getLogger(__name__)

_VersionKey = tuple[str, str, int, str]


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """One complete, immutable dataset version: its manifest and its examples in order."""

    manifest: DatasetVersionCreated
    examples: tuple[DatasetExampleAdded, ...]
    erased: int = 0
    """Examples erased with a data subject since the version was made (``manifest.examples`` counts them)."""


class DatasetStore(CompactedStore):
    """Every tenant's dataset versions, complete ones only."""

    topic = DatasetVersionCreated.topic

    def __init__(self) -> None:
        super().__init__()
        self._examples: dict[_VersionKey, dict[str, DatasetExampleAdded]] = {}
        self._manifests: dict[tuple[str, str], dict[int, DatasetVersionCreated]] = {}
        self._keys: dict[str, tuple[_VersionKey, str]] = {}
        """Where the example under each record key lies (a tombstone names only the key)."""
        self._erased: Counter[_VersionKey] = Counter()

    def apply(self, event: CloudEvent[Any]) -> None:
        """Fold one record in: an example waits for its manifest; the first manifest of a version wins."""
        data, tenant = event.data, event.tenant_id
        if isinstance(data, DatasetExampleAdded):
            key = (tenant, data.dataset, data.version, data.digest)
            self._examples.setdefault(key, {})[data.example_id] = data
            self._keys[f"{tenant}:{data.entity_key()}"] = (key, data.example_id)
        elif isinstance(data, DatasetVersionCreated):
            versions = self._manifests.setdefault((tenant, data.name), {})
            first = versions.setdefault(data.version, data)
            if first.digest != data.digest:
                log.warning("ignoring a second manifest of dataset %s version %d", data.name, data.version)

    def delete(self, key: str) -> None:
        """An example's tombstone erases that example; its version counts it (a manifest's is ignored)."""
        found = self._keys.pop(key, None)
        if found is None:
            return
        version, example_id = found
        if self._examples.get(version, {}).pop(example_id, None) is not None and self.caught_up:
            self._erased[version] += 1

    def mark_caught_up(self) -> None:
        """Count as erased what each manifest read so far lacks (its tombstones may be compacted away)."""
        for (tenant, _), versions in self._manifests.items():
            for manifest in versions.values():
                key = (tenant, manifest.name, manifest.version, manifest.digest)
                self._erased[key] = max(0, manifest.examples - len(self._examples.get(key, {})))
        super().mark_caught_up()

    def examples_of(self, tenant: str) -> Iterator[tuple[str, DatasetExampleAdded]]:
        """Every example the tenant's datasets hold, with its record key."""
        for key, (version, example_id) in self._keys.items():
            if version[0] == tenant:
                yield key, self._examples[version][example_id]

    def next_version(self, tenant: str, name: str) -> int:
        """The number a new upload of ``name`` gets."""
        return max(self._manifests.get((tenant, name), {}), default=0) + 1

    def _complete(self, tenant: str, manifest: DatasetVersionCreated) -> DatasetVersion | None:
        key = (tenant, manifest.name, manifest.version, manifest.digest)
        found, erased = self._examples.get(key, {}), self._erased[key]
        if len(found) + erased < manifest.examples:
            return None
        return DatasetVersion(manifest, tuple(sorted(found.values(), key=lambda e: e.position)), erased)

    def versions(self, tenant: str, name: str) -> list[DatasetVersionCreated]:
        """The complete versions of ``name``, oldest first."""
        manifests = self._manifests.get((tenant, name), {})
        return [m for _, m in sorted(manifests.items()) if self._complete(tenant, m) is not None]

    def get(self, tenant: str, name: str, version: int | None = None) -> DatasetVersion | None:
        """``version`` of ``name`` (None: the latest complete one), or None."""
        if version is None:
            complete = self.versions(tenant, name)
            return self._complete(tenant, complete[-1]) if complete else None
        manifest = self._manifests.get((tenant, name), {}).get(version)
        return self._complete(tenant, manifest) if manifest is not None else None

    def names(self, tenant: str) -> list[str]:
        """The tenant's dataset names (with at least one manifest), sorted."""
        return sorted(name for t, name in self._manifests if t == tenant)

    def latest(self, tenant: str) -> list[DatasetVersionCreated]:
        """The latest complete version of each of the tenant's datasets, by name."""
        found = [self.versions(tenant, name) for name in self.names(tenant)]
        return [versions[-1] for versions in found if versions]


class RunStore(CompactedStore):
    """Every tenant's runs: the latest state of each."""

    topic = RunUpdated.topic

    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[tuple[str, str], RunUpdated] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, RunUpdated):
            self.put(event.tenant_id, event.data)

    def put(self, tenant: str, run: RunUpdated) -> None:
        """Keep ``run`` as the run's state (one executor publishes a run's records, in order, on one key)."""
        self._runs[(tenant, run.run_id)] = run

    def delete(self, key: str) -> None:
        tenant, _, run_id = key.partition(":")
        self._runs.pop((tenant, run_id), None)

    def get(self, tenant: str, run_id: str) -> RunUpdated | None:
        return self._runs.get((tenant, run_id))

    def runs(self, tenant: str) -> list[RunUpdated]:
        """The tenant's runs, newest first."""
        return sorted((r for (t, _), r in self._runs.items() if t == tenant), key=lambda r: r.created_at, reverse=True)

    def unfinished(self) -> list[tuple[str, RunUpdated]]:
        """Runs of every tenant still ``running`` (a restarted service resumes them)."""
        return [(t, r) for (t, _), r in self._runs.items() if r.status == "running"]
