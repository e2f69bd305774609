"""The warehouse service: the only ClickHouse writer, and the analytics query API."""

__version__ = "0.1.0"
