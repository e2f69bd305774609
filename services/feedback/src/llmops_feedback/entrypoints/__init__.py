"""How work reaches the feedback service: the HTTP API and the process entry point."""
