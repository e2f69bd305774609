"""Storage adapters: ClickHouse (chDB in-process or a server) and an in-memory fake for tests."""
