"""HTTP API of the prompt registry: ``/v1/prompts``. Reads need ``calls:read`` (reader and up), writes ``admin``.

The tenant is always the caller's (from the API key). Errors are RFC 9457 problem documents. The routes
find the :class:`~llmops_inference.prompts.service.PromptRegistry` on ``app.state.prompt_registry``, set by
the gateway's bootstrap.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError
from llmops_schemas.v1 import PromptVersionPublished
from llmops_schemas.v1.common import MediumText, Slug
from pydantic import BaseModel, ConfigDict, Field

from llmops_inference.prompts.model import LabelPosition, PromptDetail, PromptSummary, PromptVersionDraft, VersionDiff
from llmops_inference.prompts.resolve import PromptSelector, RenderedPrompt
from llmops_inference.prompts.service import PromptRegistry

__all__ = ["PROBLEMS", "STATE_KEY", "prompt_registry", "router"]

STATE_KEY = "prompt_registry"
SLUG = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        404: "No such prompt, version or label",
        409: "A conflicting version or label change",
        422: "The request, template or variables are not valid",
        503: "The registry is loading its topic or cannot publish",
    }.items()
}


def prompt_registry(request: Request) -> PromptRegistry:
    """The registry the gateway's bootstrap put on the app (503 when there is none)."""
    registry = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(registry, PromptRegistry):
        raise ProblemError(503, "Service Unavailable", "the prompt registry is not configured")
    return registry


Registry = Annotated[PromptRegistry, Depends(prompt_registry)]
Reader = Annotated[Principal, Depends(requires("calls:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
Name = Annotated[str, Path(max_length=128, pattern=SLUG, description="The prompt's name")]
Label = Annotated[str, Path(max_length=128, pattern=SLUG, description="A label, e.g. 'production'")]

router = APIRouter(prefix="/v1/prompts", tags=["prompts"], responses=PROBLEMS)


class PromptList(BaseModel):
    """The caller's prompts."""

    items: list[PromptSummary]


class LabelMove(BaseModel):
    """Where to point a label."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(strict=True, ge=1)
    reason: MediumText | None = None


class Rollback(BaseModel):
    """Which label to move back to where it pointed before its last move."""

    model_config = ConfigDict(extra="forbid")

    label: Slug
    reason: MediumText | None = None


@router.get("", response_model=PromptList, summary="List the tenant's prompts")
async def list_prompts(registry: Registry, caller: Reader) -> PromptList:
    """Every prompt of the caller's tenant: latest version, number of versions, labels, last change."""
    return PromptList(items=registry.summaries(caller.tenant_id))


@router.post("/render", response_model=RenderedPrompt, summary="Render a prompt without calling a model")
async def render_prompt(selector: PromptSelector, registry: Registry, caller: Reader) -> RenderedPrompt:
    """Dry run: the messages, model and parameters the gateway would use for this ``prompt`` field.

    404 for an unknown prompt, label or version; 422 for missing variables or a template the sandbox refuses.
    """
    return await registry.render(caller.tenant_id, selector)


@router.get("/{name}", response_model=PromptDetail, summary="A prompt's labels and versions")
async def get_prompt(name: Name, registry: Registry, caller: Reader) -> PromptDetail:
    """The prompt's labels (with their history) and its versions, newest first."""
    return registry.detail(caller.tenant_id, name)


@router.post(
    "/{name}/versions",
    status_code=201,
    response_model=PromptVersionPublished,
    summary="Publish a new immutable version",
    responses={200: {"description": "The same version with the same content already existed (idempotent retry)"}},
)
async def create_version(
    name: Name, draft: PromptVersionDraft, registry: Registry, caller: Admin, request: Request, response: Response
) -> PromptVersionPublished:
    """Create the next version of ``name`` (the prompt is created with its first version).

    Templates are Jinja2 rendered in a sandbox; every variable they read must be declared. With ``version``
    the call is idempotent: the same content again answers 200, other content 409 (versions never change).
    ``labels`` are moved to the new version.
    """
    version, created = await registry.create_version(caller.tenant_id, name, draft, Actor.of(caller, request))
    response.status_code = 201 if created else 200
    return version


@router.get("/{name}/versions/{version}", response_model=PromptVersionPublished, summary="One version")
async def get_version(
    name: Name, version: Annotated[int, Path(ge=1)], registry: Registry, caller: Reader
) -> PromptVersionPublished:
    """The version's template, variables, model, parameters and the labels pointing at it now."""
    return registry.get_version(caller.tenant_id, name, version)


@router.get("/{name}/diff", response_model=VersionDiff, summary="Compare two versions")
async def diff_versions(
    name: Name,
    registry: Registry,
    caller: Reader,
    old: Annotated[str | None, Query(alias="from", max_length=128, description="Version number or label")] = None,
    new: Annotated[str | None, Query(alias="to", max_length=128, description="Version number or label")] = None,
) -> VersionDiff:
    """Changed fields and a unified diff; ``to`` defaults to the latest version, ``from`` to the one before it."""
    return registry.diff(caller.tenant_id, name, old, new)


@router.put("/{name}/labels/{label}", response_model=LabelPosition, summary="Move a label")
async def move_label(
    name: Name, label: Label, move: LabelMove, registry: Registry, caller: Admin, request: Request
) -> LabelPosition:
    """Point ``label`` at ``version`` (creating the label if needed); its previous target joins its history."""
    actor = Actor.of(caller, request)
    return await registry.move_label(caller.tenant_id, name, label, move.version, actor, reason=move.reason)


@router.post("/{name}/rollback", response_model=LabelPosition, summary="Roll a label back")
async def rollback_label(
    name: Name, body: Rollback, registry: Registry, caller: Admin, request: Request
) -> LabelPosition:
    """Move ``label`` back to the version it pointed at before its last move (409 when there is none)."""
    actor = Actor.of(caller, request)
    return await registry.rollback(caller.tenant_id, name, body.label, actor, reason=body.reason)
