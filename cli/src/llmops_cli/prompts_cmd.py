"""`llmops prompts`: the prompt registry of the inference gateway (create, list, show, diff, label, roll back).

Also home of what `llmops experiments` shares with it: the gateway's URL and admin-key options and a small
client. Exit codes: 0 success; 1 the gateway failed or could not be reached; 2 bad input (a file that is not a
valid definition, or a request the gateway refused with a 4xx, e.g. 409 for a version that exists with
other content).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
import yaml
from rich.markup import escape
from rich.table import Table

from llmops_cli.client import ApiError
from llmops_cli.config import data_dir, read_credentials, read_running_state
from llmops_cli.context import CliContext, cli_context

__all__ = [
    "DEFAULT_INFERENCE_URL",
    "AdminKey",
    "GatewayClient",
    "InferenceUrl",
    "Json",
    "gateway",
    "prompts_app",
    "service_client",
    "table",
]

DEFAULT_INFERENCE_URL = "http://127.0.0.1:8003"

prompts_app = typer.Typer(help="Versioned prompts: create, list, show, diff, label, roll back.", no_args_is_help=True)

InferenceUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_INFERENCE_URL",
        help=f"Inference gateway base URL (default: that of a running `llmops up`, else {DEFAULT_INFERENCE_URL})",
        show_default=False,
    ),
]
AdminKey = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_API_KEY",
        help="API key; changes need an admin key (default: the admin key `llmops up` created)",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer instead of a table")]
Reason = Annotated[str | None, typer.Option(help="Why (kept in the label's record and the audit trail)")]


class GatewayClient:
    """JSON over HTTP to the gateway's admin API; every failure is an :class:`ApiError` saying what and why."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        what: str = "the inference gateway",
    ) -> None:
        self._what = what
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=30.0, transport=transport)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """``(status, body)`` of a successful answer; raises ``ApiError`` for 4xx/5xx and network errors."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach {self._what} at {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            self._raise(method, path, response)
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed answer (read it with ``iter_lines``); an error status raises ``ApiError`` as ``call`` does."""
        try:
            with self._http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise(method, path, response)
                yield response
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach {self._what} at {self._http.base_url}: {exc}") from exc

    @staticmethod
    def _raise(method: str, path: str, response: httpx.Response) -> NoReturn:
        try:
            body = response.json()
        except ValueError:
            body = None
        detail = body.get("detail") if isinstance(body, dict) else None
        message = f"{method} {path}: {response.status_code} {detail or response.reason_phrase}"
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
            # A 422 of request validation: name the fields, not just "the request is not valid".
            fields = [f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}" for e in errors[:3]]
            message += f" ({'; '.join(fields)})"
        raise ApiError(message, response.status_code)


def gateway(ctx: typer.Context, url: str | None, api_key: str | None) -> GatewayClient:
    """A client of the inference gateway (see :func:`service_client`)."""
    return service_client(ctx, url, api_key, state_key="inference_url", default=DEFAULT_INFERENCE_URL)


def service_client(
    ctx: typer.Context,
    url: str | None,
    api_key: str | None,
    *,
    state_key: str,
    default: str,
    what: str = "the inference gateway",
) -> GatewayClient:
    """A client (closed with the command) for: flag or environment > the running `llmops up` > default.

    The key defaults to the ``admin`` key `llmops up` wrote (changes need one), else its ``writer`` key.
    """
    state = read_running_state(data_dir()) or {}
    keys = read_credentials(data_dir())
    base = url or state.get(state_key) or default
    key = api_key or keys.get("admin") or keys.get("writer")
    client = GatewayClient(str(base), key, transport=cli_context(ctx).transport, what=what)
    ctx.call_on_close(client.close)
    return client


def fail(cli: CliContext, exc: ApiError) -> NoReturn:
    """End the command: 2 when the gateway refused the request (4xx), 1 when it failed or was unreachable."""
    status = exc.status_code
    raise cli.fail(str(exc), code=2 if status is not None and 400 <= status < 500 else 1) from exc


def request(cli: CliContext, client: GatewayClient, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    try:
        return client.call(method, path, **kwargs)
    except ApiError as exc:
        fail(cli, exc)


def read_definition(cli: CliContext, file: Path) -> dict[str, Any]:
    """A YAML (or JSON) mapping from ``file``; exit 2 when it is not one."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise cli.fail(f"{file}: cannot read it as YAML: {exc}", code=2) from exc
    if not isinstance(data, dict):
        raise cli.fail(f"{file}: expected a mapping of fields, got {type(data).__name__}", code=2)
    return data


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Table:
    """``rows`` as a table of ``columns`` (numbers right-aligned, missing values as ``-``)."""
    out = Table(header_style="bold cyan")
    for column in columns:
        numeric = any(isinstance(row.get(column), int | float) for row in rows)
        out.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        out.add_row(*(escape("-" if row.get(c) is None else str(row[c])) for c in columns))
    return out


def print_json(cli: CliContext, body: Any) -> None:
    cli.out.print_json(json.dumps(body, default=str))


# --- commands ----------------------------------------------------------------------------------------


@prompts_app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML: name, template, variables, ...")],
    name: Annotated[str | None, typer.Option(help="The prompt's name (default: 'name' in the file)")] = None,
    label: Annotated[list[str] | None, typer.Option(help="Move this label to the new version (repeatable)")] = None,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Publish a new version of a prompt from a YAML file (the prompt is created with its first version).

    The file holds ``name``, ``template`` (a list of ``{role, content}`` with Jinja ``{{ variables }}``),
    ``variables`` (``{name, description?, default?}``), and optionally ``model``, ``provider``, ``parameters``,
    ``description``, ``labels`` and ``version`` (with it, re-running is idempotent and a changed file is refused).
    """
    cli = cli_context(ctx)
    body = read_definition(cli, file)
    prompt = name or body.pop("name", None)
    body.pop("name", None)
    if not isinstance(prompt, str) or not prompt:
        raise cli.fail(f"{file}: no prompt name (give 'name' in the file or --name)", code=2)
    if label:
        body["labels"] = list(dict.fromkeys([*body.get("labels", []), *label]))
    client = gateway(ctx, inference_url, api_key)
    status, version = request(cli, client, "POST", f"/v1/prompts/{prompt}/versions", json=body)
    if json_output:
        print_json(cli, version)
        return
    labels = ", ".join(version.get("labels") or []) or "none"
    verb = "created" if status == 201 else "already exists with this content"
    cli.out.print(f"{escape(prompt)} version {version['version']} {verb} (labels: {escape(labels)})")


@prompts_app.command("list")
def list_prompts(
    ctx: typer.Context, inference_url: InferenceUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """The tenant's prompts: latest version, number of versions, labels and last change."""
    cli = cli_context(ctx)
    _, body = request(cli, gateway(ctx, inference_url, api_key), "GET", "/v1/prompts")
    if json_output:
        print_json(cli, body)
        return
    rows = [
        {
            "name": p["name"],
            "latest": p["latest_version"],
            "versions": p["versions"],
            "labels": ", ".join(f"{label}→{v}" for label, v in p["labels"].items()) or "-",
            "updated": p["updated_at"],
        }
        for p in body["items"]
    ]
    cli.out.print(table(rows, ("name", "latest", "versions", "labels", "updated")) if rows else "no prompts yet")


@prompts_app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The prompt")],
    version: Annotated[int | None, typer.Option(min=1, help="Show this version's template")] = None,
    label: Annotated[str | None, typer.Option(help="Show the template of the version this label points at")] = None,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """A prompt's labels and versions; with --version or --label, that version's template and settings."""
    cli = cli_context(ctx)
    client = gateway(ctx, inference_url, api_key)
    _, detail = request(cli, client, "GET", f"/v1/prompts/{name}")
    if label is not None:
        positions = {p["label"]: p["version"] for p in detail["labels"]}
        if label not in positions:
            raise cli.fail(f"prompt {name!r} has no label {label!r} (labels: {', '.join(positions) or 'none'})", 2)
        version = positions[label]
    if version is None:
        _show_detail(cli, detail, json_output)
        return
    _, body = request(cli, client, "GET", f"/v1/prompts/{name}/versions/{version}")
    if json_output:
        print_json(cli, body)
        return
    _show_version(cli, body)


def _show_detail(cli: CliContext, detail: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(cli, detail)
        return
    cli.out.print(f"[bold]{escape(detail['name'])}[/bold], latest version {detail['latest_version']}")
    labels = [
        {"label": p["label"], "version": p["version"], "before": ", ".join(map(str, p["history"])) or "-"}
        for p in detail["labels"]
    ]
    if labels:
        cli.out.print(table(labels, ("label", "version", "before")))
    versions = [
        {
            "version": v["version"],
            "labels": ", ".join(v["labels"]) or "-",
            "model": v["model"] or "-",
            "created": v["created_at"],
            "by": v["created_by"],
            "description": v["description"] or "",
        }
        for v in detail["versions"]
    ]
    cli.out.print(table(versions, ("version", "labels", "model", "created", "by", "description")))


def _show_version(cli: CliContext, version: dict[str, Any]) -> None:
    labels = ", ".join(version.get("labels") or []) or "none"
    cli.out.print(f"[bold]{escape(version['name'])}[/bold] version {version['version']} (labels: {escape(labels)})")
    parameters = json.dumps(version.get("parameters") or {}, sort_keys=True)
    cli.out.print(f"model: {escape(str(version.get('model') or '-'))}  parameters: {escape(parameters)}")
    for variable in version.get("variables") or []:
        default = "" if variable.get("default") is None else f" = {variable['default']!r}"
        cli.out.print(f"  variable {escape(variable['name'] + default)}", highlight=False)
    for message in version["template"]:
        cli.out.print(f"--- {message['role']} ---", highlight=False)
        cli.out.print(escape(message["content"]), highlight=False)


@prompts_app.command("diff")
def diff(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The prompt")],
    old: Annotated[str | None, typer.Argument(metavar="FROM", help="Version or label (default: before TO)")] = None,
    new: Annotated[str | None, typer.Argument(metavar="TO", help="Version or label (default: latest)")] = None,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """A unified diff of two versions (numbers or labels), e.g. `llmops prompts diff support-answer production 4`."""
    cli = cli_context(ctx)
    params = {k: v for k, v in {"from": old, "to": new}.items() if v is not None}
    _, body = request(cli, gateway(ctx, inference_url, api_key), "GET", f"/v1/prompts/{name}/diff", params=params)
    if json_output:
        print_json(cli, body)
        return
    changed = ", ".join(body["changed"]) or "nothing"
    cli.out.print(f"{escape(name)} v{body['from_version']} → v{body['to_version']}: changed {changed}")
    for line in body["diff"].splitlines():
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
        cli.out.print(escape(line), style=style, highlight=False)


@prompts_app.command("label")
def label_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The prompt")],
    label: Annotated[str, typer.Argument(help="The label, e.g. production")],
    version: Annotated[int, typer.Argument(min=1, help="The version it points at from now on")],
    reason: Reason = None,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Point a label at a version; where it pointed before is kept for `llmops prompts rollback`."""
    cli = cli_context(ctx)
    body = {"version": version, "reason": reason}
    _, moved = request(
        cli, gateway(ctx, inference_url, api_key), "PUT", f"/v1/prompts/{name}/labels/{label}", json=body
    )
    before = moved["history"][-1] if moved["history"] else "nowhere"
    cli.out.print(f"{escape(name)}: {escape(label)} → version {moved['version']} (was {before})")


@prompts_app.command("rollback")
def rollback(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The prompt")],
    label: Annotated[str, typer.Argument(help="The label to move back")] = "production",
    reason: Reason = None,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Move a label back to the version it pointed at before its last move."""
    cli = cli_context(ctx)
    body = {"label": label, "reason": reason}
    _, moved = request(cli, gateway(ctx, inference_url, api_key), "POST", f"/v1/prompts/{name}/rollback", json=body)
    cli.out.print(f"{escape(name)}: {escape(label)} rolled back to version {moved['version']}")


@prompts_app.command("render")
def render(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The prompt")],
    var: Annotated[
        list[str] | None, typer.Option(help="A variable as name=value (value may be JSON); repeatable")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Label to render (default: production)")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Version to render")] = None,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Dry run: the messages the gateway would send for this prompt and these variables (no model is called)."""
    cli = cli_context(ctx)
    selector: dict[str, Any] = {"name": name, "variables": _variables(var or [])}
    if label is not None:
        selector["label"] = label
    if version is not None:
        selector["version"] = version
    _, body = request(cli, gateway(ctx, inference_url, api_key), "POST", "/v1/prompts/render", json=selector)
    if json_output:
        print_json(cli, body)
        return
    ref = body["ref"]
    cli.out.print(f"{escape(ref['name'])} version {ref['version']} (model: {escape(str(body.get('model') or '-'))})")
    for message in body["messages"]:
        cli.out.print(f"--- {message['role']} ---", highlight=False)
        cli.out.print(escape(message["content"]), highlight=False)


def _variables(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not name=value", param_hint="--var")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values
