"""Sandboxed rendering: variables and defaults, StrictUndefined, and what the sandbox refuses."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest
from llmops_inference.prompts.errors import MissingVariables, TemplateError
from llmops_inference.prompts.resolve import render
from llmops_inference.prompts.templating import MAX_REPEAT, referenced_variables, template_problems
from llmops_schemas.v1 import PromptMessage, PromptVersionPublished


def version(*contents: str, variables: list[dict[str, Any]] | None = None) -> PromptVersionPublished:
    return PromptVersionPublished.model_validate(
        {
            "name": "support-answer",
            "version": 3,
            "template": [{"role": "system" if i == 0 else "user", "content": c} for i, c in enumerate(contents)],
            "variables": variables if variables is not None else [],
            "created_by": "alice",
            "created_at": "2026-03-01T12:00:00Z",
        }
    )


SUPPORT = version(
    "You answer questions about orders for {{ shop }}.",
    "{{question}}",
    variables=[{"name": "shop", "default": "Acme"}, {"name": "question"}],
)


def test_renders_given_values_over_defaults() -> None:
    rendered = render(SUPPORT, {"question": "Where is my parcel?"}, label="production")
    assert [(m.role, m.content) for m in rendered.messages] == [
        ("system", "You answer questions about orders for Acme."),
        ("user", "Where is my parcel?"),
    ]
    assert rendered.ref.model_dump() == {"name": "support-answer", "version": 3, "label": "production"}

    other = render(SUPPORT, {"question": "Hi", "shop": "Globex"}, label=None)
    assert other.messages[0].content == "You answer questions about orders for Globex."


def test_values_are_data_never_templates() -> None:
    rendered = render(SUPPORT, {"question": "{{ shop.__class__ }} {% raw %}"}, label=None)
    assert rendered.messages[1].content == "{{ shop.__class__ }} {% raw %}"


def test_undeclared_values_are_ignored_and_reported() -> None:
    rendered = render(SUPPORT, {"question": "Hi", "tone": "formal"}, label=None)
    assert rendered.ignored_variables == ["tone"]


def test_missing_variables_are_all_named_with_a_422() -> None:
    prompt = version("{{ a }} {{ b }} {{ c }}", variables=[{"name": "a"}, {"name": "b"}, {"name": "c", "default": "x"}])
    with pytest.raises(MissingVariables) as caught:
        render(prompt, {}, label=None)
    assert caught.value.status == 422
    assert caught.value.missing == ["a", "b"]
    assert caught.value.detail == "prompt 'support-answer' version 3 needs variables: a, b"


def test_strict_undefined_refuses_a_missing_key_instead_of_rendering_a_hole() -> None:
    prompt = version("Dear {{ customer.name }}", variables=[{"name": "customer"}])
    with pytest.raises(MissingVariables, match=r"template\[0\] \(system\): 'dict object' has no attribute 'name'"):
        render(prompt, {"customer": {"id": 7}}, label=None)
    rendered = render(prompt, {"customer": {"name": "Ada"}}, label=None)
    assert rendered.messages[0].content == "Dear Ada"


def test_jinja_control_structures_over_json_values() -> None:
    prompt = version(
        "{% for item in items %}- {{ item.sku }} x{{ item.qty }}\n{% endfor %}{% if vip %}VIP{% endif %}",
        variables=[{"name": "items"}, {"name": "vip", "default": ""}],
    )
    rendered = render(prompt, {"items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}], "vip": True}, label=None)
    assert rendered.messages[0].content == "- A1 x2\n- B2 x1\nVIP"


@pytest.mark.parametrize(
    ("template", "refusal"),
    [
        ("{{ ''.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
        ("{{ items.append(1) }}", "access to attribute 'append' of 'list' object is unsafe"),
        ("{{ items.__len__() }}", "unsafe"),
        ("{{ cycler.__init__.__globals__ }}", "unsafe"),
        ("{{ 'x' * 1000000000 }}", f"may not build strings or lists longer than {MAX_REPEAT:,}"),
        ("{{ 10 ** 100000000 }}", "'**' is limited"),
        # loop() would re-enter the body with an uncounted iterable: nested calls that print nothing never end.
        (
            "{% for i in items recursive %}{{ loop(items) }}{% endfor %}",
            "recursive for loops are not allowed in prompt templates",
        ),
    ],
)
def test_the_sandbox_refuses_unsafe_templates_with_a_4xx(template: str, refusal: str) -> None:
    prompt = version(template, variables=[{"name": "items", "default": ""}])
    with pytest.raises((TemplateError, MissingVariables)) as caught:
        render(prompt, {"items": [1, 2]}, label=None)
    assert 400 <= caught.value.status < 500
    assert refusal in caught.value.detail
    if "unsafe" in refusal or "limited" in refusal or "longer" in refusal:
        assert isinstance(caught.value, TemplateError)
        assert caught.value.status == 422


def test_referenced_variables_include_those_in_blocks_but_not_locals() -> None:
    source = "{{ a }}{% if b %}{% for x in c %}{{ x }}{% endfor %}{% endif %}{% set d = 1 %}{{ d }}"
    assert referenced_variables(source) == {"a", "b", "c"}


def test_template_problems_name_syntax_errors_and_undeclared_variables() -> None:
    messages = [
        PromptMessage(role="system", content="{% if tone %}Be {{ tone }}.{% endif %}"),
        PromptMessage(role="user", content="{{ question"),
        PromptMessage(role="user", content="{{ question }}"),
    ]
    problems = template_problems(messages, ["question"])
    assert problems[0] == "template[0] (system) uses undeclared variables: tone"
    assert problems[1].startswith("template[1] (user), line 1: unexpected end of template")
    assert len(problems) == 2
    assert template_problems(messages[2:], ["question"]) == []


def test_a_rendered_message_is_capped() -> None:
    prompt = version("{% for i in range(100000) %}{{ chunk }}{% endfor %}", variables=[{"name": "chunk"}])
    with pytest.raises(TemplateError, match="exceeds 1,000,000 characters"):
        render(prompt, {"chunk": "x" * 20}, label=None)


@pytest.mark.parametrize(
    ("template", "refusal"),
    [
        pytest.param('{{ "x"|center(10**9) }}', "center would be over 1,000,000 characters", id="center-filter"),
        pytest.param('{{ "x".center(10**9) }}', "str.center() would be over 1,000,000", id="center-method"),
        pytest.param('{{ "x".zfill(10**9) }}', "str.zfill() would be over 1,000,000", id="zfill-method"),
        pytest.param('{{ "%999999999s"|format(1) }}', "formatted string would be over 1,000,000", id="format-filter"),
        pytest.param('{{ "%.999999999f" % 1.0 }}', "formatted string would be over 1,000,000", id="percent"),
        pytest.param('{{ "%*s" % (10**9, 1) }}', "'*' widths are not allowed", id="percent-star"),
        pytest.param('{{ "{:>{w}}".format(1, w=10**9) }}', "formatted string would be over", id="str-format"),
        pytest.param('{{ "a" * 10**9 }}', "'*' may not build strings or lists longer than 100,000", id="repeat"),
        pytest.param("{{ [[1] * 99999] * 99999 }}", "'*' would be over 1,000,000", id="nested-repeat"),
        pytest.param('{{ range(99999)|join("x" * 99999) }}', "join would be over 1,000,000", id="join"),
        pytest.param('{{ "x"|indent(10**9, true) }}', "indent would be over 1,000,000", id="indent"),
        pytest.param("{{ [1]|batch(10**9, 0)|list }}", "at most 100,000 parts", id="batch"),
        pytest.param(
            '{% set a = "x" * 99999 %}{{ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a }}', "'~' would be over", id="tilde"
        ),
        pytest.param(
            '{% set ns = namespace(s="x" * 99999) %}{% for i in range(20) %}{% set ns.s = ns.s + ns.s %}{% endfor %}',
            "'+' would be over 1,000,000",
            id="doubling",
        ),
        pytest.param(
            '{% macro m() %}{% for i in range(99999) %}{{ "x" * 99999 }}{% endfor %}{% endmacro %}{{ m() }}',
            "a block's output would be over 1,000,000",
            id="macro-buffer",
        ),
        pytest.param(
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            "loops and macro calls ran over 100,000 iterations",
            id="silent-loops",
        ),
        pytest.param('{{ "x".translate({120: "y" * 99999}) }}', "str.translate() is not allowed", id="translate"),
        # Markup's methods are Python functions, not builtins: they are checked before they allocate too.
        pytest.param(
            '{{ (("x" * 10000)|safe).join(range(3000)|map("string")) }}', "str.join() would be over", id="markup-join"
        ),
        pytest.param('{{ ("x"|safe).center(10**9) }}', "str.center() would be over 1,000,000", id="markup-center"),
        pytest.param(
            '{{ (("x" * 99999)|safe).replace("x", "y" * 99999) }}', "str.replace() would be over", id="markup-replace"
        ),
        # Macros that recurse in two branches and print nothing: 2**40 calls unless each call is counted.
        pytest.param(
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
            "loops and macro calls ran over 100,000 iterations",
            id="macro-fan-out",
        ),
    ],
)
def test_sizes_are_bounded_while_rendering_not_after(template: str, refusal: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as caught:
            render(version(template), {}, label=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.status == 422
    assert refusal in caught.value.detail
    assert peak < 64 * 1024 * 1024, f"refused only after allocating {peak:,} bytes"


def test_bounded_templates_still_render_what_prompts_use() -> None:
    prompt = version(
        '{{ "%-6s|" % name }}{{ "{:>5}".format(n) }} {{ name|center(9) }} {{ items|join(", ") }} {{ "=" * 3 }}'
        "{% macro row(it) %}[{{ it|string }}]{% endmacro %}{% for it in items %}{{ row(it) }}{% endfor %}"
        '{{ (name ~ "!")|replace("!", "?") }}{{ items|tojson }}',
        variables=[{"name": "name"}, {"name": "n"}, {"name": "items"}],
    )
    rendered = render(prompt, {"name": "Ada", "n": 42, "items": ["a", "b"]}, label=None)
    assert rendered.messages[0].content == 'Ada   |   42    Ada    a, b ===[a][b]Ada?["a", "b"]'


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{ "a b c d"|wordwrap(width=3, break_long_words=false, wrapstring="/") }}', "a b/c d"),
        ("{{ [1, 2, 3]|batch(linecount=2)|list }}", "[[1, 2], [3]]"),
        ("{{ [1, 2, 3]|slice(slices=2)|list }}", "[[1, 2], [3]]"),
        ('{{ "x\\ny"|indent(width=2, first=true) }}', "  x\n  y"),
        ('{{ "aa"|replace("a", "b", count=1) }}', "ba"),
        ("{{ [1, 2]|sum(start=3) }}", "6"),
        ('{{ ["a", "b"]|join(d="-") }}', "a-b"),
        ('{{ "%(n)05d"|format(n=42) }}', "00042"),
    ],
)
def test_the_bounded_filters_keep_their_keyword_arguments(template: str, expected: str) -> None:
    assert render(version(template), {}, label=None).messages[0].content == expected
