"""Backward-compatibility check of generated JSON Schemas against committed ones.

Within one version of an event type (one schema file) only additive, optional changes are allowed, so
that older consumers read newer events and newer consumers read older ones. The check reports:

* a field removed, or a field that stopped being required (older consumers require it);
* a field retyped: its ``type``, ``format``, ``const``/``enum`` values, the referenced model's shape,
  the members of a union (``anyOf``/``oneOf``), array items or map values changed;
* a field that became required, and a new required field (older producers do not send it);
* a schema file (an event type) that disappeared, or an event type moved to another topic.

A new optional field, a new event type and changes to descriptions, titles, defaults and size
constraints pass. A breaking change needs a new version of the event type (docs/events.md).

``uv run python -m llmops_schemas.compat`` compares the generated schemas with ``schemas/json``;
``--git-ref origin/main`` compares them with the files committed at that ref instead, which is what CI
should do (after ``--write`` the working tree always matches).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Incompatibility",
    "compare_schema_sets",
    "compare_schemas",
    "load_directory",
    "load_git",
    "main",
]

Schema = dict[str, Any]
SKIPPED_FILES = frozenset({"index.json"})
TYPE_KEYWORDS = ("type", "format", "const", "enum")


@dataclass(frozen=True, order=True)
class Incompatibility:
    """One breaking difference: in which file, at which field path, and what changed."""

    file: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.problem}"


def _show(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, sort_keys=True)


class _Comparison:
    def __init__(self, name: str, old: Schema, new: Schema) -> None:
        self.name = name
        self.old_defs: Mapping[str, Schema] = old.get("$defs", {})
        self.new_defs: Mapping[str, Schema] = new.get("$defs", {})
        self.seen: set[tuple[str, str]] = set()
        self.problems: list[Incompatibility] = []

    def report(self, path: str, problem: str) -> None:
        self.problems.append(Incompatibility(self.name, path, problem))

    @staticmethod
    def resolve(schema: Schema, defs: Mapping[str, Schema]) -> tuple[Schema, str | None]:
        """Follow ``$ref`` (and single-member ``allOf`` wrappers) to the schema they point at."""
        ref = None
        for _ in range(64):
            if "$ref" in schema:
                ref = schema["$ref"]
                prefix = "#/$defs/"
                if not ref.startswith(prefix) or ref[len(prefix) :] not in defs:
                    raise ValueError(f"unresolvable $ref {ref!r}")
                schema = defs[ref[len(prefix) :]]
            elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1 and "type" not in schema:
                schema = schema["allOf"][0]
            else:
                return schema, ref
        raise ValueError("$ref chain too long")

    @staticmethod
    def branches(schema: Schema) -> list[Schema] | None:
        for keyword in ("anyOf", "oneOf"):
            if isinstance(schema.get(keyword), list):
                return list(schema[keyword])
        return None

    def branch_keys(self, branches: list[Schema], defs: Mapping[str, Schema]) -> dict[str, Schema]:
        """Name each union member by what it accepts, so that old and new members can be paired."""
        keyed: dict[str, Schema] = {}
        for branch in branches:
            resolved, _ = self.resolve(branch, defs)
            kind = resolved.get("type")
            if kind == "object" or "properties" in resolved:
                tags = sorted(
                    f"{prop}={_show(sub['const'])}"
                    for prop, sub in resolved.get("properties", {}).items()
                    if isinstance(sub, dict) and "const" in sub
                )
                key = f"object({', '.join(tags)})" if tags else "object"
                if key in keyed:
                    key = f"{key} {resolved.get('title', len(keyed))}"
            elif kind is None:
                key = "any" if not resolved else f"untyped {_show(resolved)}"
            else:
                key = _show(kind) + (f" ({resolved['format']})" if "format" in resolved else "")
                if key in keyed:
                    key = f"{key} {_show(resolved.get('const', resolved.get('enum')))}"
            keyed[key] = branch
        return keyed

    def compare(self, path: str, old: Schema, new: Schema) -> None:
        old, old_ref = self.resolve(old, self.old_defs)
        new, new_ref = self.resolve(new, self.new_defs)
        if old_ref is not None and new_ref is not None:
            if (old_ref, new_ref) in self.seen:
                return
            self.seen.add((old_ref, new_ref))

        old_branches, new_branches = self.branches(old), self.branches(new)
        if old_branches is not None or new_branches is not None:
            old_keyed = self.branch_keys(old_branches or [old], self.old_defs)
            new_keyed = self.branch_keys(new_branches or [new], self.new_defs)
            for key in sorted(old_keyed.keys() - new_keyed.keys()):
                self.report(path, f"retyped: no longer accepts {key}")
            for key in sorted(new_keyed.keys() - old_keyed.keys()):
                self.report(path, f"retyped: now also accepts {key}, which older consumers reject")
            for key in sorted(old_keyed.keys() & new_keyed.keys()):
                self.compare(path, old_keyed[key], new_keyed[key])
            return

        retyped = False
        for keyword in TYPE_KEYWORDS:
            if old.get(keyword) != new.get(keyword):
                self.report(path, f"retyped: {keyword} {_show(old.get(keyword))} -> {_show(new.get(keyword))}")
                retyped = True
        if retyped:
            return

        self.compare_properties(path, old, new)
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict):
            if isinstance(new_extra, dict):
                self.compare(f"{path}{{*}}", old_extra, new_extra)
            elif new_extra is False:
                self.report(path, "retyped: no longer accepts arbitrary keys")
        if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
            self.compare(f"{path}[*]", old["items"], new["items"])
        elif ("items" in old) != ("items" in new):
            self.report(path, "retyped: array items changed")

    def compare_properties(self, path: str, old: Schema, new: Schema) -> None:
        old_props: Mapping[str, Schema] = old.get("properties", {})
        new_props: Mapping[str, Schema] = new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in sorted(old_props):
            field = f"{path}.{name}"
            if name not in new_props:
                self.report(field, "field removed")
                continue
            if name not in old_required and name in new_required:
                self.report(field, "field became required (older producers may omit it)")
            if name in old_required and name not in new_required:
                self.report(field, "field is no longer required (older consumers require it)")
            self.compare(field, old_props[name], new_props[name])
        for name in sorted(new_props.keys() - old_props.keys()):
            if name in new_required:
                self.report(f"{path}.{name}", "new required field (older producers do not send it)")


def compare_schemas(old: Schema, new: Schema, *, name: str = "schema") -> list[Incompatibility]:
    """The breaking differences of ``new`` from ``old`` (empty when ``new`` is compatible)."""
    comparison = _Comparison(name, old, new)
    if old.get("x-llmops-topic") != new.get("x-llmops-topic"):
        comparison.report(
            "$", f"topic changed: {_show(old.get('x-llmops-topic'))} -> {_show(new.get('x-llmops-topic'))}"
        )
    comparison.compare("$", old, new)
    return comparison.problems


def compare_schema_sets(old: Mapping[str, Schema], new: Mapping[str, Schema]) -> list[Incompatibility]:
    """Compare two sets of schema files by name; a file that disappeared is itself incompatible."""
    problems: list[Incompatibility] = []
    for name in sorted(old):
        if name in SKIPPED_FILES:
            continue
        if name not in new:
            problems.append(Incompatibility(name, "$", "schema removed (the event type is still in use)"))
            continue
        problems.extend(compare_schemas(old[name], new[name], name=name))
    return problems


def load_directory(directory: Path) -> dict[str, Schema]:
    """Every ``*.json`` schema of ``directory``, by file name."""
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))}


def load_git(ref: str, directory: Path) -> dict[str, Schema]:
    """Every ``*.json`` schema of ``directory`` as committed at ``ref`` (none if it did not exist then)."""
    root = Path(_git("rev-parse", "--show-toplevel", cwd=directory.parent).strip())
    relative = directory.resolve().relative_to(root.resolve()).as_posix()
    _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=root)
    listing = _git("ls-tree", "--name-only", ref, "--", f"{relative}/", cwd=root)
    names = [line.rsplit("/", 1)[-1] for line in listing.split()]
    return {
        name: json.loads(_git("show", f"{ref}:{relative}/{name}", cwd=root))
        for name in sorted(names)
        if name.endswith(".json")
    }


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603, S607
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def main(argv: Sequence[str] | None = None) -> int:
    from llmops_schemas.jsonschema import DEFAULT_DIR, generate

    parser = argparse.ArgumentParser(prog="python -m llmops_schemas.compat", description=__doc__.split("\n")[0])
    parser.add_argument("--committed", type=Path, default=DEFAULT_DIR, help=f"schema directory (default {DEFAULT_DIR})")
    parser.add_argument("--git-ref", help="compare with the schemas committed at this git ref instead")
    parser.add_argument("--old", type=Path, help="compare two single schema files: the old one ...")
    parser.add_argument("--new", type=Path, help="... and the new one")
    args = parser.parse_args(argv)

    if (args.old is None) != (args.new is None):
        parser.error("--old and --new go together")
    if args.old is not None:
        old = json.loads(args.old.read_text(encoding="utf-8"))
        new = json.loads(args.new.read_text(encoding="utf-8"))
        problems = compare_schemas(old, new, name=args.new.name)
        baseline = str(args.old)
    else:
        try:
            committed = load_git(args.git_ref, args.committed) if args.git_ref else load_directory(args.committed)
        except (RuntimeError, OSError, ValueError) as exc:
            print(f"cannot read the committed schemas: {exc}", file=sys.stderr)
            return 2
        baseline = f"{args.git_ref}:{args.committed}" if args.git_ref else str(args.committed)
        problems = compare_schema_sets(committed, generate())

    if not problems:
        print(f"schemas are backward compatible with {baseline}")
        return 0
    print(f"{len(problems)} breaking change(s) against {baseline}:", file=sys.stderr)
    for problem in problems:
        print(f"- {problem}", file=sys.stderr)
    print("A breaking change needs a new event version and an upcaster (docs/events.md).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
