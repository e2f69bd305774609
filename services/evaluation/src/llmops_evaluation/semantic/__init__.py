"""Semantic evaluators (issue 9 §1): the answer judged through embeddings, ``EvaluatorRef.kind`` semantic.

| kind | metric: scale | passes when |
| --- | --- | --- |
| ``similarity`` | ``similarity``: cosine of the answer's and the reference's embeddings, -1..1 | >= min_similarity |
| ``groundedness`` | ``groundedness``: share of answer sentences the context supports, 0..1 | >= min_groundedness |
| | ``hallucination``: answer sentences the context does not support, named in the explanation | none |

They await the model server's ``embedder`` (through the gateway: :class:`~.gateway.GatewayEmbedder`), so
unlike the heuristics they are async: ``build_semantic(params)`` returns ``judge(answer, embedder)``, to run
where awaiting a model is bounded (concurrency, timeout) and a failure is recorded as the evaluator's. Without what
they judge against (no reference, an empty context) they yield no score, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping

from llmops_evaluation.semantic.base import Embedder
from llmops_evaluation.semantic.kinds import Groundedness, SemanticJudge, SemanticKind, Similarity

__all__ = ["SEMANTIC_KINDS", "Embedder", "Groundedness", "SemanticJudge", "SemanticKind", "Similarity"]

SEMANTIC_KINDS: Mapping[str, type[SemanticKind]] = {k.kind: k for k in (Similarity, Groundedness)}
"""Every semantic kind by name."""
