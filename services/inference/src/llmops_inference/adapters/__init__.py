"""Adapters of the gateway ports: upstream backends, Kafka, the no-op seams and in-memory fakes."""
