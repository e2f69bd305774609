"""Triton's failures as :class:`~llmops_inference.domain.UpstreamError`: by gRPC status where Triton gives one,
by the message where it does not (errors inside a stream carry none).

Messages are cut to the part a client may see: PyTriton answers a failed model execution with the Python
traceback of the model server, of which only the last line (the exception and its message) is kept.
"""

from __future__ import annotations

import re

from grpc.aio import AioRpcError
from tritonclient.utils import InferenceServerException

from llmops_inference.domain import UpstreamError

__all__ = ["rpc_error", "stream_error", "triton_error"]

MAX_DETAIL = 300
_GRPC_STATUS = {
    "StatusCode.INVALID_ARGUMENT": 400,
    "StatusCode.NOT_FOUND": 404,
    "StatusCode.RESOURCE_EXHAUSTED": 429,
    "StatusCode.INTERNAL": 500,
    "StatusCode.UNIMPLEMENTED": 501,
}
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$", re.MULTILINE)
_BAD_PARAMETER = "PyTritonBadParameterError"
_UNKNOWN_MODEL = "Request for unknown model"


def triton_error(name: str, exc: InferenceServerException) -> UpstreamError:
    """A failed ``infer``; its gRPC status decides the kind."""
    return _mapped(name, str(exc.status() or ""), str(exc.message() or ""))


def rpc_error(name: str, exc: AioRpcError) -> UpstreamError:
    """A stream whose gRPC call failed (unreachable, deadline passed, cancelled by the server)."""
    return _mapped(name, str(exc.code()), str(exc.details() or ""))


def stream_error(name: str, model: str, exc: InferenceServerException) -> UpstreamError:
    """An error response inside a stream: no status, so the message tells an unknown model or a bad parameter."""
    message = str(exc.message() or "")
    if message.startswith(_UNKNOWN_MODEL):
        detail = f"triton upstream {name!r} has no model {model!r} (streamed calls need the decoupled model)"
        return UpstreamError("status", detail, status=404)
    return _mapped(name, str(exc.status() or ""), message)


def _mapped(name: str, status: str, message: str) -> UpstreamError:
    if status == "StatusCode.UNAVAILABLE":
        return UpstreamError("connect", f"cannot reach triton upstream {name!r}")
    if status == "StatusCode.DEADLINE_EXCEEDED":
        return UpstreamError("timeout", f"triton upstream {name!r} timed out")
    code = _GRPC_STATUS.get(status, 502)
    if _BAD_PARAMETER in message:  # the model refused the request's parameters: the caller's fault, as a 400
        code = 400
    return UpstreamError("status", f"triton upstream {name!r}: {_detail(message) or status}", status=code)


def _detail(message: str) -> str:
    """The exception line of a traceback (the last one), or the message itself, cut to a bounded length."""
    lines = _EXCEPTION_LINE.findall(message)
    if lines:
        kind, text = lines[-1]
        return f"{kind}: {text}"[:MAX_DETAIL]
    return message.strip()[:MAX_DETAIL]
