"""Sentence embeddings from a BERT-family encoder in NumPy: mean pooling over real tokens, L2-normalised.

Loads a sentence-transformers style folder (``config.json``, ``model.safetensors``, ``tokenizer.json``)
with Hugging Face ``BertModel`` tensor names (an optional ``bert.`` prefix is accepted); the served
``embedder`` is all-MiniLM-L6-v2 (6 layers, 384 dimensions), but any BERT encoder of that format loads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmops_model_server.models.checkpoint import CheckpointError, read_config, read_tensors, take
from llmops_model_server.models.nn import Array, f32, gelu_erf, layer_norm, linear, softmax
from llmops_model_server.models.tokenizer import TextTokenizer

__all__ = ["BertConfig", "Embedder", "load_embedder"]


@dataclass(frozen=True)
class BertConfig:
    """The fields of a BERT ``config.json`` that inference needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BertConfig:
        if raw.get("hidden_act", "gelu") != "gelu":
            raise CheckpointError(f"hidden_act {raw.get('hidden_act')!r} is not supported (gelu only)")
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass(frozen=True)
class _Layer:
    q_w: Array
    q_b: Array
    k_w: Array
    k_b: Array
    v_w: Array
    v_b: Array
    o_w: Array
    o_b: Array
    ln1_w: Array
    ln1_b: Array
    up_w: Array
    up_b: Array
    down_w: Array
    down_b: Array
    ln2_w: Array
    ln2_b: Array


def _linear(tensors: dict[str, Array], name: str, out: int, inp: int) -> tuple[Array, Array]:
    """A torch ``nn.Linear`` (weight ``[out, in]``) as ``(W.T, b)`` for ``x @ W.T + b``."""
    weight = take(tensors, name + ".weight", (out, inp))
    return np.ascontiguousarray(weight.T), take(tensors, name + ".bias", (out,))


def _layer(tensors: dict[str, Array], i: int, c: BertConfig) -> _Layer:
    p, h, f = f"encoder.layer.{i}.", c.hidden_size, c.intermediate_size
    q_w, q_b = _linear(tensors, p + "attention.self.query", h, h)
    k_w, k_b = _linear(tensors, p + "attention.self.key", h, h)
    v_w, v_b = _linear(tensors, p + "attention.self.value", h, h)
    o_w, o_b = _linear(tensors, p + "attention.output.dense", h, h)
    up_w, up_b = _linear(tensors, p + "intermediate.dense", f, h)
    down_w, down_b = _linear(tensors, p + "output.dense", h, f)
    return _Layer(
        q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b,
        take(tensors, p + "attention.output.LayerNorm.weight", (h,)),
        take(tensors, p + "attention.output.LayerNorm.bias", (h,)),
        up_w, up_b, down_w, down_b,
        take(tensors, p + "output.LayerNorm.weight", (h,)),
        take(tensors, p + "output.LayerNorm.bias", (h,)),
    )  # fmt: skip


class Embedder:
    """Texts in, unit-length vectors out (``[N, hidden_size]`` float32)."""

    def __init__(
        self, config: BertConfig, tensors: dict[str, Array], tokenizer: TextTokenizer, max_length: int
    ) -> None:
        h = config.hidden_size
        self.config = config
        self.tokenizer = tokenizer
        self.max_length = min(max_length, config.max_position_embeddings)
        self.word = take(tensors, "embeddings.word_embeddings.weight", (config.vocab_size, h))
        self.position = take(tensors, "embeddings.position_embeddings.weight", (config.max_position_embeddings, h))
        self.token_type = take(tensors, "embeddings.token_type_embeddings.weight", (config.type_vocab_size, h))
        self.ln_w = take(tensors, "embeddings.LayerNorm.weight", (h,))
        self.ln_b = take(tensors, "embeddings.LayerNorm.bias", (h,))
        self.layers = [_layer(tensors, i, config) for i in range(config.num_hidden_layers)]
        tokenizer.backend.enable_truncation(self.max_length)
        tokenizer.backend.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret

    @property
    def dimension(self) -> int:
        return self.config.hidden_size

    def embed(self, texts: Sequence[str]) -> Array:
        """Unit vectors ``[N, dimension]``."""
        return self.embed_counted(texts)[0]

    def embed_counted(self, texts: Sequence[str]) -> tuple[Array, npt.NDArray[np.int32]]:
        """Unit vectors and, per text, the tokens the encoder read (special tokens included, after truncation)."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32), np.zeros(0, np.int32)
        encodings = self.tokenizer.backend.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self._encode(ids, types, mask)
        counts = mask.sum(axis=1, keepdims=True)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(counts, 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return f32((pooled / np.maximum(norms, 1e-12)).astype(np.float32)), counts[:, 0].astype(np.int32)

    def _encode(self, ids: npt.NDArray[np.int64], types: npt.NDArray[np.int64], mask: Array) -> Array:
        c = self.config
        positions = np.arange(ids.shape[1])
        x = self.word[ids] + self.position[positions][None] + self.token_type[types]
        x = layer_norm(x, self.ln_w, self.ln_b, c.layer_norm_eps)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padding keys get no attention
        for layer in self.layers:
            x = self._layer(x, layer, bias)
        return x

    def _layer(self, x: Array, p: _Layer, bias: Array) -> Array:
        c = self.config
        b, t, h = x.shape
        heads, dim = c.num_attention_heads, h // c.num_attention_heads

        def split(y: Array) -> Array:
            return y.reshape(b, t, heads, dim).transpose(0, 2, 1, 3)

        q, k, v = split(linear(x, p.q_w, p.q_b)), split(linear(x, p.k_w, p.k_b)), split(linear(x, p.v_w, p.v_b))
        weights = softmax((q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(dim)) + bias)
        attended = (weights @ v).transpose(0, 2, 1, 3).reshape(b, t, h)
        x = layer_norm(x + linear(attended, p.o_w, p.o_b), p.ln1_w, p.ln1_b, c.layer_norm_eps)
        ffn = linear(gelu_erf(linear(x, p.up_w, p.up_b)), p.down_w, p.down_b)
        return layer_norm(x + ffn, p.ln2_w, p.ln2_b, c.layer_norm_eps)


def load_embedder(model_dir: Path, max_length: int = 256) -> Embedder:
    """Load a BERT sentence-embedding folder (``config.json``, safetensors, ``tokenizer.json``)."""
    config = BertConfig.from_dict(read_config(model_dir))
    tensors = read_tensors(model_dir, strip_prefixes=("bert.",))
    return Embedder(config, tensors, TextTokenizer.from_dir(model_dir), max_length)
