"""HTTP API of datasets: ``/v1/datasets``.

Uploads are JSONL bodies bounded by ``EVALUATION_MAX_DATASET_BYTES`` (413 before anything is parsed); every
line is checked on its own and the answer lists each refused line with its number and the reason. Reads need
``calls:read``, writes ``admin``; the tenant is always the caller's. A tenant key's read of examples (inputs and
expected outputs, often made from stored calls) is a privileged read, on the audit trail before the examples are
sent (docs/governance.md, "Privileged reads"); manifests (names, counts, the filter's names) are not.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from llmops_kit.access_audit import audit_read
from llmops_kit.audit import Actor
from llmops_kit.http.body_limit import BodyLimit
from llmops_kit.http.edge import read_body
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_kit.platform_client import WarehouseReader
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue
from starlette.types import ASGIApp, Receive, Scope, Send

from llmops_evaluation.entrypoints.http import PROBLEMS, Admin, Reader
from llmops_evaluation.runs.datasets import DatasetRegistry
from llmops_evaluation.runs.parsing import ParsedDataset, parse_jsonl

__all__ = ["DATASETS_KEY", "WAREHOUSE_KEY", "SmallBodies", "datasets_router"]

DATASETS_KEY = "dataset_registry"
WAREHOUSE_KEY = "warehouse_reader"
_UPLOAD = re.compile(r"/v1/datasets/[^/]+")


class SmallBodies:
    """Every body but a dataset upload's is bounded by the service's usual limit (``EVALUATION_MAX_BODY_BYTES``);
    the app-wide limit is the upload's (its route bounds it by ``EVALUATION_MAX_DATASET_BYTES`` itself)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._limited = BodyLimit(app, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        upload = scope["type"] == "http" and scope["method"] == "POST" and _UPLOAD.fullmatch(scope["path"])
        await (self._app if upload else self._limited)(scope, receive, send)


def _registry(request: Request) -> DatasetRegistry:
    registry = getattr(request.app.state, DATASETS_KEY, None)
    if not isinstance(registry, DatasetRegistry):
        raise ProblemError(503, "Service Unavailable", "the dataset registry is starting")
    return registry


Registry = Annotated[DatasetRegistry, Depends(_registry)]
DatasetName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]

datasets_router = APIRouter(tags=["datasets"], responses=PROBLEMS)


class LineProblem(BaseModel):
    """A line that was not imported: its number (1-based) and why."""

    line: int
    error: str


class DatasetImport(BaseModel):
    """The new version, how many lines were imported and refused, and the refused lines (the first 100)."""

    dataset: DatasetVersionCreated
    imported: int
    refused: int
    errors: list[LineProblem]

    @classmethod
    def of(cls, manifest: DatasetVersionCreated, parsed: ParsedDataset) -> DatasetImport:
        errors = [LineProblem(line=e.line, error=e.error) for e in parsed.errors]
        return cls(dataset=manifest, imported=manifest.examples, refused=parsed.refused, errors=errors)


class DatasetList(BaseModel):
    """Datasets (each one's latest version), or one dataset's versions."""

    items: list[DatasetVersionCreated]


class DatasetView(BaseModel):
    """One version and a page of its examples (``offset``, ``limit``)."""

    dataset: DatasetVersionCreated
    examples: list[DatasetExampleAdded]
    erased: int = Field(default=0, description="Examples erased with a data subject since the version was made")


class CallsFilter(BaseModel):
    """The body of ``POST /v1/datasets/{name}/from-calls``: which stored calls become examples."""

    model_config = ConfigDict(extra="forbid")

    app: str | None = Field(default=None, min_length=1, max_length=256)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    prompt_name: str | None = Field(default=None, min_length=1, max_length=256)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    origin: Literal["application", "platform", "all"] = Field(
        default="application", description="Application traffic only by default"
    )
    limit: int = Field(strict=True, default=500, ge=1, le=100_000, description="Most calls taken (newest first)")
    expected_from_output: bool = Field(
        strict=True, default=False, description="Use each call's answer as the expected output"
    )
    description: str | None = Field(default=None, max_length=1024)


def _import_problem(parsed: ParsedDataset) -> ProblemError:
    errors: list[dict[str, Any]] = [{"line": e.line, "error": e.error} for e in parsed.errors]
    return ProblemError(422, "Unprocessable Content", "no valid example: nothing was imported", errors=errors)


@datasets_router.post(
    "/v1/datasets/{name}",
    status_code=201,
    response_model=DatasetImport,
    summary="Upload a dataset version (JSONL)",
    openapi_extra={"requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
async def upload_dataset(
    name: DatasetName,
    request: Request,
    registry: Registry,
    caller: Admin,
    description: Annotated[str | None, Query(max_length=1024)] = None,
) -> DatasetImport:
    """A new immutable version of ``name`` from a JSONL body, one example per line (``input``; optionally ``id``,
    ``expected``, ``context``, ``variables``, ``tags``, ``pair_group``, ``pair_label``).

    Lines that are not valid are listed with their number and the reason; the others are imported. 422 when
    no line is valid; 413 for a body over the limit. Audited.
    """
    body = await read_body(request, request.app.state.max_dataset_bytes)
    parsed = parse_jsonl(body, max_examples=registry.limits.max_examples)
    if not parsed.examples:
        raise _import_problem(parsed)
    manifest = await registry.create(caller.tenant_id, name, parsed, Actor.of(caller, request), description=description)
    return DatasetImport.of(manifest, parsed)


@datasets_router.post(
    "/v1/datasets/{name}/from-calls",
    status_code=201,
    response_model=DatasetImport,
    summary="Build from stored calls",
    responses={
        400: {"description": "The body is not JSON", "content": {"application/problem+json": {}}},
        502: {"description": "The warehouse refused the read", "content": {"application/problem+json": {}}},
    },
)
async def dataset_from_calls(
    name: DatasetName, selection: CallsFilter, request: Request, registry: Registry, caller: Admin
) -> DatasetImport:
    """A new version of ``name`` from the tenant's stored calls matching the filter (read through the warehouse's
    query API): each call's last user message is an example's input. Audited."""
    reader = getattr(request.app.state, WAREHOUSE_KEY, None)
    if not isinstance(reader, WarehouseReader):
        raise ProblemError(503, "Service Unavailable", "needs LLMOPS_WAREHOUSE_URL and LLMOPS_SERVICE_KEY")
    filters = selection.model_dump(exclude={"limit", "expected_from_output", "description"}, exclude_none=True)
    parsed = await registry.from_calls(
        reader,
        caller.tenant_id,
        filters,
        limit=selection.limit,
        expected_from_output=selection.expected_from_output,
    )
    if not parsed.examples:
        raise _import_problem(parsed)
    manifest = await registry.create(
        caller.tenant_id,
        name,
        parsed,
        Actor.of(caller, request),
        source="calls",
        filter=selection.model_dump(mode="json", exclude_none=True),
        description=selection.description,
    )
    return DatasetImport.of(manifest, parsed)


@datasets_router.get("/v1/datasets", response_model=DatasetList, summary="List datasets")
async def list_datasets(registry: Registry, caller: Reader) -> DatasetList:
    """Each of the tenant's datasets with its latest version."""
    return DatasetList(items=registry.loaded().latest(caller.tenant_id))


@datasets_router.get("/v1/datasets/{name}/versions", response_model=DatasetList, summary="A dataset's versions")
async def list_versions(name: DatasetName, registry: Registry, caller: Reader) -> DatasetList:
    """Every complete version of ``name``, oldest first (404 when there is none)."""
    versions = registry.loaded().versions(caller.tenant_id, name)
    if not versions:
        raise ProblemError(404, "Not Found", f"no dataset {name!r}")
    return DatasetList(items=versions)


@datasets_router.get("/v1/datasets/{name}", response_model=DatasetView, summary="One dataset version")
async def show_dataset(
    name: DatasetName,
    request: Request,
    registry: Registry,
    caller: Reader,
    version: Annotated[int | None, Query(ge=1, description="Default: the latest")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20,
) -> DatasetView:
    """The version's manifest and examples ``offset`` to ``offset + limit``. A tenant key's read of a page with
    examples is audited (``dataset.read``; every page: an offset is the caller's, not a continuation the service
    issued); 503 with ``Retry-After`` when the audit entry cannot be written."""
    found = registry.get(caller.tenant_id, name, version)
    page = list(found.examples[offset : offset + limit])
    if page and not caller.is_platform:  # a platform service's key is no person reading (as for stored calls)
        details: dict[str, JsonValue] = {"version": found.manifest.version, "offset": offset, "examples": len(page)}
        await audit_read(request, caller, action="dataset.read", resource=("dataset", name), details=details)
    return DatasetView(dataset=found.manifest, examples=page, erased=found.erased)


@datasets_router.api_route(
    "/v1/datasets/{name}", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False
)
async def other_methods(name: str) -> Response:
    """405 naming both methods of the path (Starlette's own would name only the first route's)."""
    return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": "GET, POST"})
