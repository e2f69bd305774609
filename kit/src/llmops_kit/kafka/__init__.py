"""Kafka helpers: topic catalog and provisioning (topics), producer/consumer loop."""
