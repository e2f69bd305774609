"""Dataset examples from JSONL: every line checked on its own, so one broken line never loses the others.

A line is a JSON object with ``input`` (required), and optionally ``id``, ``expected``, ``context`` (a string
or a list of passages), ``variables``, ``tags``, ``pair_group``, ``pair_label`` and ``source_call_id`` (the
stored call the example comes from). A line that is not UTF-8,
not JSON, not an object, breaks a bound, or repeats an earlier line's id is reported with its number and the
reason; the valid lines are imported. The version's digest is SHA-256 of the examples' canonical JSON in order,
so the same content always has the same digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any

from llmops_schemas.v1.runs import MAX_EXAMPLE_CHARS
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

__all__ = ["ExampleIn", "LineError", "ParsedDataset", "dataset_digest", "example_id_of", "parse_jsonl"]

_Text = Annotated[str, StringConstraints(max_length=MAX_EXAMPLE_CHARS)]
_SlugText = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
_CallId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]
_MAX_ERRORS = 100


class ExampleIn(BaseModel):
    """One example as uploaded (a JSONL line) or built from a stored call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: _SlugText | None = None
    input: Annotated[str, StringConstraints(min_length=1, max_length=MAX_EXAMPLE_CHARS)]
    expected: _Text | None = None
    context: Annotated[list[_Text], Field(max_length=32)] = Field(default_factory=list)
    variables: Annotated[dict[_SlugText, _Text], Field(max_length=32)] = Field(default_factory=dict)
    tags: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=128)]], Field(max_length=64)] = (
        Field(default_factory=list)
    )
    pair_group: _SlugText | None = None
    pair_label: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    source_call_id: _CallId | None = None

    @field_validator("context", mode="before")
    @classmethod
    def _one_passage(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("context")
    @classmethod
    def _context_bounded(cls, value: list[str]) -> list[str]:
        if sum(len(p) for p in value) > MAX_EXAMPLE_CHARS:
            raise ValueError(f"the context passages together exceed {MAX_EXAMPLE_CHARS} characters")
        return value


@dataclass(frozen=True, slots=True)
class LineError:
    """Why line ``line`` (1-based) was not imported."""

    line: int
    error: str


@dataclass
class ParsedDataset:
    """The valid examples with their ids, in order, and the lines refused (at most the first 100 listed)."""

    examples: list[tuple[str, ExampleIn]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    refused: int = 0

    def refuse(self, line: int, error: str) -> None:
        self.refused += 1
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(LineError(line, error))


def _canonical(example: ExampleIn) -> str:
    data = example.model_dump(exclude={"id"}, exclude_defaults=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def example_id_of(example: ExampleIn) -> str:
    """The uploaded id, else a digest of the content (the same example keeps its id in every version)."""
    return example.id or f"ex-{hashlib.sha256(_canonical(example).encode()).hexdigest()[:16]}"


def dataset_digest(examples: list[tuple[str, ExampleIn]]) -> str:
    """SHA-256 over the examples' ids and canonical JSON, in order."""
    digest = hashlib.sha256()
    for example_id, example in examples:
        digest.update(f"{example_id}\x1f{_canonical(example)}\n".encode())
    return digest.hexdigest()


def _error_of(exc: ValidationError) -> str:
    """Every problem of the line, each prefixed with the field it is about (none: the line as a whole)."""
    return "; ".join(
        ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" if e["loc"] else e["msg"]
        for e in exc.errors(include_url=False)
    )


def add_example(parsed: ParsedDataset, seen: set[str], number: int, example: ExampleIn) -> None:
    """Append ``example`` unless its id repeats an earlier one's (then line ``number`` is refused)."""
    example_id = example_id_of(example)
    if example_id in seen:
        parsed.refuse(number, f"duplicate example id {example_id!r} (ids are unique within a dataset)")
        return
    seen.add(example_id)
    parsed.examples.append((example_id, example))


def parse_jsonl(body: bytes, *, max_examples: int) -> ParsedDataset:
    """The examples of a JSONL body (blank lines skipped); lines past ``max_examples`` valid ones are refused."""
    parsed = ParsedDataset()
    seen: set[str] = set()
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        if len(parsed.examples) >= max_examples:
            parsed.refuse(number, f"the dataset already has {max_examples} examples (the limit)")
            continue
        try:
            example = ExampleIn.model_validate_json(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            parsed.refuse(number, f"not UTF-8 (byte {exc.start})")
            continue
        except ValidationError as exc:
            parsed.refuse(number, _error_of(exc))
            continue
        add_example(parsed, seen, number, example)
    return parsed
