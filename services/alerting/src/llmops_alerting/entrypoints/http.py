"""The alerting API: alerts (list, acknowledge), rules, objectives, silences and notifiers.

Reads need ``metrics:read``; every write needs ``admin`` (a notifier's URL above all: no URL reaches the
service from a request without an admin key). Writes are audited. Bodies are the entity's fields without its
id (from the path) and the bookkeeping the service sets (``updated_by``, ``updated_at``, ``deleted``).
"""

from datetime import UTC, datetime
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_schemas.v1 import NotifierConfigured, ObjectiveConfigured, SilenceSet
from llmops_schemas.v2 import AlertRuleConfigured, AlertStateChanged
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, ValidationError, create_model

from llmops_alerting.wiring import Services, services

__all__ = ["router"]

Reader = Annotated[Principal, Depends(requires("metrics:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
Svc = Annotated[Services, Depends(services)]
Ident = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
MANAGED = {"updated_by", "updated_at", "deleted"}

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission (writes need admin)",
        404: "No such alert, rule, objective, silence or notifier",
        409: "The tenant has as many of them as it may",
        413: "The body is larger than the service accepts",
        422: "Not valid: the message names the field (an unknown metric, notifier or secret, a bad threshold)",
        503: "The configuration is loading, or Kafka did not store the change",
    }.items()
}
router = APIRouter(tags=["alerting"], responses=PROBLEMS)


STRICT: dict[Any, Any] = {bool: StrictBool, int: StrictInt, float: StrictFloat}


def _strict(annotation: Any) -> Any:
    """``annotation`` with its booleans and numbers strict: ``"enabled": 0`` or ``"threshold": "1"`` is a 422, not
    coerced (the entity's own models are lax, as consumers are tolerant)."""
    if annotation in STRICT:
        return STRICT[annotation]
    if get_origin(annotation) is Annotated:
        inner, *metadata = get_args(annotation)
        return Annotated[(_strict(inner), *metadata)]
    if get_origin(annotation) in (Union, UnionType):
        return Union[tuple(_strict(a) for a in get_args(annotation))]  # noqa: UP007 - built from a tuple
    return annotation


def _spec(entity: type[BaseModel], ident: str) -> type[BaseModel]:
    """The body of a PUT: the entity's fields but its id and the bookkeeping, strict."""
    fields: dict[str, Any] = {
        name: (_strict(info.annotation), info)
        for name, info in entity.model_fields.items()
        if name not in MANAGED | {ident}
    }
    return create_model(
        f"{entity.__name__.removesuffix('Configured').removesuffix('Set')}Spec",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )


class AlertList(BaseModel):
    """The tenant's open alerts (firing or acknowledged), newest first."""

    items: list[AlertStateChanged]


class Page(BaseModel):
    """A list of configured entities."""

    items: list[dict[str, Any]]


@router.get("/v1/alerts", response_model=AlertList, summary="Open alerts")
async def list_alerts(
    caller: Reader, svc: Svc, status: Annotated[str | None, Query(pattern="^(firing|acknowledged)$")] = None
) -> AlertList:
    """Firing and acknowledged alerts (resolved ones are in the warehouse: ``GET /v1/events/alerts``)."""
    svc.registry.loaded()
    found = svc.engine.book.open(caller.tenant_id)
    return AlertList(items=[a for a in found if status is None or a.status == status])


@router.post("/v1/alerts/{alert_id}/ack", response_model=AlertStateChanged, summary="Acknowledge an alert")
async def acknowledge(alert_id: Ident, caller: Admin, svc: Svc) -> AlertStateChanged:
    """Someone is on it: stored as an ``acknowledged`` change and sent to the notifiers (PagerDuty
    ``acknowledge``); 404 when no such alert is open. Acknowledging twice changes nothing."""
    svc.registry.loaded()
    found = await svc.engine.acknowledge(caller.tenant_id, alert_id, Actor.of(caller).id)
    if found is None:
        raise ProblemError(404, "Not Found", f"no open alert {alert_id!r}")
    return found


def _crud(kind: str, entity: type[Any], ident: str, plural: str) -> None:
    spec = _spec(entity, ident)

    async def list_items(caller: Reader, svc: Svc) -> Page:
        return Page(items=[svc.view(caller.tenant_id, e) for e in svc.registry.list(caller.tenant_id, kind)])

    async def get_item(item_id: Ident, caller: Reader, svc: Svc) -> dict[str, Any]:
        return svc.view(caller.tenant_id, svc.registry.get(caller.tenant_id, kind, item_id))

    async def put_item(
        item_id: Ident,
        body: spec,  # type: ignore[valid-type]
        caller: Admin,
        svc: Svc,
        request: Request,
        response: Response,
    ) -> dict[str, Any]:
        actor = Actor.of(caller, request)
        given: dict[str, Any] = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        data = {**given, ident: item_id, "updated_by": actor.id, "updated_at": datetime.now(UTC)}
        try:
            built = entity.model_validate(data)
        except ValidationError as exc:
            raise ProblemError(422, "Unprocessable Content", _first_error(exc)) from None
        svc.check(caller.tenant_id, built)
        created = await svc.registry.put(caller.tenant_id, built, actor)
        response.status_code = 201 if created else 200
        return svc.view(caller.tenant_id, built)

    async def other_methods(item_id: str) -> Response:
        """405 naming every method of the path: GET, PUT and DELETE are three routes, and Starlette's own 405
        would name only the first one's."""
        return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": "DELETE, GET, PUT"})

    async def delete_item(item_id: Ident, caller: Admin, svc: Svc, request: Request) -> Response:
        await svc.registry.delete(caller.tenant_id, kind, item_id, Actor.of(caller, request))
        return Response(status_code=204)

    path = f"/v1/{plural}"
    router.add_api_route(
        path,
        list_items,
        methods=["GET"],
        response_model=Page,
        summary=f"List {plural}",
        description=f"The tenant's {plural}.",
    )
    router.add_api_route(
        path + "/{item_id}",
        get_item,
        methods=["GET"],
        summary=f"One {kind}",
        description=f"One {kind}; 404 when the tenant has none by that id.",
    )
    router.add_api_route(
        path + "/{item_id}",
        put_item,
        methods=["PUT"],
        summary=f"Create or replace a {kind}",
        description="Validated (422 naming the problem), audited; 201 when created.",
        responses={
            200: {"description": "Replaced"},
            201: {"description": "Created"},
            400: {"description": "The body is not JSON", "content": {"application/problem+json": {}}},
        },
    )
    router.add_api_route(
        path + "/{item_id}",
        other_methods,
        methods=["POST", "PATCH", "OPTIONS", "TRACE"],
        include_in_schema=False,
        status_code=405,
    )
    router.add_api_route(
        path + "/{item_id}",
        delete_item,
        methods=["DELETE"],
        status_code=204,
        summary=f"Delete a {kind}",
        description="Audited; 404 when there is none.",
    )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error['msg']}" if where else str(error["msg"])


_crud("rule", AlertRuleConfigured, "rule_id", "rules")
_crud("objective", ObjectiveConfigured, "objective_id", "objectives")
_crud("silence", SilenceSet, "silence_id", "silences")
_crud("notifier", NotifierConfigured, "notifier_id", "notifiers")
