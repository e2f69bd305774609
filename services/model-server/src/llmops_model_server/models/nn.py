"""Transformer building blocks in NumPy (float32), shared by the decoder and the encoder."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt

__all__ = ["Array", "erf", "f32", "gelu_erf", "gelu_tanh", "layer_norm", "linear", "softmax"]

Array = npt.NDArray[np.float32]

_SQRT_2_OVER_PI = np.float32(np.sqrt(2.0 / np.pi))


def f32(value: Any) -> Array:
    """Type NumPy's result as float32 (its stubs widen arithmetic on float32 arrays to Any)."""
    return cast(Array, value)


def linear(x: Array, weight: Array, bias: Array) -> Array:
    """``x @ weight + bias`` over the last axis, as one 2-D product (NumPy's N-D @ 2-D is several times slower)."""
    flat = x.reshape(-1, x.shape[-1]) @ weight + bias
    return f32(flat.reshape(*x.shape[:-1], weight.shape[1]))


def layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    """LayerNorm over the last axis."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return f32((centred / np.sqrt(var + np.float32(eps))) * weight + bias)


def gelu_tanh(x: Array) -> Array:
    """GPT-2's ``gelu_new``: the tanh approximation of GELU."""
    return f32(np.float32(0.5) * x * (np.float32(1.0) + np.tanh(_SQRT_2_OVER_PI * (x + np.float32(0.044715) * x**3))))


def erf(x: Array) -> Array:
    """Error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): NumPy has no vectorised erf."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return f32((sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32))


def gelu_erf(x: Array) -> Array:
    """BERT's exact ``gelu``: x * Phi(x)."""
    return f32(np.float32(0.5) * x * (np.float32(1.0) + erf(x / np.float32(np.sqrt(2.0)))))


def softmax(x: Array, axis: int = -1) -> Array:
    """Numerically stable softmax; rows that are entirely -inf come out as zeros instead of NaN."""
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    e = np.exp(x - peak)
    total = e.sum(axis=axis, keepdims=True)
    return f32((e / np.where(total == 0.0, 1.0, total)).astype(np.float32))
