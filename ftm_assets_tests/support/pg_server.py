"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb into a temp dir, serve on loopback.

Tests talk to a real server (password auth over TCP, like WRDS) instead of a mock. The cluster lives
in a temporary directory (under pytest's ``tmp_path_factory`` in tests), listens on a free 127.0.0.1 port,
and is stopped and deleted by ``stop()``. ``pg_ctl`` detaches the server, so a watchdog process stops it
too when the process that started it dies without calling ``stop()`` (pytest killed, say).
PostgreSQL refuses to run as root, so under root (CI containers) initdb and the server run as the
``postgres`` OS user through ``runuser``; the temp directory is handed to that user first.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_OS_USER_WHEN_ROOT = "postgres"
SUPERUSER = "ftm_admin"


class PgServerUnavailable(RuntimeError):
    """PostgreSQL binaries are missing or the cluster would not start."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name))


def find_pg_bin() -> Path:
    """The newest ``/usr/lib/postgresql/<v>/bin`` holding initdb and pg_ctl, else the PATH's."""
    candidates = sorted(
        (p for p in Path("/").glob(PG_BIN_GLOB.lstrip("/")) if (p / "initdb").exists() and (p / "pg_ctl").exists()),
        key=_version_key,
    )
    if candidates:
        return candidates[-1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    raise PgServerUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or on PATH. "
        "Install them with `apt-get install -y postgresql` (`make test` does this through mk/wrds.mk)."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PgServer:
    """A running cluster: where it listens and how to log in as its superuser."""

    host: str
    port: int
    superuser: str
    password: str
    base_dir: Path
    _bin: Path = field(repr=False)
    _run_as: str | None = field(repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def connect(self, dbname: str = "postgres", user: str | None = None, password: str | None = None):
        """A psycopg2 connection in autocommit mode (DDL and test data loads need no transactions)."""
        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            dbname=dbname,
            user=user or self.superuser,
            password=password or self.password,
            sslmode="disable",
        )
        conn.autocommit = True
        return conn

    def create_database(self, name: str) -> None:
        self.execute(f'CREATE DATABASE "{name}"')

    def create_login(self, user: str, password: str) -> None:
        self.execute(f'CREATE ROLE "{user}" LOGIN PASSWORD %s', (password,))

    def execute(self, sql: str, params: tuple = (), dbname: str = "postgres") -> None:
        """Run one statement as the superuser, outside any transaction (CREATE DATABASE needs that)."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster's directory."""
        if (self.data_dir / "postmaster.pid").exists():
            _run(self._cmd("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w"), self._run_as, check=False)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def _cmd(self, tool: str, *args: str) -> list[str]:
        return [str(self._bin / tool), *args]


def _run(cmd: list[str], run_as: str | None, *, check: bool = True) -> subprocess.CompletedProcess:
    if run_as:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise PgServerUnavailable(
            f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return proc


# Runs detached: waits for the owner process to end, then stops the cluster and deletes its directory.
_WATCHDOG = """
import os, shutil, subprocess, sys, time
owner, base, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while os.path.exists(base):
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)
        break
    time.sleep(1)
"""


def _start_watchdog(server: PgServer) -> None:
    """Stop ``server`` when this process dies without stopping it; the watchdog ends once the cluster is gone."""
    stop = server._cmd("pg_ctl", "stop", "-D", str(server.data_dir), "-m", "immediate", "-w")
    if server._run_as:
        stop = ["runuser", "-u", server._run_as, "--", *stop]
    subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(server.base_dir), *stop],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def _let_traverse(folder: Path) -> None:
    """Let the server's OS user reach a cluster under a private folder (pytest's are 0700): search permission
    (x, not read) for others on ``folder`` and its parents."""
    for path in [folder, *folder.parents]:
        mode = path.stat().st_mode
        if not mode & 0o001:
            path.chmod(mode | 0o001)


def start_pg_server(parent_dir: str | os.PathLike | None = None, *, attempts: int = 3) -> PgServer:
    """initdb a new cluster with password auth and start it on a free loopback port (watched, see above)."""
    pg_bin = find_pg_bin()
    run_as = SERVER_OS_USER_WHEN_ROOT if os.geteuid() == 0 else None
    base_dir = Path(tempfile.mkdtemp(prefix="ftm-pg-", dir=parent_dir))
    password = secrets.token_urlsafe(16)
    server = PgServer("127.0.0.1", 0, SUPERUSER, password, base_dir, pg_bin, run_as)
    try:
        if run_as:
            owner = pwd.getpwnam(run_as)
            _let_traverse(base_dir.parent)
            os.chown(base_dir, owner.pw_uid, owner.pw_gid)
        pwfile = base_dir / "pwfile"
        pwfile.write_text(password + "\n")
        if run_as:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        pwfile.chmod(0o600)
        _run(
            server._cmd(
                "initdb", "-D", str(server.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
            ),
            run_as,
        )
        pwfile.unlink()
        for _ in range(attempts):
            server.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={base_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=30"
            )
            log = base_dir / "server.log"
            proc = _run(
                server._cmd(
                    "pg_ctl", "start", "-D", str(server.data_dir), "-l", str(log), "-w", "-t", "30", "-o", options
                ),
                run_as,
                check=False,
            )
            if proc.returncode == 0:
                _start_watchdog(server)
                return server
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise PgServerUnavailable(f"PostgreSQL did not start after {attempts} ports; server log:\n{tail}")
    except BaseException:
        server.stop()
        raise

