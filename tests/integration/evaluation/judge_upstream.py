"""A deterministic OpenAI-compatible upstream for the judge's integration test: an application model and a judge.

* ``app-a`` answers "Your parcel is at the depot."; ``app-b`` (a shadow deployment's copy) answers "No idea.";
* ``judge`` reads the rendered rubric (the last user message) like the model server's ``judge`` does, by its
  tags: one ``<answer>`` gets ``Score: 4/5`` when it mentions the depot, else ``Score: 2/5``; an answer holding
  ``GARBAGE`` gets prose without a score, one holding ``HANG`` an answer after ``HANG_S`` (past the judge's 3 s
  timeout; longer only held the module's teardown, which waits for the request, for a minute); ``<answer_a>`` and
  ``<answer_b>`` get ``Preferred: A`` or ``B`` for the one that mentions the depot.
It counts judge requests, so a test can tell the platform's own judge calls were never judged in turn.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import FastAPI, Request

__all__ = ["create_judge_upstream"]

_TAG = re.compile(r"<(answer|answer_a|answer_b)>(.*?)</\1>", re.DOTALL)
APP_ANSWERS = {"app-a": "Your parcel is at the depot.", "app-b": "No idea."}
HANG_S = 10.0
"""How long the judge takes over an answer holding ``HANG``: well past the 3 s judge timeout the test sets."""


def _verdict(rubric: str) -> str:
    tags = {m.group(1): m.group(2) for m in _TAG.finditer(rubric)}
    if "answer_a" in tags and "answer_b" in tags:
        return f"Preferred: {'A' if 'depot' in tags['answer_a'] else 'B'}\nReason: it names the depot."
    answer = tags.get("answer", "")
    if "GARBAGE" in answer:
        return "What a lovely answer, I enjoyed reading it."
    return f"Score: {4 if 'depot' in answer else 2}/5\nReason: checked against the question."


def create_judge_upstream() -> FastAPI:
    app = FastAPI(title="judge upstream")
    app.state.judged = 0

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        last = str(body["messages"][-1].get("content") or "")
        if body["model"] == "judge":
            app.state.judged += 1
            if "HANG" in last:
                await asyncio.sleep(HANG_S)
            text = _verdict(last)
        else:
            text = APP_ANSWERS.get(body["model"], "?")
        return {
            "id": "chatcmpl-judge-upstream",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(last) // 4, "completion_tokens": len(text) // 4, "total_tokens": 1},
        }

    return app
