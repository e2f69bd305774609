"""HTTP and Kafka entrypoints of the evaluation service."""
