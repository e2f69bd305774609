"""How the governance-audit service is driven: its HTTP API and its process entry point."""
