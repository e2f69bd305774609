"""Corpus -> tokenizer -> token stream -> trained GPT-2 checkpoint folder."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import jax
import numpy as np
import numpy.typing as npt
from safetensors.numpy import save_file

from llmops_model_server.models.gpt import GPTConfig
from llmops_model_server.training.corpus import corpus_paragraphs, corpus_sha256
from llmops_model_server.training.gpt_training import train_gpt
from llmops_model_server.training.profiles import PROFILES
from llmops_model_server.training.tokenizer_training import EOS_TOKEN, train_bpe

__all__ = ["token_streams", "train_checkpoint"]

VALIDATION_EVERY = 20  # every 20th paragraph is held out


def token_streams(paragraphs: list[str], encode: Any, eos: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Train and validation token streams, paragraphs separated by end-of-text."""
    train: list[int] = []
    valid: list[int] = []
    for i, paragraph in enumerate(paragraphs):
        (valid if i % VALIDATION_EVERY == VALIDATION_EVERY - 1 else train).extend([*encode(paragraph), eos])
    return np.asarray(train, np.int32), np.asarray(valid, np.int32)


def train_checkpoint(dest: Path, profile_name: str, seed: int | None, log: Any) -> dict[str, Any]:
    """Write ``config.json``, ``tokenizer.json``, ``model.safetensors`` and ``training.json`` to ``dest``."""
    profile = PROFILES[profile_name]
    train_cfg = profile.train if seed is None else replace(profile.train, seed=seed)
    paragraphs = corpus_paragraphs()
    tokenizer = train_bpe(paragraphs, profile.vocab_size)
    eos = tokenizer.token_to_id(EOS_TOKEN)
    if eos is None:
        raise RuntimeError(f"the trained tokenizer has no {EOS_TOKEN}")
    train_tokens, valid_tokens = token_streams(paragraphs, lambda t: tokenizer.encode(t).ids, eos)
    log(f"corpus: {len(train_tokens)} training and {len(valid_tokens)} validation tokens")
    config = GPTConfig(
        vocab_size=tokenizer.get_vocab_size(),
        n_positions=profile.n_positions,
        n_embd=profile.n_embd,
        n_layer=profile.n_layer,
        n_head=profile.n_head,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    weights, report = train_gpt(config, train_tokens, valid_tokens, train_cfg, log)
    tokenizer.save(str(dest / "tokenizer.json"))
    (dest / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    dtype = np.float16 if profile_name == "shipped" else np.float32  # F16 halves the committed file
    save_file({k: v.astype(dtype) for k, v in sorted(weights.items())}, str(dest / "model.safetensors"))
    summary = {
        "profile": profile_name,
        "train": asdict(train_cfg),
        "corpus_sha256": corpus_sha256(),
        "report": asdict(report),
        "jax": jax.__version__,
        "machine": platform.machine(),
        "parameters": int(sum(v.size for v in weights.values())),
    }
    (dest / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(f"validation loss {report.validation_loss:.3f} nats/token (unigram {report.unigram_validation_loss:.3f})")
    return {"source": f"trained:{profile_name}", "seed": train_cfg.seed}
