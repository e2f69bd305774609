"""What the routes use, on ``app.state``: the registry, the engine, the poller's statuses and the checks of a
write that need more than the contract (metric catalog, notifier and secret references)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fastapi import Request
from llmops_kit.http.problems import ProblemError
from llmops_schemas.v1 import NotifierConfigured, ObjectiveConfigured
from llmops_schemas.v2 import AlertRuleConfigured

from llmops_alerting.engine import Engine
from llmops_alerting.poller import Poller
from llmops_alerting.ports import Secrets
from llmops_alerting.registry import Registry
from llmops_alerting.rules import check_rule
from llmops_alerting.state import Entity

__all__ = ["STATE_KEY", "Services", "services"]

STATE_KEY = "alerting"


@dataclass
class Services:
    """The service's parts the HTTP routes reach."""

    registry: Registry
    engine: Engine
    poller: Poller
    secrets: Secrets

    def check(self, tenant: str, entity: Entity) -> None:
        """422 naming what is wrong with a write the contract alone accepts."""
        try:
            self._check(tenant, entity)
        except ValueError as exc:
            raise ProblemError(422, "Unprocessable Content", str(exc)) from None

    def _check(self, tenant: str, entity: Entity) -> None:
        if isinstance(entity, AlertRuleConfigured):
            check_rule(entity)
        if isinstance(entity, NotifierConfigured):
            if entity.kind != "slack" and entity.secret_ref is None:
                raise ValueError(f"a {entity.kind} notifier needs secret_ref (its routing or signing key)")
            if entity.secret_ref is not None and entity.secret_ref not in self.secrets:
                raise ValueError(f"secret_ref {entity.secret_ref!r} is not in the service's secrets file")
        if isinstance(entity, AlertRuleConfigured | ObjectiveConfigured):
            known = self.registry.loaded().of(tenant, "notifier")
            missing = [n for n in entity.notifiers if n not in known]
            if missing:
                raise ValueError(f"unknown notifiers: {', '.join(missing)}")

    def view(self, tenant: str, entity: Entity) -> dict[str, Any]:
        """The entity as JSON; an objective with its last status (budget left, burn rates)."""
        data = entity.model_dump(mode="json", exclude={"deleted"})
        if isinstance(entity, ObjectiveConfigured):
            status = self.poller.statuses.get((tenant, entity.objective_id))
            data["status"] = asdict(status) if status is not None else None
        return data


def services(request: Request) -> Services:
    """The services of the app, or 503 while it starts."""
    found = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(found, Services):
        raise ProblemError(503, "Service Unavailable", "the alerting service is starting")
    return found
