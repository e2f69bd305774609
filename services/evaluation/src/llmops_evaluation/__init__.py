"""The evaluation service: scores recorded calls with the evaluators each tenant configured (docs/evaluation.md)."""

__version__ = "0.1.0"
