"""Local infrastructure for development and tests (a real Kafka broker from Maven Central)."""

from llmops_kit.infra.kafka_broker import KafkaBrokerError, LocalKafkaBroker
from llmops_kit.infra.paths import kafka_infra_dir, repo_root
from llmops_kit.infra.ports import free_port

__all__ = ["KafkaBrokerError", "LocalKafkaBroker", "free_port", "kafka_infra_dir", "repo_root"]
