"""Text generation: prompts in, completions out, for a batch of requests decoded together.

Every request keeps its own sampling parameters, random generator, token budget and stop sequences;
the batch shares one forward pass per step (left-padded prompts, one KV cache). ``stream`` yields the
text of one request as it is produced, holding back anything that could still turn into a stop
sequence, so a decoupled (streaming) Triton model can be built on it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from llmops_model_server.models.gpt import GPT
from llmops_model_server.models.sampling import SamplingParams, next_token
from llmops_model_server.models.tokenizer import TextTokenizer

__all__ = ["FinishReason", "GenerationRequest", "GenerationResult", "TextGenerator"]

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class GenerationRequest:
    """One completion to produce."""

    prompt: str
    max_tokens: int = 64
    sampling: SamplingParams = field(default_factory=SamplingParams)
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {self.max_tokens}")
        if any(not s for s in self.stop):
            raise ValueError("stop sequences must be non-empty strings")


@dataclass(frozen=True)
class GenerationResult:
    """A finished completion. ``finish_reason`` is "stop" (end of text or a stop sequence) or "length"."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason


class _Row:
    """Decoding state of one request inside a batch."""

    def __init__(self, request: GenerationRequest, prompt_ids: list[int], budget: int) -> None:
        self.request = request
        self.prompt_ids = prompt_ids
        self.budget = budget
        self.rng = request.sampling.rng()
        self.ids: list[int] = []
        self.text = ""
        self.finish: FinishReason | None = None if budget > 0 else "length"

    @property
    def done(self) -> bool:
        return self.finish is not None

    def accept(self, token: int, tokenizer: TextTokenizer) -> None:
        if token == tokenizer.eos_id:
            self.finish = "stop"
            return
        self.ids.append(token)
        self.text = tokenizer.decode(self.ids)
        cut = _first_stop(self.text, self.request.stop)
        if cut is not None:
            self.text, self.finish = self.text[:cut], "stop"
        elif len(self.ids) >= self.budget:
            self.finish = "length"

    def visible_text(self) -> str:
        """What may be shown while decoding goes on: no possible stop-sequence start, no split character."""
        if self.done:
            return self.text
        text = self.text.rstrip("\ufffd")
        return text[: len(text) - _held_back(text, self.request.stop)]

    def result(self) -> GenerationResult:
        assert self.finish is not None
        return GenerationResult(self.text, len(self.prompt_ids), len(self.ids), self.finish)


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop sequence."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


class TextGenerator:
    """Generates completions with a :class:`GPT` and its tokenizer."""

    def __init__(self, model: GPT, tokenizer: TextTokenizer) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self._pad = tokenizer.eos_id if tokenizer.eos_id is not None else 0

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        rows = [self._row(r) for r in requests]
        for _ in self._decode(rows):
            pass
        return [row.result() for row in rows]

    def stream(self, request: GenerationRequest) -> Generator[str, None, GenerationResult]:
        """Text deltas of one completion; the generator's return value is the :class:`GenerationResult`."""
        row = self._row(request)
        shown = 0
        for _ in self._decode([row]):
            visible = row.visible_text()
            if len(visible) > shown:
                yield visible[shown:]
                shown = len(visible)
        if len(row.text) > shown:
            yield row.text[shown:]
        return row.result()

    def _row(self, request: GenerationRequest) -> _Row:
        n_positions = self.model.config.n_positions
        ids = self.tokenizer.encode(request.prompt) or [self._pad]
        ids = ids[-(n_positions - 1) :]  # keep the end of a prompt longer than the context window
        return _Row(request, ids, min(request.max_tokens, n_positions - len(ids)))

    def _decode(self, rows: list[_Row]) -> Iterator[None]:
        """Prefill every prompt, then one step per token until every row is done (yields after each step)."""
        live = [row for row in rows if not row.done]
        if not live:
            return
        width = max(len(row.prompt_ids) for row in live)
        steps = max(row.budget for row in live)
        ids = np.full((len(live), width), self._pad, dtype=np.int64)
        key_valid = np.zeros((len(live), width + steps), dtype=np.bool_)
        for i, row in enumerate(live):
            ids[i, width - len(row.prompt_ids) :] = row.prompt_ids
            key_valid[i, width - len(row.prompt_ids) : width] = True
        cache = self.model.new_cache(len(live), width + steps)
        logits = self.model.step(ids, key_valid[:, :width], cache)
        for step in range(steps):
            fed = np.full((len(live), 1), self._pad, dtype=np.int64)
            for i, row in enumerate(live):
                if not row.done:
                    token = next_token(logits[i], row.request.sampling, row.rng)
                    row.accept(token, self.tokenizer)
                    fed[i, 0] = token
                    key_valid[i, width + step] = not row.done
            yield None
            if all(row.done for row in live):
                return
            logits = self.model.step(fed, key_valid[:, : width + step + 1], cache)
