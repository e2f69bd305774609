"""Evidently's data-drift preset on one case per stdin line, for bench_drift.py (runs in .cache/evidently-venv).

Each input line is ``{"reference": path, "current": path, "kinds": {name: kind}}``; each output line is
``{"seconds": ..., "dataset_drift": bool, "features": {name: bool}}``. The time covers what a user's check does
in process: reading both JSON Lines files with pandas, building the datasets and running the report with its
tests (the drift verdicts are the tests' outcomes).
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def check(case: dict) -> dict:
    started = time.perf_counter()
    kinds = case["kinds"]
    definition = DataDefinition(
        numerical_columns=[n for n, k in kinds.items() if k == "numeric"],
        categorical_columns=[n for n, k in kinds.items() if k == "categorical"],
        text_columns=[n for n, k in kinds.items() if k == "text"],
    )
    reference = Dataset.from_pandas(pd.read_json(case["reference"], lines=True), data_definition=definition)
    current = Dataset.from_pandas(pd.read_json(case["current"], lines=True), data_definition=definition)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference).dict()
    features, dataset_drift = {}, None
    for test in snapshot["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            features[params["column"]] = test["status"] == "FAIL"
        elif params["type"].endswith("DriftedColumnsCount"):
            dataset_drift = test["status"] == "FAIL"
    return {"seconds": time.perf_counter() - started, "dataset_drift": dataset_drift, "features": features}


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(check(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
