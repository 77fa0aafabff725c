"""Fixtures live in tests/fixtures/, one module per real part they start."""

pytest_plugins = [
    "fixtures.emulator",
    "fixtures.media",
    "fixtures.gcs",
    "fixtures.prefect",
    "fixtures.pubsub",
    "fixtures.browser",
    "fixtures.webhooks",
    "pytester",
]
