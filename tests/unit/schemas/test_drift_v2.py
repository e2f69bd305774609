"""``llmops.drift.reported.v2``: the whole check in one event, its invariants, and v1 reports upcast to it."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import UPCASTERS, parse_event  # the registry registers the platform's upcasters
from llmops_schemas.v1 import DriftReported as DriftReportedV1
from llmops_schemas.v1.examples import EXAMPLES as V1_EXAMPLES
from llmops_schemas.v2 import DriftReported
from llmops_schemas.v2.examples import EXAMPLES
from pydantic import ValidationError


def _example(**changes: Any) -> dict[str, Any]:
    return {**EXAMPLES[DriftReported], **changes}


def test_the_example_is_valid() -> None:
    report = DriftReported.model_validate(_example())

    assert report.dataset_drift is True
    assert [f.test for f in report.features] == ["ks", "domain_classifier"]


def test_no_verdict_needs_a_reason_and_a_verdict_has_none() -> None:
    with pytest.raises(ValidationError, match="reason is given exactly when dataset_drift is null"):
        DriftReported.model_validate(_example(dataset_drift=None))
    with pytest.raises(ValidationError, match="reason is given exactly when dataset_drift is null"):
        DriftReported.model_validate(_example(reason="too few samples"))


def test_a_report_without_a_verdict_reads_back_from_its_wire_form() -> None:
    report = DriftReported.model_validate(_example(dataset_drift=None, reason="too few samples", fdr=None))
    wire = CloudEvent.wrap(report, source="/drift", tenant_id="acme").to_json_bytes()

    assert b"dataset_drift" not in wire  # nulls are left out on the wire
    back = parse_event(wire).data
    assert isinstance(back, DriftReported) and back.dataset_drift is None and back.reason == "too few samples"


def test_the_dataset_verdict_agrees_with_the_features() -> None:
    with pytest.raises(ValidationError, match="dataset_drift must be true exactly when a feature drifted"):
        DriftReported.model_validate(_example(dataset_drift=False))


def test_a_reference_names_its_data() -> None:
    with pytest.raises(ValidationError, match="a dataset reference names dataset_id only"):
        DriftReported.model_validate(_example(reference={"kind": "dataset"}))
    dataset = DriftReported.model_validate(_example(reference={"kind": "dataset", "dataset_id": "golden-2025-03"}))
    assert dataset.reference.dataset_id == "golden-2025-03"


def test_a_v1_report_is_upcast_to_a_check_of_its_one_feature() -> None:
    old = DriftReportedV1.model_validate(V1_EXAMPLES[DriftReportedV1])
    event = CloudEvent.wrap(old, source="/drift", tenant_id="acme")

    new = UPCASTERS.upcast(event)

    assert new.type == DriftReported.event_type and new.id == event.id
    report = new.data
    assert isinstance(report, DriftReported)
    assert report.dataset_drift is True and report.fdr is None
    (feature,) = report.features
    assert (feature.feature, feature.kind, feature.test, feature.statistic) == ("latency_ms", "numeric", "psi", 0.31)
    assert (feature.effect_size, feature.effect_threshold, feature.drifted) == (0.31, 0.2, True)
    assert report.reference.window == old.baseline
