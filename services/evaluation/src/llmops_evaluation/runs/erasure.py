"""What erasure finds in the evaluation service's compacted state (docs/adr/0044, docs/governance.md).

Only dataset examples hold subject data: the input, reference answer and context of a call an example was made
from (``source_call_id``, or the ``call:<id>`` tag of examples made before it), and whatever an uploaded example
says. Evaluator configurations, verdict policies, runs (counts and example ids) and replays (filters and
cursors) hold none. An example is matched by the call it was made from, or by an e-mail address or a keyed hash
found in its text; a user or session id is matched through the calls the warehouse erased for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from llmops_kit.erasure import Held, names_subject
from llmops_schemas.v1.runs import DatasetExampleAdded
from llmops_schemas.v2.erasure import ErasureSubjectType

from llmops_evaluation.runs.stores import DatasetStore

__all__ = ["DatasetErasure"]

STORE = "dataset_examples"


def _source_call(example: DatasetExampleAdded) -> str | None:
    if example.source_call_id:
        return example.source_call_id
    tagged = [tag.removeprefix("call:") for tag in example.tags if tag.startswith("call:")]
    return tagged[0] if tagged else None


def _texts(example: DatasetExampleAdded) -> Iterable[str]:
    yield example.input
    if example.expected is not None:
        yield example.expected
    yield from example.context
    yield from (str(value) for value in example.variables.values())


class DatasetErasure:
    """The :class:`~llmops_kit.erasure.ErasableState` of the datasets' topic."""

    stores: tuple[str, ...] = (STORE,)

    def __init__(self, datasets: DatasetStore) -> None:
        self._datasets = datasets

    @property
    def caught_up(self) -> bool:
        return self._datasets.caught_up

    def holding_subject(self, tenant: str, subject_type: ErasureSubjectType, value: str) -> list[Held]:
        examples = self._datasets.examples_of(tenant)
        return self._held(k for k, e in examples if names_subject(subject_type, value, _source_call(e), _texts(e)))

    def holding_calls(self, tenant: str, call_ids: frozenset[str]) -> list[Held]:
        return self._held(k for k, e in self._datasets.examples_of(tenant) if _source_call(e) in call_ids)

    def forget(self, tenant: str, held: Sequence[Held]) -> None:
        for record in held:
            self._datasets.delete(record.key)

    def _held(self, keys: Iterable[str]) -> list[Held]:
        return [Held(STORE, DatasetExampleAdded.topic, key) for key in keys]
