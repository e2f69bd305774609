"""The materialised view of ``llmops.prompts.versions``: every tenant's prompt versions and labels, in memory.

Two facts share the compacted topic: ``PromptVersionPublished`` under ``<tenant>:<name>:<version>`` and
``PromptLabelMoved`` under ``<tenant>:<name>:label:<label>``. :meth:`PromptStore.apply` folds them in
log order with "latest record per key wins", exactly what compaction keeps, so a store rebuilt from a
compacted topic equals one that saw every record. A tombstone (null value) deletes the entity.

Labels: the label record is the authority. A label that no label record names (one published before
label records existed, or by another producer) points at the newest version whose ``labels`` list it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import PromptLabelMoved, PromptVersionPublished

from llmops_inference.prompts.model import LabelPosition, same_content

__all__ = ["PromptMaterializer", "PromptStore"]

log = logging.getLogger(__name__)
LABEL_KEY_PART = "label"


@dataclass
class _Prompt:
    versions: dict[int, PromptVersionPublished] = field(default_factory=dict)
    labels: dict[str, PromptLabelMoved] = field(default_factory=dict)


class PromptStore(CompactedStore):
    """Prompt versions and label positions per tenant; fed by :class:`PromptMaterializer` (and by local writes)."""

    topic = "llmops.prompts.versions"

    def __init__(self) -> None:
        super().__init__()
        self._tenants: dict[str, dict[str, _Prompt]] = {}
        self.conflicts = 0
        """Records that re-published an existing version with other content (two writers raced)."""

    # --- feeding -----------------------------------------------------------------------------------

    def apply(self, event: CloudEvent[Any]) -> None:
        """Fold one event into the state (events of other types are ignored)."""
        data = event.data
        if isinstance(data, PromptVersionPublished):
            self._apply_version(event.tenant_id, data)
        elif isinstance(data, PromptLabelMoved):
            self._prompt(event.tenant_id, data.name).labels[data.label] = data

    def _apply_version(self, tenant: str, version: PromptVersionPublished) -> None:
        versions = self._prompt(tenant, version.name).versions
        existing = versions.get(version.version)
        if existing is not None and not same_content(existing, version):
            self.conflicts += 1
            log.error(
                "prompt %s/%s version %d was published again with other content; the later record wins",
                tenant,
                version.name,
                version.version,
            )
        versions[version.version] = version

    def delete(self, key: str) -> None:
        """Apply a tombstone: ``<tenant>:<name>:<version>`` or ``<tenant>:<name>:label:<label>``."""
        parts = key.split(":")
        prompt = self._tenants.get(parts[0], {}).get(parts[1]) if len(parts) >= 3 else None
        if prompt is None:
            return
        if len(parts) == 4 and parts[2] == LABEL_KEY_PART:
            prompt.labels.pop(parts[3], None)
        elif len(parts) == 3 and parts[2].isdigit():
            prompt.versions.pop(int(parts[2]), None)
        if not prompt.versions and not prompt.labels:
            del self._tenants[parts[0]][parts[1]]

    def _prompt(self, tenant: str, name: str) -> _Prompt:
        return self._tenants.setdefault(tenant, {}).setdefault(name, _Prompt())

    # --- queries -----------------------------------------------------------------------------------

    def names(self, tenant: str) -> list[str]:
        """Names of the tenant's prompts that have at least one version, sorted."""
        return sorted(name for name, prompt in self._tenants.get(tenant, {}).items() if prompt.versions)

    def exists(self, tenant: str, name: str) -> bool:
        return bool(self._get(tenant, name).versions)

    def versions(self, tenant: str, name: str) -> list[PromptVersionPublished]:
        """Every version of the prompt, oldest first (empty for an unknown prompt)."""
        versions = self._get(tenant, name).versions
        return [versions[n] for n in sorted(versions)]

    def version(self, tenant: str, name: str, number: int) -> PromptVersionPublished | None:
        return self._get(tenant, name).versions.get(number)

    def latest(self, tenant: str, name: str) -> PromptVersionPublished | None:
        versions = self._get(tenant, name).versions
        return versions[max(versions)] if versions else None

    def labels(self, tenant: str, name: str) -> dict[str, LabelPosition]:
        """Every label of the prompt and where it points, by label name."""
        prompt = self._get(tenant, name)
        positions = {label: _position(record) for label, record in prompt.labels.items()}
        for number in sorted(prompt.versions):  # newest version claiming a label wins the fallback
            for label in prompt.versions[number].labels:
                if label not in prompt.labels:
                    positions[label] = LabelPosition(label=label, version=number, source="version")
        return dict(sorted(positions.items()))

    def label(self, tenant: str, name: str, label: str) -> LabelPosition | None:
        return self.labels(tenant, name).get(label)

    def labels_by_version(self, tenant: str, name: str) -> dict[int, list[str]]:
        """Version -> the labels pointing at it now (sorted)."""
        result: dict[int, list[str]] = {}
        for label, position in self.labels(tenant, name).items():
            result.setdefault(position.version, []).append(label)
        return result

    def snapshot(self, tenant: str | None = None) -> dict[str, Any]:
        """The whole state (or one tenant's) as JSON-compatible data, for comparing two stores."""
        everything = {
            owner: {
                name: {
                    "versions": {n: v.model_dump(mode="json") for n, v in sorted(p.versions.items())},
                    "labels": {k: v.model_dump(mode="json") for k, v in self.labels(owner, name).items()},
                }
                for name, p in sorted(prompts.items())
            }
            for owner, prompts in sorted(self._tenants.items())
        }
        return everything if tenant is None else everything.get(tenant, {})

    def _get(self, tenant: str, name: str) -> _Prompt:
        return self._tenants.get(tenant, {}).get(name) or _Prompt()


def _position(record: PromptLabelMoved) -> LabelPosition:
    return LabelPosition(
        label=record.label,
        version=record.version,
        history=list(record.history),
        moved_by=record.moved_by,
        moved_at=record.moved_at,
    )


def PromptMaterializer(
    bootstrap_servers: str, store: PromptStore, security: KafkaSecurity | None = None
) -> CompactedTopicMaterializer:
    """The component that keeps ``store`` equal to ``llmops.prompts.versions`` (start it in the lifespan)."""
    return CompactedTopicMaterializer(
        bootstrap_servers=bootstrap_servers,
        topic=PromptVersionPublished.topic,
        view=store,
        client_id="llmops-inference-prompts",
        security=security,
    )
