"""Session fixture: one throwaway PostgreSQL cluster shared by every test that needs a server (transcript and returns sources)."""

from __future__ import annotations

import pytest

from ftm_assets_tests.support.pg_server import PgServer, start_pg_server


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PgServer:
    """A running PostgreSQL cluster on 127.0.0.1 (password auth) under pytest's temp folder; a finalizer
    stops and deletes it whatever the tests did, and its watchdog does if pytest itself is killed."""
    server = start_pg_server(tmp_path_factory.mktemp("postgres"))
    request.addfinalizer(server.stop)
    return server
