"""The prompt registry's use cases: create immutable versions, move and roll back labels, read, diff, render.

Writes are serialised per (tenant, prompt) inside the process and checked against the materialised
store; the events then go to Kafka (with their audit entry) and are applied to the local store at once,
so the writer reads its own writes before the materialiser brings them back. Two gateway replicas
creating the same version number at the same instant both succeed locally and the later record wins
everywhere (the store counts it in ``conflicts``); send writes to one replica, or give ``version`` in the
draft, if that matters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from llmops_kit.audit import Actor
from llmops_schemas.v1 import PromptLabelMoved, PromptVersionPublished
from llmops_schemas.v1.prompt_labels import MAX_LABEL_HISTORY
from pydantic import ValidationError

from llmops_inference.prompts.errors import (
    InvalidPrompt,
    LabelHasNoHistory,
    RegistryUnavailable,
    UnknownLabel,
    UnknownPrompt,
    UnknownVersion,
    VersionConflict,
)
from llmops_inference.prompts.model import (
    LabelPosition,
    PromptDetail,
    PromptSummary,
    PromptVersionDraft,
    VersionDiff,
    briefs,
    diff_versions,
    same_content,
)
from llmops_inference.prompts.publisher import PromptPublisher
from llmops_inference.prompts.rendering import RenderPool
from llmops_inference.prompts.resolve import PromptSelector, RenderedPrompt, describe, find_version
from llmops_inference.prompts.store import PromptStore
from llmops_inference.prompts.templating import template_problems

__all__ = ["PromptRegistry"]

log = logging.getLogger(__name__)
Payload = PromptVersionPublished | PromptLabelMoved


def _now() -> datetime:
    return datetime.now(UTC)


class PromptRegistry:
    """What the prompt routes (and the CLI through them) do, for one gateway process."""

    def __init__(
        self,
        store: PromptStore,
        publisher: PromptPublisher,
        *,
        clock: Callable[[], datetime] = _now,
        renderer: RenderPool | None = None,
    ) -> None:
        self.store = store
        self._publisher = publisher
        self._clock = clock
        self.renderer = renderer or RenderPool()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    # --- writes ------------------------------------------------------------------------------------

    async def create_version(
        self, tenant: str, name: str, draft: PromptVersionDraft, actor: Actor
    ) -> tuple[PromptVersionPublished, bool]:
        """Publish a new version; ``(version, False)`` when the same version with the same content exists.

        Raises ``VersionConflict`` (409) when ``draft.version`` exists with other content or is not the
        next number, and ``InvalidPrompt`` (422) when the template does not parse or validate.
        """
        async with self._lock(tenant, name):
            self._require_loaded()
            latest = self.store.latest(tenant, name)
            following = latest.version + 1 if latest else 1
            number = draft.version or following
            existing = self.store.version(tenant, name, number)
            if existing is not None:
                if same_content(existing, draft):
                    return self._labelled(tenant, existing), False
                raise VersionConflict(
                    f"prompt {name!r} version {number} already exists with other content; versions are "
                    f"immutable, publish version {following} instead",
                    prompt=name,
                    version=number,
                    next_version=following,
                )
            if number != following:
                raise VersionConflict(
                    f"prompt {name!r} cannot get version {number}: the next version is {following}",
                    prompt=name,
                    version=number,
                    next_version=following,
                )
            version = self._build(name, number, draft, latest, actor)
            moves = dict.fromkeys(draft.labels, number)
            payloads = [version, *self._relabel(tenant, name, moves, actor, "move", draft.description, new=version)]
            details = {"version": number, "labels": list(draft.labels)}
            await self._publish(tenant, payloads, actor, action="prompt.publish", prompt=name, details=details)
            return self._labelled(tenant, version), True

    async def move_label(
        self, tenant: str, name: str, label: str, version: int, actor: Actor, *, reason: str | None = None
    ) -> LabelPosition:
        """Point ``label`` at ``version`` (its current target goes onto the label's history)."""
        async with self._lock(tenant, name):
            self._require_prompt(tenant, name)
            if self.store.version(tenant, name, version) is None:
                raise UnknownVersion(name, version, self._latest_number(tenant, name))
            current = self.store.label(tenant, name, label)
            if current is not None and current.version == version:
                return current
            payloads = self._relabel(tenant, name, {label: version}, actor, "move", reason)
            details = {"label": label, "version": version, "previous_version": current.version if current else None}
            await self._publish(tenant, payloads, actor, action="prompt.label.move", prompt=name, details=details)
            return self._position(tenant, name, label)

    async def rollback(
        self, tenant: str, name: str, label: str, actor: Actor, *, reason: str | None = None
    ) -> LabelPosition:
        """Point ``label`` back where it pointed before its last move; ``LabelHasNoHistory`` (409) if nowhere."""
        async with self._lock(tenant, name):
            self._require_prompt(tenant, name)
            current = self.store.label(tenant, name, label)
            if current is None:
                raise UnknownLabel(name, label, list(self.store.labels(tenant, name)))
            target = current.previous_version()
            if target is None:
                raise LabelHasNoHistory(
                    f"label {label!r} of prompt {name!r} has never pointed at another version than "
                    f"{current.version}; nothing to roll back to",
                    prompt=name,
                    label=label,
                )
            if self.store.version(tenant, name, target) is None:
                raise UnknownVersion(name, target, self._latest_number(tenant, name))
            payloads = self._relabel(tenant, name, {label: target}, actor, "rollback", reason)
            details = {"label": label, "version": target, "previous_version": current.version}
            await self._publish(tenant, payloads, actor, action="prompt.label.rollback", prompt=name, details=details)
            return self._position(tenant, name, label)

    # --- reads -------------------------------------------------------------------------------------

    def summaries(self, tenant: str) -> list[PromptSummary]:
        """The tenant's prompts, by name."""
        self._require_loaded()
        return [self._summary(tenant, name) for name in self.store.names(tenant)]

    def detail(self, tenant: str, name: str) -> PromptDetail:
        self._require_prompt(tenant, name)
        versions = self.store.versions(tenant, name)
        return PromptDetail(
            name=name,
            latest_version=versions[-1].version,
            labels=list(self.store.labels(tenant, name).values()),
            versions=briefs(versions, self.store.labels_by_version(tenant, name)),
        )

    def get_version(self, tenant: str, name: str, number: int) -> PromptVersionPublished:
        version, _ = find_version(self.store, tenant, name, version=number)
        return self._labelled(tenant, version)

    def diff(self, tenant: str, name: str, old: str | None, new: str | None) -> VersionDiff:
        """Diff two versions named by number or label; ``new`` defaults to the latest, ``old`` to the one before."""
        target = self._select(tenant, name, new or "latest")
        if old is None:
            if target.version == 1:
                raise InvalidPrompt(f"version 1 of prompt {name!r} has no predecessor; say what to compare with (from)")
            old = str(target.version - 1)
        return diff_versions(self._select(tenant, name, old), target)

    async def render(self, tenant: str, selector: PromptSelector) -> RenderedPrompt:
        """A dry run of what the gateway would send for ``selector`` (rendered as the gateway renders it)."""
        version, label = find_version(self.store, tenant, selector.name, label=selector.label, version=selector.version)
        return await self.renderer.render(version, selector.variables, label=label)

    # --- helpers -----------------------------------------------------------------------------------

    def _lock(self, tenant: str, name: str) -> asyncio.Lock:
        return self._locks.setdefault((tenant, name), asyncio.Lock())

    def _require_loaded(self) -> None:
        if not self.store.caught_up:
            raise RegistryUnavailable("the prompt registry is still loading its topic; retry in a moment")

    def _require_prompt(self, tenant: str, name: str) -> None:
        self._require_loaded()
        if not self.store.exists(tenant, name):
            raise UnknownPrompt(name)

    def _latest_number(self, tenant: str, name: str) -> int | None:
        latest = self.store.latest(tenant, name)
        return latest.version if latest else None

    def _select(self, tenant: str, name: str, ref: str) -> PromptVersionPublished:
        if ref.isdigit():
            return find_version(self.store, tenant, name, version=int(ref))[0]
        return find_version(self.store, tenant, name, label=ref)[0]

    def _position(self, tenant: str, name: str, label: str) -> LabelPosition:
        position = self.store.label(tenant, name, label)
        assert position is not None  # just applied
        return position

    def _labelled(self, tenant: str, version: PromptVersionPublished) -> PromptVersionPublished:
        """``version`` with the labels that point at it now (the label records are the authority)."""
        labels = self.store.labels_by_version(tenant, version.name).get(version.version, [])
        return version if labels == version.labels else version.model_copy(update={"labels": labels})

    def _summary(self, tenant: str, name: str) -> PromptSummary:
        versions = self.store.versions(tenant, name)
        labels = self.store.labels(tenant, name)
        moved = [p.moved_at for p in labels.values() if p.moved_at is not None]
        return PromptSummary(
            name=name,
            latest_version=versions[-1].version,
            versions=len(versions),
            labels={label: p.version for label, p in labels.items()},
            updated_at=max([versions[-1].created_at, *moved]),
        )

    def _build(
        self, name: str, number: int, draft: PromptVersionDraft, latest: PromptVersionPublished | None, actor: Actor
    ) -> PromptVersionPublished:
        fields = draft.model_dump(exclude={"version"})
        try:
            version = PromptVersionPublished.model_validate(
                {
                    **fields,
                    "name": name,
                    "version": number,
                    "parent": latest.ref().model_dump() if latest else None,
                    "created_by": actor.id,
                    "created_at": self._clock(),
                }
            )
        except ValidationError as exc:
            raise InvalidPrompt(f"invalid version of prompt {name!r}: {describe(exc)}") from None
        problems = template_problems(version.template, [v.name for v in version.variables])
        if problems:
            raise InvalidPrompt(f"invalid template of prompt {name!r}: {'; '.join(problems)}", problems=problems)
        return version

    def _relabel(
        self,
        tenant: str,
        name: str,
        moves: dict[str, int],
        actor: Actor,
        action: Literal["move", "rollback"],
        reason: str | None,
        *,
        new: PromptVersionPublished | None = None,
    ) -> list[Payload]:
        """The label records for ``moves`` (label -> version) and the versions whose label lists change."""
        current = self.store.labels(tenant, name)
        now = self._clock()
        records: list[Payload] = []
        for label, target in moves.items():
            position = current.get(label)
            history = _history(position, action)
            records.append(
                PromptLabelMoved(
                    name=name,
                    label=label,
                    version=target,
                    history=history,
                    action=action,
                    reason=reason,
                    moved_by=actor.id,
                    moved_at=now,
                )
            )
        return records + self._republished(tenant, name, moves, new)

    def _republished(
        self, tenant: str, name: str, moves: dict[str, int], new: PromptVersionPublished | None
    ) -> list[Payload]:
        """Existing versions that gain or lose a label, with their new ``labels`` (the contract republishes them)."""
        before = {v: set(labels) for v, labels in self.store.labels_by_version(tenant, name).items()}
        after = {v: labels - set(moves) for v, labels in before.items()}
        for label, target in moves.items():
            after.setdefault(target, set()).add(label)
        changed = sorted(v for v in set(before) | set(after) if before.get(v, set()) != after.get(v, set()))
        out: list[Payload] = []
        for number in changed:
            version = self.store.version(tenant, name, number)
            if version is None or (new is not None and number == new.version):
                continue
            out.append(_with_labels(version, sorted(after.get(number, set()))))
        return out

    async def _publish(
        self,
        tenant: str,
        payloads: Sequence[Payload],
        actor: Actor,
        *,
        action: str,
        prompt: str,
        details: dict[str, Any],
    ) -> None:
        try:
            events = await self._publisher.publish(
                tenant, payloads, actor, action=action, prompt=prompt, details=details
            )
        except Exception as exc:
            log.exception("publishing %s of %s/%s failed", action, tenant, prompt)
            raise RegistryUnavailable(f"could not publish the change ({type(exc).__name__}); nothing changed") from exc
        for event in events:
            self.store.apply(event)


def _history(position: LabelPosition | None, action: Literal["move", "rollback"]) -> list[int]:
    if position is None:
        return []
    if action == "rollback":
        return position.history[:-1]
    return [*position.history, position.version][-MAX_LABEL_HISTORY:]


def _with_labels(version: PromptVersionPublished, labels: list[str]) -> PromptVersionPublished:
    try:
        return PromptVersionPublished.model_validate({**version.model_dump(), "labels": labels})
    except ValidationError as exc:
        raise InvalidPrompt(f"cannot label version {version.version} of {version.name!r}: {describe(exc)}") from None
