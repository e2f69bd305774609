"""What the feedback service treats as "Kafka did not acknowledge": the client should retry (503)."""

from __future__ import annotations

from aiokafka.errors import KafkaError
from llmops_kit.errors import TransientError

__all__ = ["UNAVAILABLE"]

UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)
"""What a publisher raises when the cluster does not acknowledge in time."""
