"""URL handling of the ClickHouse connector (no engine is opened here: chDB allows one path per process)."""

from __future__ import annotations

import pytest
from llmops_warehouse.adapters.clickhouse_client import connect, redact_url


@pytest.mark.parametrize("url", ["chdb://relative/path", "chdb:relative", "chdb:///", "chdb://host/x"])
def test_chdb_urls_need_an_absolute_path(url: str) -> None:
    with pytest.raises(ValueError, match="chdb:///absolute/path"):
        connect(url)


def test_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unsupported ClickHouse URL scheme"):
        connect("postgres://db/x")


def test_redact_url() -> None:
    assert redact_url("http://user:s3cret@ch:8123/db") == "http://user:***@ch:8123/db"
    assert redact_url("chdb:///data/ch") == "chdb:///data/ch"


def test_http_options_are_accepted_by_the_driver() -> None:
    # Nothing listens on port 1: the driver gets as far as connecting, so every option we pass was accepted.
    from clickhouse_connect.driver.exceptions import OperationalError

    with pytest.raises(OperationalError):
        connect("http://127.0.0.1:1/llmops", "default", "secret", connect_timeout=2)
