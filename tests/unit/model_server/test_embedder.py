"""Sentence embeddings: BERT-format loading, mean pooling over real tokens, unit length, and the
shipped all-MiniLM-L6-v2 behaving like itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from llmops_model_server.build import embedder_source_dir
from llmops_model_server.models.checkpoint import CheckpointError
from llmops_model_server.models.embedder import BertConfig, Embedder, load_embedder

from tests.unit.model_server.tiny import BERT_CONFIG, write_bert_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return load_embedder(write_bert_dir(tmp_path_factory.mktemp("bert")))


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return load_embedder(embedder_source_dir())


def test_vectors_have_unit_length(tiny: Embedder) -> None:
    vectors = tiny.embed(["the light of the sun", "red prism", "", "w1 w2 w3 " * 20])
    assert vectors.shape == (4, 16)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_padding_in_a_batch_does_not_change_a_vector(tiny: Embedder) -> None:
    alone = tiny.embed(["red prism"])[0]
    batched = tiny.embed(["red prism", "the light of the sun is refracted in water and glass"])[0]
    assert np.allclose(alone, batched, atol=1e-5)


def test_long_texts_are_truncated_to_the_position_table(tiny: Embedder) -> None:
    assert tiny.max_length == 32
    assert tiny.embed(["w5 " * 500]).shape == (1, 16)


def test_token_counts_include_special_tokens_and_stop_at_truncation(tiny: Embedder) -> None:
    _, counts = tiny.embed_counted(["red prism", "", "w5 " * 500])
    assert counts.tolist() == [4, 2, 32]  # [CLS] red prism [SEP]; [CLS] [SEP]; cut at the position table


def test_empty_input_gives_an_empty_matrix(tiny: Embedder) -> None:
    assert tiny.embed([]).shape == (0, 16)


def test_bert_prefixed_checkpoints_load(tmp_path: Path, tiny: Embedder) -> None:
    prefixed = load_embedder(write_bert_dir(tmp_path, prefix="bert."))
    assert np.allclose(prefixed.embed(["red prism"]), tiny.embed(["red prism"]))


def test_unsupported_activation_is_rejected() -> None:
    with pytest.raises(CheckpointError, match="hidden_act"):
        BertConfig.from_dict(BERT_CONFIG | {"hidden_act": "relu"})


def test_minilm_is_384_dimensional_and_normalised(minilm: Embedder) -> None:
    vectors = minilm.embed(["hello world", "a longer sentence about refraction of light in a glass prism"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_minilm_ranks_paraphrases_above_unrelated_text(minilm: Embedder) -> None:
    food, bread, baby, horse = minilm.embed(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
            "A man is riding a horse.",
        ]
    )
    assert food @ bread > food @ horse > food @ baby
    # The value sentence-transformers reports for this pair with all-MiniLM-L6-v2.
    assert food @ bread == pytest.approx(0.7553, abs=0.005)
