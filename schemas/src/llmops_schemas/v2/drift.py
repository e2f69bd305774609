"""``llmops.drift.reported.v2``: one drift check of one window, with the dataset verdict and every feature's test.

Against v1 (one statistic of one feature per event, docs/adr/0040) v2:

* carries the whole check: the dataset verdict (``dataset_drift``, null with a ``reason`` when no feature had
  enough samples) and each feature's result, so a reader sees the verdict the features were corrected together
  for (Benjamini-Hochberg at ``fdr``), not features that each look significant alone;
* names the tests the drift engine runs (``llmops_drift``, docs/drift.md): a domain classifier's ROC AUC and
  MMD besides KS and chi-square, the feature's kind, the adjusted p-value and the effect size with its floor;
* scopes the window by prompt version as well as app and model, and says what the reference was.

A v1 event is one feature's result: the upcaster (:mod:`llmops_schemas.upcasters`) builds it with
:meth:`DriftReported.from_v1`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import drift as v1
from llmops_schemas.v1.common import Fraction, Identifier, Name, NonNegativeScore, Score, ShortText, StrictModel
from llmops_schemas.v1.drift import TimeWindow

__all__ = ["MAX_FEATURES", "DriftReference", "DriftReported", "FeatureDrift", "JudgeDrift", "JudgeMetricDrift"]

FeatureKind = Literal["numeric", "categorical", "text", "embedding"]
DriftTest = Literal["ks", "chi2", "domain_classifier", "mmd", "psi", "wasserstein", "js", "none"]
"""The deciding test; ``none`` when there was no verdict. ``psi``, ``wasserstein`` and ``js`` come from v1."""
EffectMeasure = Literal["wasserstein_norm", "js_distance", "roc_auc", "mmd2"]
MAX_FEATURES = 128
_V1_KIND: dict[str, FeatureKind] = {"psi": "numeric", "ks": "numeric", "wasserstein": "numeric", "js": "categorical",
                                    "chi2": "categorical"}  # fmt: skip


class FeatureDrift(StrictModel):
    """One feature's test in a check: ``drifted`` is null when there was no verdict (``notes`` say why)."""

    feature: Name = Field(description="What was measured: 'latency_ms', 'prompt', 'embedding:output', ...")
    kind: FeatureKind
    test: DriftTest
    statistic: NonNegativeScore | None = Field(default=None, description="The deciding test's statistic")
    threshold: Fraction | None = Field(
        default=None, description="The false discovery rate the adjusted p-value is compared with (v1: none)"
    )
    p_value: Fraction | None = None
    p_value_adjusted: Fraction | None = Field(default=None, description="Benjamini-Hochberg across the check")
    effect: EffectMeasure | None = None
    effect_size: NonNegativeScore | None = None
    effect_threshold: NonNegativeScore | None = Field(default=None, description="The smallest effect called drift")
    drifted: bool | None = None
    sample_size: int = Field(ge=0, description="Observations in the window")
    baseline_sample_size: int = Field(ge=0, description="Observations in the reference")
    statistics: dict[Name, NonNegativeScore] = Field(default_factory=dict, max_length=16)
    notes: Annotated[list[ShortText], Field(max_length=16)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _verdict_needs_a_test(self) -> FeatureDrift:
        if self.drifted is not None and self.test == "none":
            raise ValueError("a feature with a verdict names its test")
        return self


class DriftReference(StrictModel):
    """What the window was compared with: a pinned window, the previous window, or a pinned dataset."""

    kind: Literal["pinned_window", "previous_window", "dataset"]
    window: TimeWindow | None = None
    dataset_id: Identifier | None = None

    @model_validator(mode="after")
    def _names_its_data(self) -> DriftReference:
        if (self.kind == "dataset") != (self.dataset_id is not None) or (self.kind != "dataset") != bool(self.window):
            raise ValueError("a dataset reference names dataset_id only; a window reference names window only")
        return self


class JudgeMetricDrift(StrictModel):
    """One metric of a judge re-scoring its anchor set: the same items paired with the baseline run's scores."""

    metric: Name
    items: int = Field(ge=0, description="Anchor items scored in both runs (the pairs tested)")
    baseline_mean: Score | None = None
    mean: Score | None = None
    mean_shift: Score | None = Field(default=None, description="Mean of (this run's score - the baseline's), signed")
    statistic: NonNegativeScore | None = Field(default=None, description="The Wilcoxon signed-rank statistic")
    p_value: Fraction | None = None
    p_value_adjusted: Fraction | None = Field(default=None, description="Benjamini-Hochberg across the metrics")
    drifted: bool | None = Field(default=None, description="null: no verdict (too few pairs), ``note`` says why")
    note: ShortText | None = None


class JudgeDrift(StrictModel):
    """A judge-drift check (docs/drift.md#judge-drift): a pinned anchor set re-scored by the same judge through
    an offline run of the evaluation service, each item paired with its score in the monitor's baseline run.
    A metric drifted when the paired Wilcoxon signed-rank test's adjusted p-value is at most the report's
    ``fdr`` and the mean shift is at least ``min_shift``."""

    monitor_id: Identifier
    evaluator: Name = Field(description="The judge evaluator as the runs name it")
    dataset: Identifier = Field(description="The anchor set: an evaluation dataset")
    dataset_version: int = Field(ge=1, le=2**31 - 1)
    baseline_run_id: Identifier | None = Field(default=None, description="null: no baseline yet")
    run_id: Identifier | None = Field(default=None, description="null: no run could be started")
    test: Literal["wilcoxon"] = "wilcoxon"
    min_items: int = Field(ge=1)
    min_shift: NonNegativeScore = Field(description="The smallest absolute mean shift called drift")
    metrics: Annotated[list[JudgeMetricDrift], Field(max_length=16)] = Field(default_factory=list)


class DriftReported(EventPayload):
    """A drift check of one window of an app's traffic (optionally one model or prompt version) against a reference.

    ``report_id`` derives from the scope and the window, so a recomputed window yields the same event.
    """

    event_type: ClassVar[str] = "llmops.drift.reported.v2"
    topic: ClassVar[str] = "llmops.drift.reports"

    report_id: Identifier = Field(description="Idempotency key: the same scope and window give the same id")
    app: Name
    environment: Name = "production"
    model: Name | None = Field(default=None, description="Set when the window covers one model only")
    prompt_name: Name | None = Field(default=None, description="Set when the window covers one prompt only")
    prompt_version: int | None = Field(default=None, ge=1, le=2**32 - 1)
    window: TimeWindow
    reference: DriftReference
    # Defaults of None: the wire form leaves nulls out (CloudEvent.to_json_bytes), so a report without a verdict
    # (or an upcast v1 one, without fdr) must read back without them.
    dataset_drift: bool | None = Field(
        default=None, description="Drift when any feature drifted; null: no feature had a verdict"
    )
    reason: ShortText | None = Field(default=None, description="Why there is no verdict")
    fdr: Fraction | None = Field(
        default=None, description="Benjamini-Hochberg's false discovery rate; null for an upcast v1 report"
    )
    features: Annotated[list[FeatureDrift], Field(min_length=1, max_length=MAX_FEATURES)]
    sample_size: int = Field(ge=0, description="Calls in the window")
    baseline_sample_size: int = Field(ge=0, description="Calls in the reference")
    platform_traffic_included: bool = Field(default=False, description="Judges and offline runs are excluded")
    computed_at: AwareDatetime
    judge: JudgeDrift | None = Field(
        default=None, description="Set on a judge-drift report: the verdict is its metrics', not the features'"
    )

    @model_validator(mode="after")
    def _verdict_is_explained(self) -> DriftReported:
        if (self.dataset_drift is None) != (self.reason is not None):
            raise ValueError("reason is given exactly when dataset_drift is null")
        if self.prompt_version is not None and self.prompt_name is None:
            raise ValueError("prompt_version needs prompt_name")
        if self.judge is not None:  # a judge report's verdict is its metrics' (paired tests the features lack)
            if self.dataset_drift is not None and self.dataset_drift != any(m.drifted for m in self.judge.metrics):
                raise ValueError("dataset_drift must be true exactly when a judge metric drifted")
        elif self.dataset_drift is not None and self.dataset_drift != any(f.drifted for f in self.features):
            raise ValueError("dataset_drift must be true exactly when a feature drifted")
        return self

    @classmethod
    def from_v1(cls, old: v1.DriftReported) -> DriftReported:
        """The v1 report as a check of its one feature, uncorrected: v1's threshold was on its own statistic."""
        feature = FeatureDrift(
            feature=old.feature,
            kind=_V1_KIND[old.statistic],
            test=old.statistic,
            statistic=old.value,
            p_value=old.p_value,
            effect_size=old.value,
            effect_threshold=old.threshold,
            drifted=old.drifted,
            sample_size=old.sample_size,
            baseline_sample_size=old.baseline_sample_size,
        )
        return cls(
            report_id=old.report_id,
            app=old.app,
            environment=old.environment,
            model=old.model,
            window=old.window,
            reference=DriftReference(kind="pinned_window", window=old.baseline),
            dataset_drift=old.drifted,
            fdr=None,
            features=[feature],
            sample_size=old.sample_size,
            baseline_sample_size=old.baseline_sample_size,
            computed_at=old.computed_at,
        )
