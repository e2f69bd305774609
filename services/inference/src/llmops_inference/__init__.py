"""The inference gateway: OpenAI-compatible API, prompt registry, experiments, limits, call recording."""

__version__ = "0.1.0"
