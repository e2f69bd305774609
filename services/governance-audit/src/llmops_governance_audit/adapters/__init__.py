"""Implementations of the service's ports over Kafka (and in memory, for tests)."""
