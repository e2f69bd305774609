"""Putting checkpoints in place (copy, manifest, idempotence) and the python-backend environment."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from llmops_model_server import build
from llmops_model_server.bootstrap import python_backend_env
from llmops_model_server.config import ModelServerSettings
from llmops_model_server.models.gpt import load_gpt


def test_models_are_copied_with_a_manifest_and_left_alone_afterwards(tmp_path: Path) -> None:
    messages: list[str] = []
    build.ensure_models(tmp_path, log=messages.append)
    assert build.is_complete(tmp_path / "llm") and build.is_complete(tmp_path / "embedder")
    manifest = json.loads((tmp_path / "llm" / build.MARKER).read_text())
    assert set(manifest["files"]) == set(build.LLM_FILES)
    assert len(messages) == 2
    build.ensure_models(tmp_path, log=messages.append)
    assert len(messages) == 2  # nothing rebuilt


def test_an_incomplete_folder_is_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "config.json").write_text("{}")
    build.ensure_models(tmp_path, log=lambda _: None)
    assert load_gpt(tmp_path / "llm").config.n_layer >= 1


def test_a_corrupt_shipped_checkpoint_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "shipped"
    fake.mkdir()
    for name in build.LLM_FILES:
        (fake / name).write_text("x")
    (fake / "SHA256SUMS.json").write_text(json.dumps(dict.fromkeys(build.LLM_FILES, "0" * 64)))
    monkeypatch.setattr(build, "shipped_llm_dir", lambda: fake)
    with pytest.raises(RuntimeError, match="SHA256SUMS"):
        build.ensure_models(tmp_path / "models", log=lambda _: None)
    assert not (tmp_path / "models" / "llm").exists()


def test_shipped_checkpoint_is_a_trained_language_model() -> None:
    report = json.loads((build.shipped_llm_dir() / "training.json").read_text())["report"]
    assert report["validation_loss"] < report["unigram_validation_loss"] - 0.5
    assert report["validation_loss"] < report["initial_validation_loss"] - 2.0


def test_interpreter_libdir_comes_first_once() -> None:
    libdir = sysconfig.get_config_var("LIBDIR")
    env = python_backend_env({"LD_LIBRARY_PATH": f"/opt/x:{libdir}:/opt/y"})
    assert env["LD_LIBRARY_PATH"] == f"{libdir}:/opt/x:/opt/y"
    assert python_backend_env({})["LD_LIBRARY_PATH"] == libdir


def test_settings_come_from_model_server_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODEL_SERVER_PORT", "9100")
    monkeypatch.setenv("MODEL_SERVER_GRPC_PORT", "9101")
    monkeypatch.setenv("MODEL_SERVER_METRICS_PORT", "9102")
    monkeypatch.setenv("MODEL_SERVER_MODEL_DIR", str(tmp_path))
    settings = ModelServerSettings()
    assert (settings.port, settings.grpc_port, settings.metrics_port, settings.model_dir) == (
        9100,
        9101,
        9102,
        tmp_path,
    )


@pytest.mark.slow
def test_training_lowers_the_loss_and_saves_a_loadable_checkpoint(tmp_path: Path) -> None:
    from llmops_model_server.training import pipeline, profiles
    from llmops_model_server.training.gpt_training import TrainConfig

    tiny = profiles.Profile(300, 32, 32, 1, 2, TrainConfig(steps=60, batch_size=8, seq_len=32, eval_every=30))
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(profiles.PROFILES, "quick", tiny)
        pipeline.train_checkpoint(tmp_path, "quick", None, lambda _: None)
    report = json.loads((tmp_path / "training.json").read_text())["report"]
    assert report["validation_loss"] < report["initial_validation_loss"] - 0.5
    model = load_gpt(tmp_path)
    assert model.config.vocab_size == 300 and np.isfinite(model.wte).all()


def test_a_stale_copy_is_refreshed_but_a_trained_folder_is_kept(tmp_path: Path) -> None:
    build.ensure_models(tmp_path, log=lambda _: None)
    marker = tmp_path / "llm" / build.MARKER
    manifest = json.loads(marker.read_text())
    marker.write_text(json.dumps(manifest | {"fingerprint": "an older checkpoint"}))
    build.ensure_models(tmp_path, log=lambda _: None)
    assert json.loads(marker.read_text())["fingerprint"] == manifest["fingerprint"]
    marker.write_text(json.dumps(manifest | {"source": "trained:quick", "fingerprint": "x"}))
    build.ensure_models(tmp_path, log=lambda _: None)
    assert json.loads(marker.read_text())["source"] == "trained:quick"
