"""The drift engine against Evidently's data-drift preset, on scenarios with a known truth (issue 11 item 6).

Run with ``make bench-drift`` (or ``uv run python benchmarks/bench_drift.py --help``). For every scenario of
``drift_scenarios.py`` and every seed, both tools check the same two JSON Lines files (2,000 reference and 1,000
current rows of 8 mixed features unless the scenario says otherwise), one after the other, each in its own
process and warm: the engine here (``llmops_drift.check`` on the records read with ``json``, what
``llmops drift check`` does, kinds inferred), Evidently (pinned in ``benchmarks/evidently-requirements.txt``, own
virtualenv ``.cache/evidently-venv``, via ``drift_evidently_worker.py``: pandas ``read_json``, its
``DataDriftPreset`` with the column types given, verdicts from the preset's tests). A check's time includes
reading the files. Scored: the dataset verdict against the truth (drift when any feature changed) and every
feature's verdict. Targets: dataset verdict right in >= 95 % of seeds of every scenario; false alarms on
no-drift scenarios <= 5 %; at least as many features right as Evidently; >= 5x faster (median time per check).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import (
    ROOT,
    ensure_pinned_venv,
    git_revision,
    machine_facts,
    md_table,
    met,
    package_version,
    replace_section,
)
from drift_scenarios import FEATURES, KINDS, SCENARIOS, Scenario, generate
from llmops_drift import check, columns_of

SECTION_BEGIN = "<!-- bench-drift:begin (written by benchmarks/bench_drift.py --write; edits here are lost) -->"
SECTION_END = "<!-- bench-drift:end -->"
EVIDENTLY_VENV = ROOT / ".cache" / "evidently-venv"
EVIDENTLY_REQUIREMENTS = Path(__file__).with_name("evidently-requirements.txt")
WORKER = Path(__file__).with_name("drift_evidently_worker.py")
NO_DRIFT = ("no drift", "no drift, small samples", "tiny shift")


@dataclass
class Tally:
    """One tool's outcomes on one scenario."""

    seeds: int = 0
    dataset_right: int = 0
    features_right: int = 0
    seconds: list[float] = field(default_factory=list)


def ours(reference: Path, current: Path) -> dict[str, Any]:
    started = time.perf_counter()
    columns = [columns_of(json.loads(line) for line in path.open()) for path in (reference, current)]
    report = check(*columns)
    features = {name: bool(result.drift) for name, result in report.features.items()}
    return {"seconds": time.perf_counter() - started, "dataset_drift": report.dataset_drift, "features": features}


class Evidently:
    """The worker process in Evidently's virtualenv: one case per line in, one result per line out."""

    def __init__(self, python: Path) -> None:
        argv = [str(python), str(WORKER)]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def check(self, reference: Path, current: Path) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(
            json.dumps({"reference": str(reference), "current": str(current), "kinds": KINDS}) + "\n"
        )
        self.process.stdin.flush()
        return dict(json.loads(self.process.stdout.readline()))

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(30)


def score(tally: Tally, result: dict[str, Any], scenario: Scenario) -> None:
    tally.seeds += 1
    tally.dataset_right += result["dataset_drift"] == bool(scenario.truth)
    tally.features_right += sum(result["features"].get(name, False) == (name in scenario.truth) for name in FEATURES)
    tally.seconds.append(result["seconds"])


def run(seeds: int, workdir: Path, evidently: Evidently) -> dict[str, dict[str, Tally]]:
    tallies: dict[str, dict[str, Tally]] = {}
    warm = _write(workdir, SCENARIOS[0], 10_000)
    ours(*warm), evidently.check(*warm)  # imports and first-call costs are not part of a check
    # Small samples last: Evidently's text check takes seconds there, and each row is printed when done.
    for scenario in sorted(SCENARIOS, key=lambda s: s.reference_rows < 2000):
        mine, theirs = tallies.setdefault(scenario.name, {"ours": Tally(), "evidently": Tally()}).values()
        for seed in range(seeds):
            files = _write(workdir, scenario, seed)
            score(mine, ours(*files), scenario)
            score(theirs, evidently.check(*files), scenario)
        print("| " + " | ".join(_row(scenario.name, mine, theirs)) + " |", flush=True)
    return tallies


def _write(workdir: Path, scenario: Scenario, seed: int) -> tuple[Path, Path]:
    reference, current = generate(scenario, seed)
    paths = workdir / "reference.jsonl", workdir / "current.jsonl"
    for path, records in zip(paths, (reference, current), strict=True):
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return paths


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %"


def _row(name: str, mine: Tally, theirs: Tally) -> list[str]:
    t_mine, t_theirs = statistics.median(mine.seconds), statistics.median(theirs.seconds)
    return [
        name,
        _pct(mine.dataset_right, mine.seeds),
        _pct(theirs.dataset_right, theirs.seeds),
        _pct(mine.features_right, 8 * mine.seeds),
        _pct(theirs.features_right, 8 * theirs.seeds),
        f"{t_mine * 1000:,.0f} ms",
        f"{t_theirs * 1000:,.0f} ms",
        f"{t_theirs / t_mine:.1f}x",
    ]


def report(tallies: dict[str, dict[str, Tally]], seeds: int, facts: dict[str, str]) -> list[str]:
    rows, verdicts_ok, alarms_ok = [], True, True
    for name, pair in tallies.items():
        mine = pair["ours"]
        verdicts_ok &= mine.dataset_right >= 0.95 * mine.seeds
        alarms_ok &= name not in NO_DRIFT or mine.dataset_right >= 0.95 * mine.seeds
        rows.append(_row(name, mine, pair["evidently"]))
    all_mine = [t for p in tallies.values() for t in p["ours"].seconds]
    all_theirs = [t for p in tallies.values() for t in p["evidently"].seconds]
    speedup = statistics.median(all_theirs) / statistics.median(all_mine)
    features = [sum(p[tool].features_right for p in tallies.values()) for tool in ("ours", "evidently")]
    header = ["scenario", "dataset verdict right: ours", "Evidently", "features right: ours", "Evidently",
              "median check: ours", "Evidently", "speed-up"]  # fmt: skip
    return [
        SECTION_BEGIN,
        f"{seeds} seeds per scenario; 2,000 reference and 1,000 current rows of 8 features (small-sample scenarios: "
        "200 and 100). Times are the median whole check (files read, kinds inferred or given, report built).",
        "",
        *md_table(rows, header),
        "",
        f"- dataset verdict right in >= 95 % of seeds of every scenario: {met(verdicts_ok)}",
        f"- false alarms on no-drift scenarios <= 5 %: {met(alarms_ok)}",
        f"- features right: ours {features[0]:,}, Evidently {features[1]:,} of {8 * seeds * len(tallies):,}: "
        f"{met(features[0] >= features[1])}",
        f"- median check over all scenarios {speedup:.1f}x faster than Evidently (>= 5x): {met(speedup >= 5)}",
        "",
        "Run on: " + "; ".join(f"{k} {v}" for k, v in facts.items()),
        SECTION_END,
    ]


def package_version_in_venv() -> str:
    found = list((EVIDENTLY_VENV / "lib").glob("python3*/site-packages/evidently-*.dist-info"))
    return found[0].name.removeprefix("evidently-").removesuffix(".dist-info") if found else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="Seeds per scenario (at least 20 for the targets)")
    parser.add_argument("--write", type=Path, help="Rewrite the marked section of this markdown file")
    args = parser.parse_args()
    evidently = Evidently(ensure_pinned_venv(EVIDENTLY_VENV, EVIDENTLY_REQUIREMENTS))
    facts = {**machine_facts(), "evidently": package_version_in_venv(), "scikit-learn": package_version("scikit-learn"),
             "revision": git_revision()}  # fmt: skip
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-drift-") as workdir:
            tallies = run(args.seeds, Path(workdir), evidently)
    finally:
        evidently.close()
    lines = report(tallies, args.seeds, facts | {"whole run": f"{time.perf_counter() - started:,.0f} s"})
    print("\n".join(lines))
    if args.write:
        args.write.write_text(
            replace_section(args.write.read_text(), "\n".join(lines) + "\n", SECTION_BEGIN, SECTION_END)
        )


if __name__ == "__main__":
    main()
