"""The throwaway PostgreSQL cluster: lives where it is told, and is stopped even when its owner is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from ftm_assets_tests.support.pg_server import PgServerUnavailable, find_pg_bin

try:
    find_pg_bin()
except PgServerUnavailable as exc:  # pragma: no cover - make test installs postgresql
    pytest.skip(str(exc), allow_module_level=True)

OWNER = """
import sys, time
from ftm_assets_tests.support.pg_server import start_pg_server
server = start_pg_server(sys.argv[1])
print(server.port, server.base_dir, server.password, flush=True)
time.sleep(600)
"""


def test_cluster_is_stopped_and_deleted_when_its_owner_is_killed(tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        port, base_dir, password = owner.stdout.readline().split()
        assert Path(base_dir).parent == tmp_path
        psycopg2.connect(host="127.0.0.1", port=int(port), dbname="postgres", user="ftm_admin", password=password).close()
    finally:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
    deadline = time.monotonic() + 30
    while Path(base_dir).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not Path(base_dir).exists()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host="127.0.0.1", port=int(port), dbname="postgres", user="ftm_admin", password=password,
                         connect_timeout=3)  # fmt: skip
