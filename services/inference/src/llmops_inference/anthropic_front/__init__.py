"""A Claude-compatible front door: ``POST /v1/messages`` in Anthropic's Messages API format, translated to and
from the gateway's OpenAI-format chat pipeline (ADR 0019)."""
