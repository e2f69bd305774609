"""Suite-wide pytest setup. Shared fixtures live in plugin modules under tests/fixtures/."""

pytest_plugins = ["tests.fixtures.kafka"]
