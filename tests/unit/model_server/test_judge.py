"""The deterministic judge model: tagged rubric texts in, a score or a preference as text out, on the real MiniLM."""

from __future__ import annotations

import numpy as np
import pytest
from llmops_model_server.build import embedder_source_dir
from llmops_model_server.models.embedder import load_embedder
from llmops_model_server.models.judge import NO_ANSWER, RubricJudge, sections
from llmops_model_server.serving import judge_infer
from pytriton.proxy.types import Request

QUESTION = "<question>When does my parcel leave the depot?</question>"
CONTEXT = "<context>Parcels leave the depot every morning at nine.</context>"
GOOD = "<answer>Your parcel leaves the depot at nine in the morning.</answer>"
BAD = "<answer>Bananas are rich in potassium.</answer>"


@pytest.fixture(scope="module")
def judge() -> RubricJudge:
    return RubricJudge(load_embedder(embedder_source_dir()))


def score(text: str) -> int:
    assert text.startswith("Score: ") and "/5\nReason: " in text, text
    return int(text.split("/")[0].removeprefix("Score: "))


def test_sections_are_the_first_of_each_tag_case_insensitively() -> None:
    found = sections("System: x\nUser: <Question> q </Question><answer>a</answer><answer>b</answer>\nAssistant:")
    assert found == {"question": "q", "answer": "a"}


def test_a_grounded_relevant_answer_scores_above_an_unrelated_one(judge: RubricJudge) -> None:
    good, bad, empty = judge.judge(
        [QUESTION + CONTEXT + GOOD, QUESTION + CONTEXT + BAD, QUESTION + "<answer></answer>"]
    )
    assert score(good.text) >= 4 and score(bad.text) <= 2 and score(empty.text) == 1
    assert good.prompt_tokens > 0 and good.completion_tokens == len(good.text.split())


def test_the_same_prompt_gets_the_same_text_in_any_batch(judge: RubricJudge) -> None:
    alone = judge.judge([QUESTION + GOOD])[0]
    batched = judge.judge([QUESTION + BAD, QUESTION + GOOD, CONTEXT + GOOD])[1]
    assert alone == batched


def test_two_answers_get_a_preference_in_either_order(judge: RubricJudge) -> None:
    a_good = QUESTION + CONTEXT + GOOD.replace("answer>", "answer_a>") + BAD.replace("answer>", "answer_b>")
    b_good = QUESTION + CONTEXT + BAD.replace("answer>", "answer_a>") + GOOD.replace("answer>", "answer_b>")
    same = QUESTION + GOOD.replace("answer>", "answer_a>") + GOOD.replace("answer>", "answer_b>")
    first, second, tie = (v.text.splitlines()[0] for v in judge.judge([a_good, b_good, same]))
    assert (first, second, tie) == ("Preferred: A", "Preferred: B", "Preferred: tie")


def test_a_rubric_without_an_answer_gets_no_score(judge: RubricJudge) -> None:
    assert judge.judge(["Rate this: it is fine."])[0].text == NO_ANSWER


def test_the_triton_binding_answers_every_row_of_every_request(judge: RubricJudge) -> None:
    def request(*prompts: str) -> Request:
        return Request(data={"prompt": np.array([[p.encode()] for p in prompts], dtype=object)})

    first, second = judge_infer(judge)([request(QUESTION + GOOD, "nothing"), request(QUESTION + BAD)])
    assert [t.decode().split("\n")[0] for t in first["text"].reshape(-1)][1] == NO_ANSWER
    assert first["text"].shape == (2, 1) and second["finish_reason"].reshape(-1).tolist() == [b"stop"]
    assert second["completion_tokens"].dtype == np.int32
