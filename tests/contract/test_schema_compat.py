"""The backward-compatibility checker flags breaking changes, passes compatible ones, and the real
generated schemas are compatible with the committed ones."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from llmops_schemas import compat
from llmops_schemas.compat import Incompatibility, compare_schema_sets, compare_schemas, load_directory, load_git
from llmops_schemas.jsonschema import DEFAULT_DIR, generate
from pydantic import BaseModel, ConfigDict, Field

OLD: dict[str, Any] = {
    "$defs": {
        "Usage": {
            "type": "object",
            "properties": {"prompt_tokens": {"type": "integer"}, "model": {"type": "string"}},
            "required": ["prompt_tokens"],
        },
        "Node": {
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
        },
    },
    "type": "object",
    "x-llmops-topic": "llmops.calls.recorded",
    "properties": {
        "call_id": {"type": "string", "maxLength": 128},
        "started_at": {"type": "string", "format": "date-time"},
        "status": {"type": "string", "enum": ["ok", "error"]},
        "output": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "usage": {"$ref": "#/$defs/Usage"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "tree": {"$ref": "#/$defs/Node"},
    },
    "required": ["call_id", "started_at"],
}


def changed(edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(OLD)
    edit(new)
    return new


def problems(new: dict[str, Any]) -> list[str]:
    return [f"{p.path}: {p.problem}" for p in compare_schemas(OLD, new, name="t.json")]


BREAKING: list[tuple[str, Any, str]] = [
    ("removed field", lambda s: s["properties"].pop("tags"), "$.tags: field removed"),
    ("removed nested field", lambda s: s["$defs"]["Usage"]["properties"].pop("model"), "$.usage.model: field removed"),
    ("retyped field", lambda s: s["properties"]["call_id"].update(type="integer"), '$.call_id: retyped: type "string"'),
    (
        "retyped nested",
        lambda s: s["$defs"]["Usage"]["properties"]["prompt_tokens"].update(type="number"),
        "usage.prompt_tokens: retyped",
    ),
    ("format changed", lambda s: s["properties"]["started_at"].update(format="date"), "$.started_at: retyped: format"),
    ("enum value removed", lambda s: s["properties"]["status"].update(enum=["ok"]), "$.status: retyped: enum"),
    (
        "enum value added",
        lambda s: s["properties"]["status"].update(enum=["ok", "error", "timeout"]),
        "$.status: retyped: enum",
    ),
    (
        "nullable dropped",
        lambda s: s["properties"].update(output={"type": "string"}),
        '$.output: retyped: no longer accepts "null"',
    ),
    (
        "union widened",
        lambda s: s["properties"]["output"]["anyOf"].append({"type": "integer"}),
        'now also accepts "integer"',
    ),
    ("array items retyped", lambda s: s["properties"]["tags"].update(items={"type": "integer"}), "$.tags[*]: retyped"),
    (
        "map values retyped",
        lambda s: s["properties"]["metadata"].update(additionalProperties={"type": "number"}),
        "$.metadata{*}: retyped",
    ),
    ("ref to another shape", lambda s: s["properties"].update(usage={"type": "string"}), "$.usage: retyped: type"),
    ("became required", lambda s: s["required"].append("output"), "$.output: field became required"),
    (
        "nested became required",
        lambda s: s["$defs"]["Usage"]["required"].append("model"),
        "$.usage.model: field became required",
    ),
    ("no longer required", lambda s: s["required"].remove("started_at"), "$.started_at: field is no longer required"),
    (
        "new required field",
        lambda s: (s["properties"].update(app={"type": "string"}), s["required"].append("app")),
        "$.app: new required field",
    ),
    (
        "recursive model changed",
        lambda s: (
            s["$defs"]["Node"]["properties"].update(name={"type": "string"})
            or s["$defs"]["Node"].update(required=["name"])
        ),
        "$.tree.name: new required field",
    ),
    ("topic moved", lambda s: s.update({"x-llmops-topic": "llmops.calls.raw"}), "$: topic changed"),
]


@pytest.mark.parametrize(("edit", "expected"), [(e, x) for _, e, x in BREAKING], ids=[n for n, _, _ in BREAKING])
def test_breaking_changes_are_flagged(edit: Any, expected: str) -> None:
    found = problems(changed(edit))
    assert any(expected in p for p in found), f"expected {expected!r} in {found}"


COMPATIBLE: list[tuple[str, Any]] = [
    ("nothing changed", lambda s: None),
    (
        "optional field added",
        lambda s: s["properties"].update(region={"anyOf": [{"type": "string"}, {"type": "null"}]}),
    ),
    ("optional nested field added", lambda s: s["$defs"]["Usage"]["properties"].update(cached={"type": "integer"})),
    (
        "description and title changed",
        lambda s: s["properties"]["call_id"].update(description="Idempotency key", title="Id"),
    ),
    ("constraint relaxed", lambda s: s["properties"]["call_id"].update(maxLength=256)),
    ("default changed", lambda s: s["properties"]["output"].update(default="")),
    (
        "model renamed",
        lambda s: (
            s["$defs"].update(TokenUsage=s["$defs"].pop("Usage")),
            s["properties"]["usage"].update({"$ref": "#/$defs/TokenUsage"}),
        ),
    ),
    ("union members reordered", lambda s: s["properties"]["output"]["anyOf"].reverse()),
]


@pytest.mark.parametrize("edit", [e for _, e in COMPATIBLE], ids=[n for n, _ in COMPATIBLE])
def test_compatible_changes_pass(edit: Any) -> None:
    assert problems(changed(edit)) == []


# --- on schemas pydantic generates ----------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SettingsA(Strict):
    kind: Literal["a"] = "a"
    size: int


class SettingsB(Strict):
    kind: Literal["b"] = "b"
    name: str


class SettingsC(Strict):
    kind: Literal["c"] = "c"


class V1(Strict):
    id: str
    score: float
    note: str | None = None
    settings: Annotated[SettingsA | SettingsB, Field(discriminator="kind")]


class V1Compatible(Strict):
    id: str = Field(description="now documented")
    score: float
    note: str | None = None
    extra_note: str | None = None
    settings: Annotated[SettingsA | SettingsB, Field(discriminator="kind")]


class V1NewKind(Strict):
    id: str
    score: float
    note: str | None = None
    settings: Annotated[SettingsA | SettingsB | SettingsC, Field(discriminator="kind")]


class V1Retyped(Strict):
    id: str
    score: int
    note: str | None = None
    settings: Annotated[SettingsA | SettingsB, Field(discriminator="kind")]


class V1NoteRequired(Strict):
    id: str
    score: float
    note: str
    settings: Annotated[SettingsA | SettingsB, Field(discriminator="kind")]


def test_pydantic_generated_pairs() -> None:
    old = V1.model_json_schema()
    assert compare_schemas(old, V1Compatible.model_json_schema()) == []
    assert [p.path for p in compare_schemas(old, V1Retyped.model_json_schema())] == ["$.score"]
    assert any(
        'now also accepts object(kind="c")' in p.problem for p in compare_schemas(old, V1NewKind.model_json_schema())
    )
    required = compare_schemas(old, V1NoteRequired.model_json_schema())
    assert {p.path for p in required} == {"$.note"}
    assert any("became required" in p.problem for p in required)


def test_removed_schema_file_is_breaking_and_index_is_skipped() -> None:
    old = {"a.json": OLD, "b.json": OLD, "index.json": {"events": {}}}
    assert compare_schema_sets(old, {"a.json": OLD, "b.json": OLD, "c.json": {}}) == []
    assert compare_schema_sets(old, {"a.json": OLD}) == [
        Incompatibility("b.json", "$", "schema removed (the event type is still in use)")
    ]


# --- the real schemas -------------------------------------------------------------------------------


def test_generated_schemas_are_compatible_with_the_committed_ones() -> None:
    found = compare_schema_sets(load_directory(DEFAULT_DIR), generate())
    assert not found, "breaking schema changes (add a new version instead):\n" + "\n".join(map(str, found))


def test_every_real_schema_is_compatible_with_itself_and_not_with_a_field_removed() -> None:
    for name, schema in generate().items():
        if name == "index.json":
            continue
        assert compare_schemas(schema, schema) == [], name
        props = schema["properties"]
        broken = copy.deepcopy(schema)
        field = sorted(props)[0]
        del broken["properties"][field]
        assert any(p.problem == "field removed" for p in compare_schemas(schema, broken)), name


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert compat.main([]) == 0
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(changed(lambda s: s["properties"].pop("tags"))))
    capsys.readouterr()
    assert compat.main(["--old", str(old), "--new", str(new)]) == 1
    assert "new.json: $.tags: field removed" in capsys.readouterr().err
    assert compat.main(["--old", str(old), "--new", str(old)]) == 0

    directory = tmp_path / "committed"
    directory.mkdir()
    (directory / "llmops.call.recorded.v1.json").write_text(json.dumps(OLD))
    assert compat.main(["--committed", str(directory)]) == 1
    assert "llmops.call.recorded.v1.json" in capsys.readouterr().err


def test_load_git_reads_the_schemas_committed_at_a_ref(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    directory = tmp_path / "schemas" / "json"
    directory.mkdir(parents=True)
    (directory / "a.json").write_text(json.dumps(OLD))
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "schemas")
    (directory / "a.json").write_text("{}")
    (directory / "b.json").write_text("{}")
    assert load_git("HEAD", directory) == {"a.json": OLD}
    assert load_git("HEAD", tmp_path / "schemas" / "nothing-here") == {}
    with pytest.raises(RuntimeError, match="no-such-ref"):
        load_git("no-such-ref", directory)
