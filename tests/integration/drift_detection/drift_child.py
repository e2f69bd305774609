"""drift-detection as ``llmops-drift-detection`` runs it, except that the call whose id is ``$DRIFT_SLOW_CALL``
never finishes folding (it writes ``$DRIFT_SLOW_MARKER`` when it starts): one slow message among fast ones, in
flight when the test kills the process with SIGKILL."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from llmops_drift_detection import stream
from llmops_drift_detection.entrypoints.main import main
from llmops_kit.kafka.messages import ConsumedMessage

_fold = stream.DriftStream.fold


async def fold_slowly(self: stream.DriftStream, message: ConsumedMessage) -> None:
    slow = os.environ.get("DRIFT_SLOW_CALL", "")
    if slow and f'"call_id":"{slow}"'.encode() in message.value:
        Path(os.environ["DRIFT_SLOW_MARKER"]).write_text("in flight")
        await asyncio.Event().wait()  # slow: still folding when the process is killed
    await _fold(self, message)


if __name__ == "__main__":
    stream.DriftStream.fold = fold_slowly  # type: ignore[method-assign]
    main()
