"""RFC 9457 problem details: every 4xx/5xx a service returns is ``application/problem+json``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmops_kit.logging import log_unexpected

__all__ = [
    "PROBLEM_JSON",
    "FieldProblem",
    "Problem",
    "ProblemError",
    "add_openapi_components",
    "install_problem_handlers",
    "model_components",
    "problem_doc",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


_REF = "#/components/schemas/{model}"


class FieldProblem(BaseModel):
    """One invalid input: where (``["query", "start"]``, a path inside a record), what, and a machine type."""

    loc: list[str | int] = Field(description="Where the problem is (empty: the input as a whole)")
    msg: str
    type: str = Field(description="Machine-readable error type, e.g. `missing`, `timestamp_in_future`")


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``); services may add members."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = Field(default=None, description="The invalid inputs, when there are some")


def problem_doc(description: str, model: str = "Problem") -> dict[str, Any]:
    """An OpenAPI response object whose body is the ``model`` problem schema."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model=model)}}}}


def add_openapi_components(app: FastAPI, components: Callable[[], dict[str, Any]]) -> None:
    """Add schemas FastAPI cannot infer (problem documents, hand-parsed bodies) to the app's OpenAPI.

    ``components`` is called once, when the document is first built; use :func:`model_components`.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in components().items():
                schemas.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def model_components(**models: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI component schemas of pydantic models, by name, with the models they refer to."""
    found: dict[str, Any] = {}
    for name, model in models.items():
        schema = model.model_json_schema(ref_template=_REF)
        found |= schema.pop("$defs", {})
        found[name] = schema
    return found


class ProblemError(Exception):
    """Raise from a route to answer with a problem document (``headers``: e.g. a 429's ``Retry-After``)."""

    def __init__(
        self, status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extensions = extensions


def problem_response(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
) -> JSONResponse:
    """A problem document with the given status."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extensions}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error FastAPI or a route raises into a problem document."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extensions)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}
        return problem_response(
            exc.status_code,
            title.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return problem_response(422, "Unprocessable Content", "the request is not valid", errors=errors)

    async def on_unhandled(_: Request, exc: Exception) -> JSONResponse:
        # Neither the client nor the log learns the message (it can quote prompts, connection strings or
        # keys): the log gets the class and the frames, once (the server's report of Starlette's re-raise
        # is dropped by the kit's log filter).
        log_unexpected(log, "unhandled error", exc)
        return problem_response(500, "Internal Server Error", "an unexpected error occurred")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unhandled)
