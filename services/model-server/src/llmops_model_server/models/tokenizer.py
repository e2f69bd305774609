"""Text <-> token ids through a Hugging Face ``tokenizer.json`` (the `tokenizers` library, no transformers)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

from llmops_model_server.models.checkpoint import CheckpointError

__all__ = ["EOS_TOKEN", "TextTokenizer"]

TOKENIZER_FILE = "tokenizer.json"
# GPT-2's end-of-text token; also what an empty prompt starts from.
EOS_TOKEN = "<|endoftext|>"  # noqa: S105 - a vocabulary entry, not a secret


class TextTokenizer:
    """A ``tokenizer.json`` tokenizer (GPT-2's byte-level BPE, BERT's WordPiece, ...)."""

    def __init__(self, tokenizer: Tokenizer, eos_token: str | None = None) -> None:
        self._tok = tokenizer
        self.eos_token = eos_token
        self.eos_id = tokenizer.token_to_id(eos_token) if eos_token else None

    @classmethod
    def from_dir(cls, model_dir: Path, eos_token: str | None = None) -> TextTokenizer:
        path = model_dir / TOKENIZER_FILE
        if not path.is_file():
            raise CheckpointError(f"{path} not found")
        return cls(Tokenizer.from_file(str(path)), eos_token)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    @property
    def backend(self) -> Tokenizer:
        return self._tok

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens added."""
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; special tokens (end of text) are dropped."""
        return str(self._tok.decode(list(ids), skip_special_tokens=True))
