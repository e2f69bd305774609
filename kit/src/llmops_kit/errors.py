"""How a handler tells the consumer loop what kind of failure it hit."""

from __future__ import annotations

__all__ = ["PermanentError", "TransientError"]


class PermanentError(Exception):
    """The message itself is bad (it will never succeed): dead-letter it at once."""


class TransientError(Exception):
    """A dependency is unavailable (it may succeed later): retry without dead-lettering or committing."""
