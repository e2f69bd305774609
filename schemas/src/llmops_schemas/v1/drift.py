"""``llmops.drift.reported.v1``: one drift statistic of one feature over one window, against a baseline."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import Fraction, Identifier, Name, NonNegativeScore, StrictModel

__all__ = ["DriftReported", "DriftStatistic", "TimeWindow"]

DriftStatistic = Literal["psi", "ks", "js", "chi2", "wasserstein"]
"""Population stability index, Kolmogorov-Smirnov, Jensen-Shannon distance, chi-squared, Wasserstein."""


class TimeWindow(StrictModel):
    """A half-open interval of time, ``[start, end)``."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _start_before_end(self) -> TimeWindow:
        if self.start >= self.end:
            raise ValueError("a window's start must be before its end")
        return self


class DriftReported(EventPayload):
    """How far a feature's distribution in ``window`` has moved from its distribution in ``baseline``.

    ``feature`` names what was measured: a call attribute (``latency_ms``, ``prompt_tokens``), an
    embedding (``embedding:output``) or an evaluation metric (``evaluation:relevance``). ``drifted`` is
    the detector's verdict, ``value`` compared with ``threshold`` (or ``p_value`` for tests that give one).
    """

    event_type: ClassVar[str] = "llmops.drift.reported.v1"
    topic: ClassVar[str] = "llmops.drift.reports"

    report_id: Identifier = Field(description="Idempotency key: the same scope, feature and window give the same id")
    app: Name
    environment: Name = "production"
    model: Name | None = Field(default=None, description="Set when the report covers one model only")
    feature: Name
    statistic: DriftStatistic
    value: NonNegativeScore
    threshold: NonNegativeScore
    p_value: Fraction | None = None
    drifted: bool
    window: TimeWindow
    baseline: TimeWindow
    sample_size: int = Field(ge=0, description="Observations in the window")
    baseline_sample_size: int = Field(ge=0, description="Observations in the baseline")
    computed_at: AwareDatetime
