"""`llmops drift judges` against the real drift-detection routes (the monitors over an in-memory publisher)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
import typer
from llmops_cli.context import CliContext
from llmops_cli.drift_cmd import drift_app
from llmops_drift_detection.bootstrap import create_app
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.judges.http import MONITORS, SCHEDULER
from llmops_drift_detection.judges.owners import MonitorOwners
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.ownership import PartitionOwnership
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.cli.test_evals_cmd import SyncAsgi
from tests.unit.drift_detection.judge_support import Harness
from tests.unit.drift_detection.test_judge_schedule import Owned

ADMIN = "dev-admin-key"
ENV_VARS = ("LLMOPS_DRIFT_DETECTION_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")
PARAMS = '{"model": "judge-small", "prompt": {"name": "rubric", "version": 1}}'
ADD = ("drift", "judges", "add", "support-judge", "--app", "support-bot", "--dataset", "anchors", "--dataset-version",
       "1", "--model", "support-echo", "--judge-name", "helpfulness", "--interval-s", "3600")  # fmt: skip

root = typer.Typer()
root.add_typer(drift_app, name="drift")


@pytest.fixture
def invoke(tmp_path: Path) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))
    keys = ApiKeyStore([ApiKeyRecord(id="dev-admin", tenant_id="acme", role="admin", sha256=hash_key(ADMIN))])
    app = create_app(DriftDetectionSettings(), start=False, api_keys=keys)
    runner = CliRunner()

    def run(*args: str) -> Result:
        context = CliContext(
            transport=SyncAsgi(app),
            out=Console(width=200, color_system=None, force_terminal=False),
            err=Console(width=200, color_system=None, force_terminal=False, stderr=True),
        )
        env: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        env["LLMOPS_DATA_DIR"] = str(tmp_path)
        return runner.invoke(root, list(args), obj=context, env=env)

    app.state.api_keys = keys  # what the lifespan installs (each CLI request runs on a loop of its own)
    harness = Harness()
    harness.scheduler.owners = MonitorOwners(cast(PartitionOwnership, Owned()))  # another replica checks them
    setattr(app.state, MONITORS, harness.registry)
    setattr(app.state, SCHEDULER, harness.scheduler)
    return run


def test_add_list_remove(invoke: Callable[..., Result]) -> None:
    assert invoke("drift", "judges", "list").stdout.strip() == "no judge monitors"
    added = invoke(*ADD, "--judge-params", PARAMS, "--min-shift", "0.25")
    assert added.exit_code == 0, added.output
    assert "judge monitor support-judge created" in added.stdout
    listed = invoke("drift", "judges", "list").stdout
    for shown in ("support-judge", "support-bot", "anchors v1", "support-echo", "helpfulness (llm_judge, judge-small)",
                  "1h", "0.25", "(first run)"):  # fmt: skip
        assert shown in listed, listed
    as_json = json.loads(invoke("drift", "judges", "list", "--json").stdout)
    assert as_json["items"][0]["judge"]["params"]["model"] == "judge-small"
    assert "replaced" in invoke(*ADD, "--judge-params", PARAMS).stdout
    assert invoke("drift", "judges", "remove", "support-judge").stdout.strip() == "judge monitor support-judge removed"
    assert invoke("drift", "judges", "list").stdout.strip() == "no judge monitors"


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("--judge-params", "{not json"), "--judge-params is not JSON", 2),
        (("--judge-params", "[1]"), "--judge-params must be a JSON object", 2),
        (("--judge-params", PARAMS, "--alpha", "0.4", "--min-items", "5", "--interval-s", "59"), "interval", 2),
    ],
)
def test_bad_input_exits_2(invoke: Callable[..., Result], args: tuple[str, ...], message: str, code: int) -> None:
    result = invoke(*ADD, *args)
    assert result.exit_code == code and message in result.output, result.output


def test_removing_an_unknown_monitor_exits_2(invoke: Callable[..., Result]) -> None:
    result = invoke("drift", "judges", "remove", "nope")
    assert result.exit_code == 2 and "no judge monitor 'nope'" in result.output


def test_a_check_on_a_replica_that_does_not_own_the_monitor_says_it_was_handed_over(
    invoke: Callable[..., Result],
) -> None:
    invoke(*ADD, "--judge-params", PARAMS)
    checked = invoke("drift", "judges", "check", "support-judge")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.strip() == (
        "judge monitor support-judge: check asked of the replica that checks it (starts within a tick)"
    )
