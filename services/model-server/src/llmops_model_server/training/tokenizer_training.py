"""Train a GPT-2 style byte-level BPE tokenizer (``tokenizer.json``) on the corpus."""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from llmops_model_server.models.tokenizer import EOS_TOKEN

__all__ = ["EOS_TOKEN", "train_bpe"]


def train_bpe(paragraphs: Sequence[str], vocab_size: int) -> Tokenizer:
    """Byte-level BPE exactly as GPT-2's: every byte is a token, so any text round-trips."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(paragraphs, trainer=trainer)
    return tokenizer
