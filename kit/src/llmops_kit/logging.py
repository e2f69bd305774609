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
    re.compile(r"(?i)((?:api[_-]?key|password|secret|token)\s*[=:]\s*)\S+"),
)


def scrub(text: str) -> str:
    """Replace anything that looks like a credential with ``[REDACTED]``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
    return text


class SecretScrubber(logging.Filter):
    """Scrubs credentials from the message and its arguments: keys must never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in args)
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
