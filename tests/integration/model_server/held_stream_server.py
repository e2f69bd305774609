"""The model server's own entrypoint with ``llm_stream`` held after each stream's first delta, for tests that must
know where a generation stands: ``python -m tests.integration.model_server.held_stream_server``.

``HELD_STREAM_DIR`` names a folder. Once a stream's first text delta is on its way to Triton, the generator
creates ``held`` there and decodes nothing more until ``release`` exists (or ``RELEASE_WITHIN_S`` passed, so a
failed test cannot wedge the server). A test that received the first delta while ``release`` did not exist
knows the model had not generated the second token yet, let alone the last one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator
from pathlib import Path

from llmops_model_server.entrypoints.main import main
from llmops_model_server.models.generation import GenerationRequest, GenerationResult, TextGenerator

RELEASE_WITHIN_S = 120.0
Stream = Callable[[TextGenerator, GenerationRequest], Generator[str, None, GenerationResult]]


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + RELEASE_WITHIN_S
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.005)  # this stands for a model decoding slowly; the tests themselves wait on conditions


def held_after_first_delta(original: Stream, folder: Path) -> Stream:
    def stream(self: TextGenerator, request: GenerationRequest) -> Generator[str, None, GenerationResult]:
        deltas = original(self, request)
        try:
            first = next(deltas)
        except StopIteration as done:  # nothing visible to send
            return done.value  # type: ignore[no-any-return]
        yield first  # PyTriton sends it before asking for the next delta
        (folder / "held").touch()
        _wait_for(folder / "release")
        return (yield from deltas)

    return stream


if __name__ == "__main__":
    TextGenerator.stream = held_after_first_delta(  # type: ignore[method-assign,assignment]
        TextGenerator.stream, Path(os.environ["HELD_STREAM_DIR"])
    )
    main()
