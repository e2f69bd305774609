"""Replay (issue 9 §4): re-score stored calls with new evaluators or versions, beside production, resumable.

:mod:`~llmops_evaluation.replay.sources` reads the calls (the warehouse's query API, or an offset range of
``llmops.calls.recorded`` with a reader of its own), :mod:`~llmops_evaluation.replay.runner` judges them in
batches under a rate limit and checkpoints after each batch's scores, :mod:`~llmops_evaluation.replay.manager`
starts, resumes and cancels replays, :mod:`~llmops_evaluation.replay.http` is their API (docs/adr/0029).
"""
