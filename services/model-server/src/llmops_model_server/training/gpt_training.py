"""Train a small GPT-2 with JAX on CPU and return its weights under GPT-2's tensor names.

The parameters live in a flat dict keyed exactly like a Hugging Face GPT-2 checkpoint
(``wte.weight``, ``h.0.attn.c_attn.weight``, ...), so saving is ``safetensors.numpy.save_file`` and
serving loads them with :func:`llmops_model_server.models.gpt.load_gpt` like any GPT-2 checkpoint.
Deterministic for a seed: initialisation from ``jax.random``, batches from a seeded NumPy generator.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from llmops_model_server.models.gpt import GPTConfig

__all__ = ["TrainConfig", "TrainReport", "train_gpt"]

Params = dict[str, jax.Array]
Tokens = npt.NDArray[np.int32]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (AdamW, linear warm-up then cosine decay)."""

    steps: int = 600
    batch_size: int = 16
    seq_len: int = 128
    learning_rate: float = 3e-3
    warmup_steps: int = 40
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 1234
    eval_every: int = 100
    eval_batches: int = 8


@dataclass(frozen=True)
class TrainReport:
    """What training achieved, in nats per token on held-out text."""

    final_train_loss: float
    validation_loss: float
    best_step: int
    unigram_validation_loss: float
    initial_validation_loss: float
    steps: int
    tokens_seen: int
    seconds: float
    history: list[dict[str, float]]


def init_params(config: GPTConfig, key: jax.Array) -> Params:
    """GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 * n_layer)."""
    c, inner = config.n_embd, 4 * config.n_embd
    shapes: dict[str, tuple[int, ...]] = {"wte.weight": (config.vocab_size, c), "wpe.weight": (config.n_positions, c)}
    for i in range(config.n_layer):
        p = f"h.{i}."
        shapes |= {
            p + "attn.c_attn.weight": (c, 3 * c),
            p + "attn.c_proj.weight": (c, c),
            p + "mlp.c_fc.weight": (c, inner),
            p + "mlp.c_proj.weight": (inner, c),
        }
    keys = jax.random.split(key, len(shapes))
    params: Params = {}
    for k, (name, shape) in zip(keys, sorted(shapes.items()), strict=True):
        std = 0.02 / math.sqrt(2 * config.n_layer) if name.endswith("c_proj.weight") else 0.02
        params[name] = std * jax.random.normal(k, shape, jnp.float32)
    for i in range(config.n_layer):
        p = f"h.{i}."
        params |= {p + "attn.c_attn.bias": jnp.zeros(3 * c), p + "attn.c_proj.bias": jnp.zeros(c)}
        params |= {p + "mlp.c_fc.bias": jnp.zeros(inner), p + "mlp.c_proj.bias": jnp.zeros(c)}
        for ln in ("ln_1", "ln_2"):
            params |= {f"{p}{ln}.weight": jnp.ones(c), f"{p}{ln}.bias": jnp.zeros(c)}
    return params | {"ln_f.weight": jnp.ones(c), "ln_f.bias": jnp.zeros(c)}


def _layer_norm(x: jax.Array, w: jax.Array, b: jax.Array, eps: float) -> jax.Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * w + b


def _gelu(x: jax.Array) -> jax.Array:
    return 0.5 * x * (1.0 + jnp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def forward(params: Params, ids: jax.Array, config: GPTConfig) -> jax.Array:
    """Logits ``[B, T, V]``: the same computation as the NumPy ``GPT.step`` (causal, tied head)."""
    b, t = ids.shape
    c, heads, eps = config.n_embd, config.n_head, config.layer_norm_epsilon
    # One-hot matmuls instead of gather: XLA's CPU scatter (the gather's gradient) is very slow.
    x = (
        jax.nn.one_hot(ids, config.vocab_size, dtype=jnp.float32) @ params["wte.weight"]
        + params["wpe.weight"][:t][None]
    )
    causal = jnp.tril(jnp.ones((t, t), bool))
    for i in range(config.n_layer):
        p = f"h.{i}."
        h = _layer_norm(x, params[p + "ln_1.weight"], params[p + "ln_1.bias"], eps)
        qkv = h @ params[p + "attn.c_attn.weight"] + params[p + "attn.c_attn.bias"]
        q, k, v = jnp.split(qkv.reshape(b, t, 3, heads, c // heads).transpose(2, 0, 3, 1, 4), 3)
        scores = (q[0] @ k[0].transpose(0, 1, 3, 2)) / math.sqrt(c // heads)
        att = jax.nn.softmax(jnp.where(causal, scores, -1e9), axis=-1) @ v[0]
        att = att.transpose(0, 2, 1, 3).reshape(b, t, c)
        x = x + att @ params[p + "attn.c_proj.weight"] + params[p + "attn.c_proj.bias"]
        h = _layer_norm(x, params[p + "ln_2.weight"], params[p + "ln_2.bias"], eps)
        h = _gelu(h @ params[p + "mlp.c_fc.weight"] + params[p + "mlp.c_fc.bias"])
        x = x + h @ params[p + "mlp.c_proj.weight"] + params[p + "mlp.c_proj.bias"]
    x = _layer_norm(x, params["ln_f.weight"], params["ln_f.bias"], eps)
    return x @ params["wte.weight"].T


def _loss(params: Params, x: jax.Array, y: jax.Array, config: GPTConfig) -> jax.Array:
    logits = forward(params, x, config)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -(logp * jax.nn.one_hot(y, config.vocab_size, dtype=logp.dtype)).sum(-1).mean()


def _make_step(config: GPTConfig, train: TrainConfig) -> Callable[..., Any]:
    b1, b2, eps = 0.9, 0.95, 1e-8

    def step(params: Params, m: Params, v: Params, t: jax.Array, lr: jax.Array, x: jax.Array, y: jax.Array) -> Any:
        loss, grads = jax.value_and_grad(_loss)(params, x, y, config)
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in grads.values()))
        scale = jnp.minimum(1.0, train.grad_clip / (norm + 1e-6))
        new_p, new_m, new_v = {}, {}, {}
        for name, g in grads.items():
            g = g * scale
            new_m[name] = b1 * m[name] + (1 - b1) * g
            new_v[name] = b2 * v[name] + (1 - b2) * g * g
            update = (new_m[name] / (1 - b1**t)) / (jnp.sqrt(new_v[name] / (1 - b2**t)) + eps)
            decay = train.weight_decay * params[name] if params[name].ndim == 2 else 0.0
            new_p[name] = params[name] - lr * (update + decay)
        return new_p, new_m, new_v, loss

    return jax.jit(step)


def _lr(step: int, train: TrainConfig) -> float:
    if step < train.warmup_steps:
        return train.learning_rate * (step + 1) / train.warmup_steps
    progress = (step - train.warmup_steps) / max(1, train.steps - train.warmup_steps)
    return train.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _batch(tokens: Tokens, rng: np.random.Generator, batch: int, seq: int) -> tuple[Tokens, Tokens]:
    starts = rng.integers(0, len(tokens) - seq - 1, size=batch)
    window = np.stack([tokens[s : s + seq + 1] for s in starts])
    return window[:, :-1], window[:, 1:]


def unigram_loss(train_tokens: Tokens, valid_tokens: Tokens, vocab: int) -> float:
    """Cross-entropy of a (add-one smoothed) unigram model of the training text on the held-out text."""
    counts = np.bincount(train_tokens, minlength=vocab).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(-logp[valid_tokens].mean())


def train_gpt(
    config: GPTConfig, train_tokens: Tokens, valid_tokens: Tokens, train: TrainConfig, log: Callable[[str], None]
) -> tuple[dict[str, npt.NDArray[np.float32]], TrainReport]:
    """Train from scratch; returns float32 NumPy weights under GPT-2 names and a report."""
    started = time.monotonic()
    params = init_params(config, jax.random.PRNGKey(train.seed))
    m = {k: jnp.zeros_like(p) for k, p in params.items()}
    v = {k: jnp.zeros_like(p) for k, p in params.items()}
    step_fn = _make_step(config, train)
    loss_fn = jax.jit(lambda p, x, y: _loss(p, x, y, config))
    batches, evals = np.random.default_rng(train.seed), np.random.default_rng(train.seed + 1)
    eval_set = [_batch(valid_tokens, evals, train.batch_size, train.seq_len) for _ in range(train.eval_batches)]

    def validate(p: Params) -> float:
        return float(np.mean([float(loss_fn(p, x, y)) for x, y in eval_set]))

    initial = validate(params)
    history: list[dict[str, float]] = []
    recent: list[float] = []
    best: tuple[float, int, dict[str, npt.NDArray[np.float32]]] = (initial, 0, _to_numpy(params))
    for step in range(train.steps):
        x, y = _batch(train_tokens, batches, train.batch_size, train.seq_len)
        params, m, v, loss = step_fn(params, m, v, jnp.float32(step + 1), jnp.float32(_lr(step, train)), x, y)
        recent = [*recent[-19:], float(loss)]
        if (step + 1) % train.eval_every == 0 or step + 1 == train.steps:
            point = {"step": step + 1, "train_loss": float(np.mean(recent)), "validation_loss": validate(params)}
            history.append(point | {"seconds": round(time.monotonic() - started, 1)})
            log(f"step {step + 1}/{train.steps} train {point['train_loss']:.3f} valid {point['validation_loss']:.3f}")
            if point["validation_loss"] < best[0]:  # keep the best held-out checkpoint (early stopping)
                best = (point["validation_loss"], step + 1, _to_numpy(params))
    best_point = next((h for h in history if h["step"] == best[1]), history[-1])
    report = TrainReport(
        final_train_loss=best_point["train_loss"],
        validation_loss=best[0],
        best_step=best[1],
        unigram_validation_loss=unigram_loss(train_tokens, valid_tokens, config.vocab_size),
        initial_validation_loss=initial,
        steps=train.steps,
        tokens_seen=train.steps * train.batch_size * train.seq_len,
        seconds=round(time.monotonic() - started, 1),
        history=history,
    )
    return best[2], report


def _to_numpy(params: Params) -> dict[str, npt.NDArray[np.float32]]:
    return {name: np.asarray(p, dtype=np.float32) for name, p in params.items()}
