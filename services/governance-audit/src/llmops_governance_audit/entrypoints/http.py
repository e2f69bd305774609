"""The service's HTTP API: every router of the service is included here, so the app has one list of routes.

Each route declares its permission with the kit's ``requires(...)`` and has a docstring (the OpenAPI summary).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

__all__ = ["include_routes"]

ROUTERS: list[APIRouter] = []
"""The service's routers (keys, audit); each module adds its own when it is written."""


def include_routes(app: FastAPI) -> None:
    """Include every router of the service in ``app``."""
    for router in ROUTERS:
        app.include_router(router)
