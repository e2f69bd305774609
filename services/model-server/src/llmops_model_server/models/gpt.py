"""A GPT-2 decoder in NumPy with a key/value cache, loaded from GPT-2's own checkpoint format.

Tensor names are those of Hugging Face's ``GPT2Model`` (``wte.weight``, ``h.0.attn.c_attn.weight``, ...;
an optional ``transformer.`` prefix as written by ``GPT2LMHeadModel``), with GPT-2's Conv1D layout
(``x @ W + b``, ``W`` shaped ``[in, out]``) and a language-model head tied to ``wte`` unless the
checkpoint has its own ``lm_head.weight``. Rows may be left-padded: ``key_valid`` marks real tokens and
positions count real tokens only, so a batch of prompts of different lengths decodes together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmops_model_server.models.checkpoint import CheckpointError, read_config, read_tensors, take
from llmops_model_server.models.nn import Array, gelu_tanh, layer_norm, linear, softmax

__all__ = ["GPT", "GPTConfig", "KVCache", "load_gpt"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_MASKED = np.float32(-1e9)  # not -inf: a fully masked (padding) row must not turn into NaN


@dataclass(frozen=True)
class GPTConfig:
    """The fields of a GPT-2 ``config.json`` that inference needs (Hugging Face key names)."""

    vocab_size: int
    n_positions: int
    n_embd: int
    n_layer: int
    n_head: int
    layer_norm_epsilon: float = 1e-5
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GPTConfig:
        if raw.get("model_type", "gpt2") != "gpt2":
            raise CheckpointError(f"model_type {raw.get('model_type')!r} is not gpt2")
        act = raw.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise CheckpointError(f"activation_function {act!r} is not supported (gelu_new only)")
        config = cls(
            vocab_size=int(raw["vocab_size"]),
            n_positions=int(raw.get("n_positions", raw.get("n_ctx", 1024))),
            n_embd=int(raw["n_embd"]),
            n_layer=int(raw["n_layer"]),
            n_head=int(raw["n_head"]),
            layer_norm_epsilon=float(raw.get("layer_norm_epsilon", 1e-5)),
            bos_token_id=raw.get("bos_token_id"),
            eos_token_id=raw.get("eos_token_id"),
        )
        if config.n_embd % config.n_head:
            raise CheckpointError(f"n_embd {config.n_embd} is not divisible by n_head {config.n_head}")
        return config

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "activation_function": "gelu_new",
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_ctx": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_inner": None,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "tie_word_embeddings": True,
        }

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


@dataclass(frozen=True)
class Block:
    """One transformer block's weights (GPT-2 names in the comments)."""

    ln_1_w: Array  # h.N.ln_1.weight
    ln_1_b: Array
    attn_w: Array  # h.N.attn.c_attn.weight  [C, 3C]
    attn_b: Array
    attn_proj_w: Array  # h.N.attn.c_proj.weight  [C, C]
    attn_proj_b: Array
    ln_2_w: Array
    ln_2_b: Array
    fc_w: Array  # h.N.mlp.c_fc.weight  [C, 4C]
    fc_b: Array
    proj_w: Array  # h.N.mlp.c_proj.weight  [4C, C]
    proj_b: Array


def _block(tensors: dict[str, Array], i: int, c: int) -> Block:
    p = f"h.{i}."
    inner = tensors.get(p + "mlp.c_fc.weight", np.empty((c, 4 * c), np.float32)).shape[1]
    return Block(
        ln_1_w=take(tensors, p + "ln_1.weight", (c,)),
        ln_1_b=take(tensors, p + "ln_1.bias", (c,)),
        attn_w=take(tensors, p + "attn.c_attn.weight", (c, 3 * c)),
        attn_b=take(tensors, p + "attn.c_attn.bias", (3 * c,)),
        attn_proj_w=take(tensors, p + "attn.c_proj.weight", (c, c)),
        attn_proj_b=take(tensors, p + "attn.c_proj.bias", (c,)),
        ln_2_w=take(tensors, p + "ln_2.weight", (c,)),
        ln_2_b=take(tensors, p + "ln_2.bias", (c,)),
        fc_w=take(tensors, p + "mlp.c_fc.weight", (c, inner)),
        fc_b=take(tensors, p + "mlp.c_fc.bias", (inner,)),
        proj_w=take(tensors, p + "mlp.c_proj.weight", (inner, c)),
        proj_b=take(tensors, p + "mlp.c_proj.bias", (c,)),
    )


class KVCache:
    """Keys and values of every layer for a batch: ``[layer][B, H, capacity, head_dim]``."""

    def __init__(self, config: GPTConfig, batch: int, capacity: int) -> None:
        shape = (batch, config.n_head, capacity, config.head_dim)
        self.keys = [np.zeros(shape, np.float32) for _ in range(config.n_layer)]
        self.values = [np.zeros(shape, np.float32) for _ in range(config.n_layer)]
        self.length = 0
        self.capacity = capacity


class GPT:
    """GPT-2 forward pass; ``step`` feeds new tokens for every row and returns next-token logits."""

    def __init__(self, config: GPTConfig, tensors: dict[str, Array]) -> None:
        c = config.n_embd
        self.config = config
        self.wte = take(tensors, "wte.weight", (config.vocab_size, c))
        self.wpe = take(tensors, "wpe.weight", (config.n_positions, c))
        self.blocks = [_block(tensors, i, c) for i in range(config.n_layer)]
        self.ln_f_w = take(tensors, "ln_f.weight", (c,))
        self.ln_f_b = take(tensors, "ln_f.bias", (c,))
        head = tensors.get("lm_head.weight", self.wte)
        self.lm_head_t = np.ascontiguousarray(take({"lm_head.weight": head}, "lm_head.weight", self.wte.shape).T)
        self._no_bias = np.zeros(config.vocab_size, np.float32)

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        return KVCache(self.config, batch, capacity)

    def step(self, ids: IntArray, key_valid: BoolArray, cache: KVCache, *, all_logits: bool = False) -> Array:
        """Run ``ids`` ``[B, T]`` (appended after the cache); logits ``[B, V]`` of the last position.

        ``key_valid`` ``[B, cache.length + T]`` is False for padding. With ``all_logits`` the result is
        ``[B, T, V]`` (scoring a text, tests).
        """
        _batch, t = ids.shape
        start = cache.length
        if start + t > cache.capacity:
            raise ValueError(f"KV cache holds {cache.capacity} positions, {start + t} requested")
        positions = np.clip(np.cumsum(key_valid, axis=1) - 1, 0, self.config.n_positions - 1)[:, start:]
        x = self.wte[ids] + self.wpe[positions]
        mask = self._mask(key_valid, start, t)
        for layer, block in enumerate(self.blocks):
            x = self._block(x, block, cache, layer, mask, start)
        cache.length = start + t
        x = layer_norm(x if all_logits else x[:, -1], self.ln_f_w, self.ln_f_b, self.config.layer_norm_epsilon)
        return linear(x, self.lm_head_t, self._no_bias)

    @staticmethod
    def _mask(key_valid: BoolArray, start: int, t: int) -> BoolArray:
        total = start + t
        causal = np.arange(total)[None, :] <= (start + np.arange(t))[:, None]  # [T, S]
        return causal[None, None, :, :] & key_valid[:, None, None, :total]  # [B, 1, T, S]

    def _block(self, x: Array, b: Block, cache: KVCache, layer: int, mask: BoolArray, start: int) -> Array:
        eps = self.config.layer_norm_epsilon
        x = x + self._attention(layer_norm(x, b.ln_1_w, b.ln_1_b, eps), b, cache, layer, mask, start)
        hidden = gelu_tanh(linear(layer_norm(x, b.ln_2_w, b.ln_2_b, eps), b.fc_w, b.fc_b))
        return x + linear(hidden, b.proj_w, b.proj_b)

    def _attention(self, h: Array, b: Block, cache: KVCache, layer: int, mask: BoolArray, start: int) -> Array:
        batch, t, c = h.shape
        heads, dim = self.config.n_head, self.config.head_dim
        qkv = linear(h, b.attn_w, b.attn_b).reshape(batch, t, 3, heads, dim).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, H, T, D]
        end = start + t
        cache.keys[layer][:, :, start:end] = k
        cache.values[layer][:, :, start:end] = v
        scores = (q @ cache.keys[layer][:, :, :end].transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(dim))
        weights = softmax(np.where(mask, scores, _MASKED))
        out = (weights @ cache.values[layer][:, :, :end]).transpose(0, 2, 1, 3).reshape(batch, t, c)
        return linear(out, b.attn_proj_w, b.attn_proj_b)


def load_gpt(model_dir: Path) -> GPT:
    """Load ``config.json`` and the safetensors weights of a GPT-2 checkpoint folder."""
    config = GPTConfig.from_dict(read_config(model_dir))
    return GPT(config, read_tensors(model_dir, strip_prefixes=("transformer.",)))
