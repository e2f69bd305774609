"""The byte-level BPE tokenizer (trained the way the shipped one is) and its wrapper."""

from __future__ import annotations

from pathlib import Path

import pytest
from llmops_model_server.models.checkpoint import CheckpointError
from llmops_model_server.models.tokenizer import TextTokenizer
from llmops_model_server.training.tokenizer_training import EOS_TOKEN

from tests.unit.model_server.tiny import tiny_bpe


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> TextTokenizer:
    folder = tmp_path_factory.mktemp("tok")
    tiny_bpe().save(str(folder / "tokenizer.json"))
    return TextTokenizer.from_dir(folder, eos_token=EOS_TOKEN)


@pytest.mark.parametrize(
    "text",
    ["The Light of the Sun.", "  leading and trailing  ", "naïve café — 東京 🙂", "tabs\tand\nnewlines", ""],
)
def test_any_text_round_trips(tokenizer: TextTokenizer, text: str) -> None:
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_merges_make_common_words_single_tokens(tokenizer: TextTokenizer) -> None:
    assert len(tokenizer.encode(" the")) == 1
    assert len(tokenizer.encode("The Light of the Sun")) < len("The Light of the Sun")


def test_end_of_text_is_special(tokenizer: TextTokenizer) -> None:
    assert tokenizer.eos_id == 0
    assert tokenizer.decode([*tokenizer.encode("Light"), 0]) == "Light"
    assert tokenizer.encode(EOS_TOKEN) == [0]


def test_missing_file_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"tokenizer\.json"):
        TextTokenizer.from_dir(tmp_path)
