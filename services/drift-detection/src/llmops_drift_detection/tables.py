"""Reading faust's memory store after a recovery: keys it read back from a changelog stay raw JSON bytes.

faust's memory store does not deserialise on recovery (``Store.apply_changelog_batch``): a key the agent set is
the text this worker wrote, a key recovered from the changelog is that text JSON-encoded, as bytes (values come
back decoded). Every lookup tries both forms.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

__all__ = ["decoded", "encoded", "lookup", "pop_both"]


def decoded(raw: Any) -> Any:
    """A key or value as this worker wrote it (raw JSON bytes decoded)."""
    return json.loads(raw) if isinstance(raw, bytes | bytearray) else raw


def encoded(text: str) -> bytes:
    """The form of ``text`` as a recovered key."""
    return json.dumps(text).encode()


def lookup(table: MutableMapping[Any, Any], text: str) -> Any:
    """The entry of ``text`` in either form, decoded; None when there is none."""
    found = table.get(text)
    return decoded(found if found is not None else table.get(encoded(text)))


def pop_both(table: MutableMapping[Any, Any], text: str) -> Any:
    """Remove ``text`` in both forms; the entry there was (decoded), or None."""
    first, second = table.pop(text, None), table.pop(encoded(text), None)
    return decoded(first if first is not None else second)
