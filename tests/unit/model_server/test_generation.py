"""Completions: budgets, stop sequences, token counts, reproducibility inside a batch, streaming."""

from __future__ import annotations

from pathlib import Path

import pytest
from llmops_model_server.models.generation import GenerationRequest, TextGenerator
from llmops_model_server.models.gpt import load_gpt
from llmops_model_server.models.sampling import SamplingParams
from llmops_model_server.models.tokenizer import TextTokenizer
from llmops_model_server.training.tokenizer_training import EOS_TOKEN

from tests.unit.model_server.tiny import TINY_GPT, write_gpt_dir

PROMPT = "The Light of the Sun"


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> TextGenerator:
    folder = write_gpt_dir(tmp_path_factory.mktemp("gpt"))
    return TextGenerator(load_gpt(folder), TextTokenizer.from_dir(folder, eos_token=EOS_TOKEN))


def req(prompt: str = PROMPT, max_tokens: int = 12, seed: int | None = 7, **kw: object) -> GenerationRequest:
    temperature = float(kw.pop("temperature", 1.0))  # type: ignore[arg-type]
    top_p = float(kw.pop("top_p", 1.0))  # type: ignore[arg-type]
    return GenerationRequest(prompt, max_tokens, SamplingParams(temperature, top_p, seed), **kw)  # type: ignore[arg-type]


def test_max_tokens_is_the_budget(generator: TextGenerator) -> None:
    [result] = generator.generate([req(max_tokens=9, temperature=1.0)])
    assert result.finish_reason in ("length", "stop")
    if result.finish_reason == "length":
        assert result.completion_tokens == 9
    assert result.completion_tokens <= 9


def test_token_counts_match_the_tokenizer(generator: TextGenerator) -> None:
    [result] = generator.generate([req(max_tokens=10)])
    assert result.prompt_tokens == len(generator.tokenizer.encode(PROMPT))
    if result.finish_reason == "length":
        assert len(generator.tokenizer.encode(result.text)) <= result.completion_tokens + 2  # re-merges may shorten


def test_zero_tokens_returns_nothing(generator: TextGenerator) -> None:
    [result] = generator.generate([req(max_tokens=0)])
    assert (result.text, result.completion_tokens, result.finish_reason) == ("", 0, "length")


def test_same_seed_same_text_alone_or_in_a_batch(generator: TextGenerator) -> None:
    [alone] = generator.generate([req(seed=11)])
    batch = generator.generate([req("Colours", seed=1), req(seed=11), req("x" * 30, max_tokens=3, seed=2)])
    assert batch[1] == alone
    assert generator.generate([req(seed=12)])[0].text != alone.text or alone.text == ""


def test_greedy_ignores_the_seed(generator: TextGenerator) -> None:
    a = generator.generate([req(temperature=0.0, seed=1)])[0]
    b = generator.generate([req(temperature=0.0, seed=2)])[0]
    assert a == b


def test_stop_sequence_cuts_the_text_before_it(generator: TextGenerator) -> None:
    [free] = generator.generate([req(max_tokens=20, temperature=0.0)])
    assert len(free.text) > 4, free
    stop = free.text[3:5]
    [stopped] = generator.generate([req(max_tokens=20, temperature=0.0, stop=(stop,))])
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.find(stop)]
    assert stopped.completion_tokens < free.completion_tokens or free.finish_reason == "stop"


def test_earliest_of_several_stops_wins(generator: TextGenerator) -> None:
    [free] = generator.generate([req(max_tokens=20, temperature=0.0)])
    late, early = free.text[6:8], free.text[2:4]
    [stopped] = generator.generate([req(max_tokens=20, temperature=0.0, stop=(late, early))])
    assert stopped.text == free.text[: free.text.find(early)]


def test_empty_prompt_starts_from_end_of_text(generator: TextGenerator) -> None:
    [result] = generator.generate([req("", max_tokens=5)])
    assert result.prompt_tokens == 1
    assert result.completion_tokens <= 5


def test_a_prompt_longer_than_the_context_keeps_its_end(generator: TextGenerator) -> None:
    [result] = generator.generate([req("Light " * 200, max_tokens=30)])
    assert result.prompt_tokens == TINY_GPT.n_positions - 1
    assert result.completion_tokens <= 1


def test_stream_concatenates_to_the_completion(generator: TextGenerator) -> None:
    request = req(max_tokens=15, seed=5)
    [whole] = generator.generate([request])
    stream = generator.stream(request)
    deltas = []
    while True:
        try:
            deltas.append(next(stream))
        except StopIteration as done:
            assert done.value == whole
            break
    assert "".join(deltas) == whole.text
    assert all(deltas)


def test_stream_never_shows_a_stop_sequence(generator: TextGenerator) -> None:
    [free] = generator.generate([req(max_tokens=20, temperature=0.0)])
    stop = free.text[5:8]
    shown = "".join(generator.stream(req(max_tokens=20, temperature=0.0, stop=(stop,))))
    assert stop not in shown
    assert shown == free.text[: free.text.find(stop)]


def test_invalid_requests_are_rejected() -> None:
    with pytest.raises(ValueError):
        GenerationRequest("x", max_tokens=-1)
    with pytest.raises(ValueError):
        GenerationRequest("x", stop=("",))


def test_end_of_text_finishes_with_stop(tmp_path: Path) -> None:
    folder = write_gpt_dir(tmp_path)
    model = load_gpt(folder)
    model.lm_head_t[:, :] = 0.0
    model.lm_head_t[:, 0] = 1.0  # every hidden state scores end-of-text highest (ln_f output is non-zero)
    model.ln_f_b[:] = 1.0
    model.ln_f_w[:] = 0.0
    generator = TextGenerator(model, TextTokenizer.from_dir(folder, eos_token=EOS_TOKEN))
    [result] = generator.generate([req(temperature=0.0)])
    assert (result.text, result.completion_tokens, result.finish_reason) == ("", 0, "stop")
