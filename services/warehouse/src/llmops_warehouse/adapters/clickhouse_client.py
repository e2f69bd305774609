"""Open a clickhouse-connect client from the ``CLICKHOUSE_URL`` setting.

* ``chdb:///absolute/path``: an embedded chDB engine storing its data under that directory (created when
  missing). chDB allows one engine path per process; clients on the same path share it.
* ``chdb://memory``: an embedded, in-memory chDB engine (nothing persists).
* ``http://host:8123[/database]`` or ``https://...``: a ClickHouse server. ``user``/``password`` win over
  credentials in the URL.

The returned client is synchronous and not safe for concurrent use: a store uses one client per thread, or
serialises access (:class:`~llmops_warehouse.adapters.clickhouse_store.ClickHouseEventStore` does both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

__all__ = ["connect", "redact_url"]


def connect(url: str, user: str | None = None, password: str | None = None, **kwargs: Any) -> Client:
    """A client for ``url`` (see the module docstring); ``kwargs`` go to ``clickhouse_connect.get_client``."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "chdb":
        if parsed.netloc in ("memory", ":memory:") and parsed.path in ("", "/"):
            return clickhouse_connect.get_client(dsn="chdb://memory", **kwargs)
        if parsed.netloc or not parsed.path.startswith("/") or parsed.path == "/":
            raise ValueError(f"chDB URLs are chdb:///absolute/path or chdb://memory, not {url!r}")
        path = Path(parsed.path)
        path.mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(dsn=f"chdb://{path}", **kwargs)
    if scheme in ("http", "https"):
        options: dict[str, Any] = {
            # Large parameter lists (the insert dedup check binds a batch's event ids) go in the request body,
            # not the URL.
            "form_encode_query_params": True,
            # Queries need no session state; without a session id, a timed-out call cannot leave the next one
            # failing with "session is locked".
            "autogenerate_session_id": False,
        }
        if user is not None:
            options["username"] = user
        if password is not None:
            options["password"] = password
        options.update(kwargs)
        return clickhouse_connect.get_client(dsn=url, **options)
    raise ValueError(f"unsupported ClickHouse URL scheme {parsed.scheme!r}: use chdb:///path, http:// or https://")


def redact_url(url: str) -> str:
    """``url`` without the password, for logs."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return parsed._replace(netloc=netloc).geturl()
