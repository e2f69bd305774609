"""Model and optimisation sizes for the `llm` checkpoint.

``shipped`` is the checkpoint committed under ``llmops_model_server/data/llm`` (trained once with
``scripts/build_models.py --train shipped --write-shipped``: about half an hour on two CPU cores; the
best held-out checkpoint is kept, since the corpus is small);
``quick`` trains a smaller model from the same corpus in well under two minutes (``--train quick``,
and the training code's own tests use an even smaller one).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmops_model_server.training.gpt_training import TrainConfig

__all__ = ["PROFILES", "Profile"]


@dataclass(frozen=True)
class Profile:
    vocab_size: int
    n_positions: int
    n_embd: int
    n_layer: int
    n_head: int
    train: TrainConfig


PROFILES: dict[str, Profile] = {
    "shipped": Profile(
        vocab_size=2048,
        n_positions=256,
        n_embd=192,
        n_layer=4,
        n_head=6,
        train=TrainConfig(steps=900, batch_size=8, seq_len=256, learning_rate=2e-3, warmup_steps=50, eval_every=75),
    ),
    "quick": Profile(
        vocab_size=1024,
        n_positions=128,
        n_embd=128,
        n_layer=2,
        n_head=4,
        train=TrainConfig(steps=160, batch_size=16, seq_len=64, learning_rate=4e-3, warmup_steps=20, eval_every=40),
    ),
}
