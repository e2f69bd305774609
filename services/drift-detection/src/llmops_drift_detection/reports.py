"""A closed window's drift check as a ``llmops.drift.reported.v2`` event.

The report id derives from the scope, the window and the reference, so a window checked again after a restart
(closed, published, then killed before its entries were deleted) yields the same event and the warehouse
keeps one. The id is a UUID (name-based, version 5): it is also the event's CloudEvent id, and the warehouse
keys its rows by UUID (it dead-letters any other id).

Scores, feedback and embeddings are on some calls only (:mod:`llmops_drift_detection.outcomes`, a sampled
``prompt_embedding``): such a feature is tested on the calls that have it, a note says on how many of the
window's and the reference's calls that was, and too few of them give that feature no verdict (the engine's
minimum samples). An embedding of another dimension than the reference's (the embedder changed) is left out
and counted in a note, rather than failing the whole check.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from llmops_drift import DriftConfig, DriftReport, FeatureResult, Kind, check, columns_of
from llmops_schemas.v1 import TimeWindow
from llmops_schemas.v2 import DriftReference, DriftReported, FeatureDrift
from llmops_schemas.v2.drift import MAX_FEATURES

from llmops_drift_detection.features import NUMERIC, Row, Scope
from llmops_drift_detection.kept import is_embedding
from llmops_drift_detection.outcomes import SPARSE_PREFIXES, outcome_kind

__all__ = ["OUTCOMES_FEATURE", "build_report", "no_reference_reason", "report_id"]

Columns = dict[str, list[object]]

_KINDS = {name: Kind.NUMERIC for name in NUMERIC}
OUTCOMES_FEATURE = "scores_and_feedback"
"""The untested entry a report has when the window's scores and feedback could not be read (its note says why)."""
_NAMESPACE = uuid.UUID("3e9a7c1d-2f4b-4d6e-9b8a-1c5f7e0d2a64")


def report_id(scope: Scope, window: TimeWindow, reference: DriftReference) -> str:
    """The same scope, window and reference give the same UUID (the idempotency key and the event's id)."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope.encode()}|{window.start.isoformat()}|{reference.model_dump_json()}"))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _feature(name: str, result: FeatureResult, coverage: dict[str, str]) -> FeatureDrift:
    notes = [*([coverage[name]] if name in coverage else []), *result.notes]
    statistics = {k: v for k, v in result.statistics.items() if math.isfinite(v) and v >= 0}
    return FeatureDrift(
        feature=name,
        kind=result.kind.value,
        test=result.test if result.drift is not None else "none",
        statistic=_finite(result.statistic),
        threshold=result.threshold,
        p_value=_finite(result.p_value),
        p_value_adjusted=_finite(result.p_value_adjusted),
        effect=result.effect,
        effect_size=_finite(result.effect_size),
        effect_threshold=result.effect_threshold,
        drifted=result.drift,
        sample_size=result.sample_size[1],
        baseline_sample_size=result.sample_size[0],
        statistics=dict(list(statistics.items())[:16]),
        notes=[note[:1024] for note in notes[:16]],
    )


def _kinds(names: Sequence[str]) -> dict[str, Kind]:
    kinds = {name: kind for name in names if (kind := outcome_kind(name)) is not None}
    return _KINDS | kinds


def _sparse(name: str, values: Sequence[object]) -> bool:
    return name.startswith(SPARSE_PREFIXES) or any(is_embedding(value) for value in values)


def _dimension(values: list[object]) -> int | None:
    sizes = Counter(len(v) for v in values if isinstance(v, list))
    return sizes.most_common(1)[0][0] if sizes else None


def _alike(reference: list[object], current: list[object]) -> tuple[list[object], list[object], int]:
    """Embeddings of one dimension, the reference's (the window's most common without one), and how many of the
    window's were of another (an embedder changed: not comparable, and the engine would refuse the check)."""
    dimension = _dimension(reference) or _dimension(current)
    ref = [v for v in reference if not isinstance(v, list) or len(v) == dimension]
    cur = [v for v in current if not isinstance(v, list) or len(v) == dimension]
    return ref, cur, len(current) - len(cur)


def _columns(baseline: Sequence[Row], current: Sequence[Row]) -> tuple[Columns, Columns, dict[str, str]]:
    """Both sides as columns: features only some calls have keep their present values only, with a note."""
    ref, cur = columns_of(baseline), columns_of(current)
    coverage: dict[str, str] = {}
    for name in [*ref, *(name for name in cur if name not in ref)]:
        if not _sparse(name, [*ref.get(name, ()), *cur.get(name, ())]):
            continue
        ref_values = [v for v in ref.get(name, ()) if v is not None]
        cur_values = [v for v in cur.get(name, ()) if v is not None]
        coverage[name] = (f"on {len(cur_values)} of {len(current)} calls in the window and {len(ref_values)} of "
                          f"{len(baseline)} in the reference")  # fmt: skip
        ref_values, cur_values, other = _alike(ref_values, cur_values)
        if other:
            coverage[name] += f"; {other} embedding(s) of another dimension than the reference's left out"
        for columns, values in ((ref, ref_values), (cur, cur_values)):
            if name in columns:
                columns[name] = values
    return ref, cur, coverage


def no_reference_reason(calls: int, reference_calls: int, min_samples: int) -> str | None:
    """Why there is no verdict before any test runs (too few calls on a side), or None."""
    if reference_calls == 0:
        return "no reference yet: this is the scope's first window"
    if calls < min_samples or reference_calls < min_samples:
        return (
            f"too few samples: {calls} calls in the window, {reference_calls} in the reference (minimum {min_samples})"
        )
    return None


def build_report(
    scope: Scope,
    window: TimeWindow,
    reference: DriftReference,
    current: Sequence[Row],
    baseline: Sequence[Row],
    *,
    config: DriftConfig,
    min_samples: int,
    include_platform: bool,
    notes: Sequence[str] = (),
    now: datetime | None = None,
    reference_notes: Mapping[str, str] | None = None,
) -> DriftReported:
    """The check of ``current`` against ``baseline`` (no verdict, with the reason, when either is too small);
    ``notes`` say what the window's rows lack (scores and feedback that could not be read), ``reference_notes``
    what the reference lacks, per feature (a dataset reference without its embeddings)."""
    reason = no_reference_reason(len(current), len(baseline), min_samples)
    drift: DriftReport | None = None
    coverage: dict[str, str] = {}
    if reason is None:
        ref, cur, coverage = _columns(baseline, current)
        drift = check(ref, cur, kinds=_kinds([*ref, *cur]), config=config)
        reason = drift.reason if drift.dataset_drift is None else None
    for name, note in (reference_notes or {}).items():
        coverage[name] = f"{coverage[name]}; {note}" if name in coverage else note
    features = [_feature(name, result, coverage) for name, result in drift.features.items()] if drift else []
    if not features:  # the event names at least one feature: the window's size, untested
        untested = FeatureDrift(
            feature="calls", kind="numeric", test="none", sample_size=len(current),
            baseline_sample_size=len(baseline), notes=[reason or "no feature tested"],
        )  # fmt: skip
        features = [untested]
    if notes:  # first: a report holds at most MAX_FEATURES
        unread = FeatureDrift(feature=OUTCOMES_FEATURE, kind="numeric", test="none", sample_size=0,
                              baseline_sample_size=0, notes=[note[:1024] for note in notes[:16]])  # fmt: skip
        features.insert(0, unread)
    dataset_drift = drift.dataset_drift if drift and reason is None else None
    return DriftReported(
        report_id=report_id(scope, window, reference),
        app=scope.app,
        environment=scope.environment,
        model=scope.model,
        prompt_name=scope.prompt_name,
        prompt_version=scope.prompt_version,
        window=window,
        reference=reference,
        dataset_drift=dataset_drift,
        reason=(reason or "no verdict")[:1024] if dataset_drift is None else None,
        fdr=config.fdr,
        features=features[:MAX_FEATURES],
        sample_size=len(current),
        baseline_sample_size=len(baseline),
        platform_traffic_included=include_platform,
        computed_at=now or datetime.now(UTC),
    )
