"""The service's HTTP API: every router of the service is included here, so the app has one list of routes.

Each route declares its permission with the kit's ``requires(...)`` and has a docstring (the OpenAPI summary).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from llmops_governance_audit.erasures.http import erasures_router
from llmops_governance_audit.keys.http import keys_router
from llmops_governance_audit.policies.http import policies_router

__all__ = ["include_routes"]

ROUTERS: list[APIRouter] = [keys_router, policies_router, erasures_router]
"""The service's routers."""


def include_routes(app: FastAPI) -> None:
    """Include every router of the service in ``app``."""
    for router in ROUTERS:
        app.include_router(router)
