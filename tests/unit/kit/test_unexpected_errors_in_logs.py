"""An unhandled error in a served app leaves no trace of its message in any log line (defect 3.7).

The app runs as a real process (the kit's ``configure_logging`` and ``serve``, uvicorn included) and all its
output, stdout and stderr, is read: the marker planted in the request, and in the message of the exception
the route raises (chained to another that quotes it too), must appear nowhere; the error is logged once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from llmops_kit.infra.ports import free_port

MARKER = "PROMPT-MARKER-7f3a9c"
SERVED_APP = textwrap.dedent(
    """
    import sys
    from fastapi import FastAPI, Request
    from llmops_kit.http.app import Runtime, create_service_app, serve
    from llmops_kit.logging import configure_logging

    async def runtime(app: FastAPI) -> Runtime:
        return Runtime()

    app = create_service_app(service="probe", title="t", description="d", version="0", build_runtime=runtime)

    @app.post("/explode")
    async def explode(request: Request) -> None:
        prompt = (await request.body()).decode()
        try:
            raise KeyError(prompt)
        except KeyError as exc:
            raise ValueError(f"could not render {prompt!r}") from exc

    configure_logging("probe", "DEBUG")
    serve(app, "127.0.0.1", int(sys.argv[1]))
    """
)


def wait_until_serving(base: str, process: subprocess.Popen[str], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the app exited before serving"
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)  # polling for the port to open, not waiting for a result
    pytest.fail(f"the app did not serve within {timeout_s}s")


def test_the_message_of_an_unhandled_error_reaches_no_log_line() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-c", SERVED_APP, str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_serving(base, process)
        response = httpx.post(f"{base}/explode", content=f"Summarise: {MARKER}", timeout=10.0)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)

    assert response.status_code == 500
    assert MARKER not in response.text
    assert MARKER not in output, output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line is JSON
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1, errors
    (error,) = errors
    assert error["message"] == "unhandled error: builtins.ValueError"
    assert "builtins.KeyError" in error["traceback"]  # the cause's class and frames are kept
    assert "in explode" in error["traceback"]  # and where it was raised
