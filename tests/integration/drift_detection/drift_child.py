"""drift-detection as ``llmops-drift-detection`` runs it, except that the call whose id is ``$DRIFT_SLOW_CALL``
never finishes folding (it writes ``$DRIFT_SLOW_MARKER`` when it starts): one slow message among fast ones, in
flight when the test kills the process with SIGKILL. The calls of its batch before it are folded (written to
the windows table) first, as a batch folded call by call would have them: the kill then leaves a batch half
written and not acked, which the restarted worker folds again."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from llmops_drift_detection import stream
from llmops_drift_detection.entrypoints.main import main
from llmops_kit.kafka.messages import ConsumedMessage

_fold_batch = stream.DriftStream.fold_batch


async def fold_slowly(self: stream.DriftStream, messages: Sequence[ConsumedMessage]) -> None:
    slow = os.environ.get("DRIFT_SLOW_CALL", "")
    for index, message in enumerate(messages):
        if slow and f'"call_id":"{slow}"'.encode() in message.value:
            await _fold_batch(self, messages[:index])
            Path(os.environ["DRIFT_SLOW_MARKER"]).write_text("in flight")
            await asyncio.Event().wait()  # slow: still folding when the process is killed
    await _fold_batch(self, messages)


if __name__ == "__main__":
    stream.DriftStream.fold_batch = fold_slowly  # type: ignore[method-assign]
    main()
