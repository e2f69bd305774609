"""Reading Hugging Face style checkpoint folders: ``config.json`` plus safetensors weights.

A folder holds either one ``model.safetensors`` or shards listed in ``model.safetensors.index.json``
(how larger checkpoints are published); both are read the same way, so a 124M-parameter GPT-2 or a
sharded one loads with the code that loads the small model built by ``scripts/build_models.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from llmops_model_server.models.nn import Array

__all__ = ["CheckpointError", "read_config", "read_tensors", "take"]

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


class CheckpointError(ValueError):
    """A model folder is missing a file or a tensor, or holds tensors of the wrong shape."""


def read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path} not found (build the models: scripts/build_models.py)")
    config: dict[str, Any] = json.loads(path.read_text())
    return config


def read_tensors(model_dir: Path, strip_prefixes: tuple[str, ...] = ()) -> dict[str, Array]:
    """Every tensor of the checkpoint as float32, with the first matching prefix removed from its name."""
    tensors: dict[str, Array] = {}
    for file in _weight_files(model_dir):
        for name, value in load_file(str(file)).items():
            tensors[_strip(name, strip_prefixes)] = np.ascontiguousarray(value, dtype=np.float32)
    return tensors


def _weight_files(model_dir: Path) -> list[Path]:
    single = model_dir / WEIGHTS_FILE
    if single.is_file():
        return [single]
    index = model_dir / INDEX_FILE
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [model_dir / shard for shard in shards]
    raise CheckpointError(f"neither {single} nor {index} exists")


def _strip(name: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def take(tensors: dict[str, Array], name: str, shape: tuple[int, ...]) -> Array:
    """The tensor called ``name``, checked against the shape the config implies."""
    try:
        value = tensors[name]
    except KeyError:
        raise CheckpointError(f"tensor {name!r} missing from the checkpoint") from None
    if value.shape != shape:
        raise CheckpointError(f"tensor {name!r} has shape {value.shape}, the config implies {shape}")
    return value
