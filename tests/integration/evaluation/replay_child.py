"""The evaluation service as ``llmops-evaluation`` runs it, plus a ``counting`` kind that appends one line per
call it judges to ``$REPLAY_COUNT_FILE``: how the kill -9 test counts the invocations of one process."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from llmops_evaluation.entrypoints.main import main
from llmops_evaluation.heuristics import KINDS, Answer, Verdict
from llmops_evaluation.heuristics.text import Refusal


class Counting(Refusal):
    """Judges every answer 1 and records that it did (a line, appended and flushed: it survives SIGKILL)."""

    kind = "counting"

    @classmethod
    def build(cls, params: Any) -> Callable[[Answer], list[Verdict]]:
        sink = open(os.environ["REPLAY_COUNT_FILE"], "a", buffering=1)  # noqa: SIM115 (lives as long as the process)

        def judge(answer: Answer) -> list[Verdict]:
            sink.write("1\n")
            return [Verdict(metric="counted", score=1.0, passed=True)]

        return judge


if __name__ == "__main__":
    KINDS["counting"] = Counting  # type: ignore[index]
    main()
