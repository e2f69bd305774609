"""The body of ``POST /v1/replays``: which stored calls, through which evaluators, how fast."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, StrictBool, model_validator

__all__ = ["EvaluatorChoice", "RangeSpec", "ReplaySpec"]

SlugStr = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class EvaluatorChoice(BaseModel):
    """A configured evaluator by ``name`` (its current version), or a new one: ``name``, ``kind`` and ``params``."""

    model_config = ConfigDict(extra="forbid")

    name: SlugStr
    kind: SlugStr | None = None
    params: Annotated[dict[str, JsonValue], Field(max_length=32)] | None = None


class RangeSpec(BaseModel):
    """An offset range of one partition of ``llmops.calls.recorded``; no ``end``: up to the current end."""

    model_config = ConfigDict(extra="forbid")

    partition: int = Field(strict=True, ge=0, lt=1024)
    start: int = Field(strict=True, default=0, ge=0)
    end: int | None = Field(strict=True, default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RangeSpec:
        if self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class ReplaySpec(BaseModel):
    """The body of ``POST /v1/replays``: which calls, through which evaluators, how fast."""

    model_config = ConfigDict(extra="forbid")

    replay_id: SlugStr | None = Field(default=None, description="Default: a new id")
    evaluators: Annotated[list[EvaluatorChoice], Field(min_length=1, max_length=16)]
    source: Literal["warehouse", "topic"] = "warehouse"
    start: AwareDatetime | None = Field(default=None, description="warehouse: calls started at or after")
    end: AwareDatetime | None = Field(default=None, description="warehouse: calls started before")
    app: str | None = Field(default=None, min_length=1, max_length=256)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    prompt_name: str | None = Field(default=None, min_length=1, max_length=256)
    ranges: Annotated[list[RangeSpec], Field(max_length=1024)] = Field(default_factory=list)
    include_platform: StrictBool = False
    rate_limit_per_s: float | None = Field(strict=True, default=None, gt=0, description="Default: the service's")
    batch_size: int | None = Field(strict=True, default=None, ge=1, le=1000, description="Default: the service's")
