"""JSON logs on stdout, one object per line, with secrets scrubbed before they are written."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

__all__ = ["SecretScrubber", "configure_logging"]

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"llmops_[A-Za-z0-9_-]{16,}"),
    # ``password=x``, ``api_key: x`` and the quoted forms of dict reprs and JSON (``'password': 'x'``).
    re.compile(r"""(?i)((?:api[_-]?key|password|secret|token)["']?\s*[=:]\s*["']?)[^\s"',;}]+"""),
)

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_TRACEBACKS = logging.Formatter()


def scrub(text: str) -> str:
    """Replace anything that looks like a credential with ``[REDACTED]``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
    return text


class SecretScrubber(logging.Filter):
    """Scrubs credentials from the message, its arguments, its traceback and its extra fields.

    The message is formatted first and the result scrubbed (then the arguments dropped): scrubbing the
    format string and the arguments separately misses secrets inside non-string arguments and breaks
    ``"password=%s"`` (the placeholder itself gets redacted, and logging's error report then prints the
    arguments unscrubbed).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed logging call; still log what it had, scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg = scrub(message)
        record.args = ()
        if record.exc_info:
            record.exc_text = scrub(_TRACEBACKS.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
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
