"""JSON logs on stdout, one object per line, with secrets scrubbed and exception messages left out.

Exception messages never reach a log line: an adapter's or a client library's exception can quote the
request (prompts), an upstream's answer or its headers. A traceback names each exception's class and its
frames (files, lines, source lines; no values), for every logger, uvicorn's own included.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import traceback
from typing import Any

from pythonjsonlogger.json import JsonFormatter

__all__ = ["SecretScrubber", "configure_logging", "format_exception", "log_unexpected"]

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"llmops_[A-Za-z0-9_-]{16,}"),
    # ``password=x``, ``api_key: x`` and the quoted forms of dict reprs and JSON (``'password': 'x'``).
    re.compile(r"""(?i)((?:api[_-]?key|password|secret|token)["']?\s*[=:]\s*["']?)[^\s"',;}]+"""),
)

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_LOGGED = "_llmops_logged"
"""Set on an exception :func:`log_unexpected` logged, so a server re-raising it does not log it again."""


def format_exception(exc: BaseException) -> str:
    """A traceback of ``exc`` and the exceptions it was raised from, naming classes only, never messages."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = f"{type(current).__module__}.{type(current).__qualname__}"
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}{name}")
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n\nwhich was raised while handling:\n".join(parts)


def log_unexpected(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log an exception nobody expected, once: its class and traceback (the ``traceback`` field), no message."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    logger.error("%s: %s", what, name, extra={"traceback": format_exception(exc)}, stacklevel=2)
    with contextlib.suppress(AttributeError):  # a type without a __dict__: at worst it is logged twice
        setattr(exc, _LOGGED, True)


def scrub(text: str) -> str:
    """Replace anything that looks like a credential with ``[REDACTED]``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
    return text


class SecretScrubber(logging.Filter):
    """Scrubs credentials from the message, its arguments and its extra fields; drops exception messages.

    A record carrying an exception gets :func:`format_exception`'s traceback instead of logging's (which
    prints each message); a record of an exception :func:`log_unexpected` already logged is dropped (uvicorn
    logs again what Starlette re-raises after the app's error handler answered).

    The message is formatted first and the result scrubbed (then the arguments dropped): scrubbing the
    format string and the arguments separately misses secrets inside non-string arguments and breaks
    ``"password=%s"`` (the placeholder itself gets redacted, and logging's error report then prints the
    arguments unscrubbed).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and getattr(record.exc_info[1], _LOGGED, False):
            return False
        try:
            message = record.getMessage()
        except Exception:  # a malformed logging call; still log what it had, scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg = scrub(message)
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(format_exception(record.exc_info[1]))
        else:  # formatted elsewhere, messages included: withheld rather than trusted
            record.exc_text = None
        record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS and isinstance(value, str):
                setattr(record, name, scrub(value))
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (uvicorn's and aiokafka's too) to JSON lines on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    static: dict[str, Any] = {"service": service}
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields=static,
        )
    )
    handler.addFilter(SecretScrubber())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
