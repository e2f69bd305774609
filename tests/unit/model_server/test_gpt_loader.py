"""Loading GPT-2-format checkpoints and the NumPy forward pass (checked against the JAX training code)."""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from llmops_model_server.models.checkpoint import CheckpointError
from llmops_model_server.models.gpt import GPT, GPTConfig, load_gpt
from llmops_model_server.training.gpt_training import forward as jax_forward
from safetensors.numpy import save_file

from tests.unit.model_server.tiny import TINY_GPT, random_gpt_tensors, write_gpt_dir

IDS = np.array([[5, 17, 42, 99, 7, 250, 3, 64, 12, 1]], dtype=np.int64)


def full_logits(model: GPT, ids: np.ndarray) -> np.ndarray:
    cache = model.new_cache(ids.shape[0], ids.shape[1])
    return model.step(ids, np.ones(ids.shape, bool), cache, all_logits=True)


def reference_logits(tensors: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    params = {k: jnp.asarray(v) for k, v in tensors.items()}
    return np.asarray(jax_forward(params, jnp.asarray(ids), TINY_GPT))


def test_numpy_forward_matches_the_jax_training_forward(tmp_path: Path) -> None:
    model = load_gpt(write_gpt_dir(tmp_path))
    expected = reference_logits(random_gpt_tensors(TINY_GPT), IDS)
    assert np.allclose(full_logits(model, IDS), expected, atol=1e-4)


def test_hugging_face_layout_prefix_and_buffers_are_understood(tmp_path: Path) -> None:
    plain = load_gpt(write_gpt_dir(tmp_path / "plain"))
    hf = load_gpt(write_gpt_dir(tmp_path / "hf", hf_layout=True))
    assert np.array_equal(full_logits(plain, IDS), full_logits(hf, IDS))


def test_float16_checkpoints_load_as_float32(tmp_path: Path) -> None:
    model = load_gpt(write_gpt_dir(tmp_path, dtype=np.float16))
    assert model.wte.dtype == np.float32
    assert np.allclose(full_logits(model, IDS), reference_logits(random_gpt_tensors(TINY_GPT), IDS), atol=0.05)


def test_sharded_checkpoints_load(tmp_path: Path) -> None:
    folder = write_gpt_dir(tmp_path)
    tensors = random_gpt_tensors(TINY_GPT)
    (folder / "model.safetensors").unlink()
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, shard_names in shards.items():
        save_file({n: tensors[n] for n in shard_names}, str(folder / shard))
    weight_map = {n: shard for shard, shard_names in shards.items() for n in shard_names}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert np.allclose(full_logits(load_gpt(folder), IDS), reference_logits(tensors, IDS), atol=1e-4)


def test_incremental_decoding_with_the_cache_matches_one_pass(tmp_path: Path) -> None:
    model = load_gpt(write_gpt_dir(tmp_path))
    whole = full_logits(model, IDS)[:, -1]
    cache = model.new_cache(1, IDS.shape[1])
    valid = np.ones(IDS.shape, bool)
    model.step(IDS[:, :6], valid[:, :6], cache)
    for t in range(6, IDS.shape[1]):
        last = model.step(IDS[:, t : t + 1], valid[:, : t + 1], cache)
    assert np.allclose(last, whole, atol=1e-4)


def test_left_padding_does_not_change_a_row(tmp_path: Path) -> None:
    model = load_gpt(write_gpt_dir(tmp_path))
    alone = full_logits(model, IDS[:, 4:])[:, -1]
    padded = np.concatenate([np.zeros((1, 4), np.int64), IDS[:, 4:]], axis=1)
    valid = np.ones(padded.shape, bool)
    valid[:, :4] = False
    batch_ids = np.concatenate([IDS, padded])
    batch_valid = np.concatenate([np.ones(IDS.shape, bool), valid])
    logits = model.step(batch_ids, batch_valid, model.new_cache(2, IDS.shape[1]))
    assert np.allclose(logits[1], alone[0], atol=1e-4)


def test_missing_tensor_is_reported_by_name(tmp_path: Path) -> None:
    folder = write_gpt_dir(tmp_path)
    tensors = random_gpt_tensors(TINY_GPT)
    del tensors["h.1.mlp.c_fc.bias"]
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"h\.1\.mlp\.c_fc\.bias"):
        load_gpt(folder)


def test_shape_that_contradicts_the_config_is_rejected(tmp_path: Path) -> None:
    folder = write_gpt_dir(tmp_path)
    wider = GPTConfig(**{**TINY_GPT.__dict__, "n_embd": 64})
    (folder / "config.json").write_text(json.dumps(wider.to_dict()))
    with pytest.raises(CheckpointError, match="shape"):
        load_gpt(folder)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_type": "llama"}, "model_type"),
        ({"activation_function": "relu"}, "activation"),
        ({"n_head": 5}, "n_head"),
    ],
)
def test_unsupported_configs_are_rejected(change: dict[str, object], message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        GPTConfig.from_dict(TINY_GPT.to_dict() | change)


def test_missing_folder_points_at_the_build_script(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="build_models"):
        load_gpt(tmp_path / "nowhere")
