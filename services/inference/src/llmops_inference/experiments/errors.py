"""Typed errors of the experiments API, each with its HTTP status (RFC 9457 problems via the kit)."""

from __future__ import annotations

from typing import Any, ClassVar

from llmops_kit.http.problems import ProblemError

__all__ = ["ExperimentConflict", "ExperimentError", "ExperimentsUnavailable", "InvalidExperiment", "UnknownExperiment"]


class ExperimentError(ProblemError):
    """Base of the experiments errors."""

    status_code: ClassVar[int] = 422
    title_text: ClassVar[str] = "Unprocessable Content"
    code: ClassVar[str] = "experiment_error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(self.status_code, self.title_text, detail, code=self.code, **extensions)


class UnknownExperiment(ExperimentError):
    """No experiment with that id for the caller's tenant."""

    status_code = 404
    title_text = "Not Found"
    code = "unknown_experiment"

    def __init__(self, experiment_id: str) -> None:
        super().__init__(f"no experiment with id {experiment_id!r}", experiment_id=experiment_id)


class InvalidExperiment(ExperimentError):
    """The definition or change is not valid (weights, variants, unknown prompt versions, ...)."""

    code = "invalid_experiment"


class ExperimentConflict(ExperimentError):
    """The id is taken, the experiment changed meanwhile, it is stopped, or another one runs on the same traffic."""

    status_code = 409
    title_text = "Conflict"
    code = "experiment_conflict"


class ExperimentsUnavailable(ExperimentError):
    """The experiments topic is still loading, or a change could not be published."""

    status_code = 503
    title_text = "Service Unavailable"
    code = "experiments_unavailable"
