"""Open a clickhouse-connect client from the ``CLICKHOUSE_URL`` setting.

* ``chdb:///absolute/path``: an embedded chDB engine storing its data under that directory (created when
  missing). chDB allows one engine path per process; clients on the same path share it.
* ``chdb://memory``: an embedded, in-memory chDB engine (nothing persists).
* ``http://host:8123[/database]`` or ``https://...``: a ClickHouse server. ``user``/``password`` win over
  credentials in the URL.

The returned client is synchronous and not safe for concurrent use: a store uses one client per thread, or
serialises access (:class:`~llmops_warehouse.adapters.clickhouse_store.ClickHouseEventStore` does both).

Every client reads and writes ClickHouse's Native format with the codec ``native_codec`` names (docs/adr/0067):
``rust`` (the default) is clickhouse-connect's compiled codec (the ``clickhouse-connect-core`` wheel), which
builds an insert's columns in native code, and hands a type it does not cover to the Python codec; ``rust_strict``
raises instead; ``python`` is the Python codec alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver import rustcodec
from clickhouse_connect.driver.client import Client

__all__ = ["NativeCodec", "connect", "redact_url"]

NativeCodec = Literal["python", "rust", "rust_strict"]
"""How a client encodes inserts and decodes results (clickhouse-connect's ``native_codec``)."""


def connect(
    url: str,
    user: str | None = None,
    password: str | None = None,
    *,
    native_codec: NativeCodec = "rust",
    **kwargs: Any,
) -> Client:
    """A client for ``url`` (see the module docstring); ``kwargs`` go to ``clickhouse_connect.get_client``."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "chdb":
        if parsed.netloc in ("memory", ":memory:") and parsed.path in ("", "/"):
            return _with_codec(clickhouse_connect.get_client(dsn="chdb://memory", **kwargs), native_codec)
        if parsed.netloc or not parsed.path.startswith("/") or parsed.path == "/":
            raise ValueError(f"chDB URLs are chdb:///absolute/path or chdb://memory, not {url!r}")
        path = Path(parsed.path)
        path.mkdir(parents=True, exist_ok=True)
        return _with_codec(clickhouse_connect.get_client(dsn=f"chdb://{path}", **kwargs), native_codec)
    if scheme in ("http", "https"):
        options: dict[str, Any] = {
            # Large parameter lists (the insert dedup check binds a batch's event ids) go in the request body,
            # not the URL.
            "form_encode_query_params": True,
            # Queries need no session state; without a session id, a timed-out call cannot leave the next one
            # failing with "session is locked".
            "autogenerate_session_id": False,
            "native_codec": native_codec,
        }
        if user is not None:
            options["username"] = user
        if password is not None:
            options["password"] = password
        options.update(kwargs)
        return clickhouse_connect.get_client(dsn=url, **options)
    raise ValueError(f"unsupported ClickHouse URL scheme {parsed.scheme!r}: use chdb:///path, http:// or https://")


def _with_codec(client: Client, native_codec: NativeCodec) -> Client:
    """``client`` (an embedded engine's) reading and writing with ``native_codec``.

    clickhouse-connect ignores ``native_codec`` for chDB (1.12, 1.13), yet its chDB client encodes inserts and
    decodes results through the same Native transform as the HTTP client, kept in ``_transform``; the compiled one
    built the calls' insert columns for about 12-16 us less CPU per call than the Python one (docs/adr/0067).
    ``rustcodec`` checks that the compiled module is installed and recent enough, so a missing wheel fails here, at
    start. tests/integration/warehouse pins that the transform is used (the store's contract suite on each codec).
    """
    if native_codec == "python":
        return client
    if not hasattr(client, "_transform"):
        raise RuntimeError("this clickhouse-connect's chDB client has no Native transform to replace: pin 1.12-1.13")
    client._transform = rustcodec._make_native_transform(native_codec)  # private: see the docstring
    return client


def redact_url(url: str) -> str:
    """``url`` without the password, for logs."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return parsed._replace(netloc=netloc).geturl()
