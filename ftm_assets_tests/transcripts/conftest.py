"""Session fixture: one throwaway PostgreSQL cluster shared by the source tests that need a server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ftm_assets.testing.pg_server import PgServer, start_pg_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A running PostgreSQL cluster on 127.0.0.1 (password auth), stopped and deleted after the session."""
    server = start_pg_server()
    try:
        yield server
    finally:
        server.stop()
