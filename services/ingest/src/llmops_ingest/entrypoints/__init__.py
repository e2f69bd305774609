"""How work reaches ingest: the HTTP API, the raw-topic consumer, and the process entry point."""
