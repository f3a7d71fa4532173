"""A real ``dagster dev`` (webserver + daemon) on a free loopback port, driven through its GraphQL API.

``running_dagster_dev`` starts one in a folder of the caller's (a test's tmp_path: DAGSTER_HOME, storage
root, log) and stops its whole process group when the ``with`` block ends, also when it ends with an error;
should pytest itself be killed, the kernel sends ``dagster dev`` SIGTERM (``PR_SET_PDEATHSIG``), so no
server outlives the session. Only ``test_dagster_dev.py`` starts one (module-scoped), and ``make screenshots``
(``support/ui.py``).

The scenario is what an operator does: backfill two quarters of every asset with at most two batch jobs in
flight; one batch has a storage problem (a folder where its checkpoint file must go), so the backfill ends
partly failed; the problem is fixed and the backfill is re-executed from failure, which re-runs only the
failed partitions and what depends on them.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DAEMON_TICK_DIR = Path(__file__).resolve().parent / "daemon_tick"
DAGSTER = Path(sys.executable).parent / "dagster"
QUARTERS = ["2024Q3", "2024Q4"]
BATCH_COUNT = 2
DEMO_FIRMS = 3  # batch 000 gets two firms, batch 001 one (the broken one, so its retry is the cheapest)
POOL = "ftm_batch_gpu"
POOL_LIMIT = 2  # below the batch count of two quarters, so the pool has to hold runs back
BROKEN_QUARTER, BROKEN_BATCH = "2024Q4", "001"
# Generous: the backfill daemon needs four ticks for three levels (every DAEMON_TICK_S here, 30 s in Dagster),
# and a shared 2-core machine can be several times slower than an idle one.
BACKFILL_TIMEOUT_S = 480
RETRY_TIMEOUT_S = 300
# The daemon's backfill loop ticks this often in these tests instead of Dagster's fixed 30 s (daemon_tick/).
DAEMON_TICK_S = 2
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


class DagsterDevError(RuntimeError):
    """dagster dev did not start, or a GraphQL call failed; the message carries the server's log tail."""


@dataclass
class DevServer:
    url: str
    home: Path
    storage_root: Path
    log_path: Path
    proc: subprocess.Popen

    def log_tail(self, n: int = 40) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(lines[-n:])

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.load(response)
        except (urllib.error.URLError, TimeoutError) as exc:
            raise DagsterDevError(f"GraphQL call to {self.url} failed: {exc}\n{self.log_tail()}") from exc
        if payload.get("errors"):
            raise DagsterDevError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM to the whole process group, then SIGKILL what is left after ``grace_s``."""
        pgid = self.proc.pid  # start_new_session=True: the group id is dagster dev's pid
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(pgid):
                self.proc.poll()
                time.sleep(0.3)
            if not _group_alive(pgid):
                break
        self.proc.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dev_env(home: Path, storage_root: Path, worker_module: str | None = None) -> dict[str, str]:
    """The caller's environment without its FTM_* settings, plus a small demo and offline models.

    ``worker_module`` (FTM_WORKER_MODULE) replaces the shipped worker, e.g. by the scripted Pipes worker.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTM_")}
    env.update(
        DAGSTER_HOME=str(home),
        FTM_ENV="local",
        FTM_TRANSCRIPT_SOURCE="demo",
        FTM_STORAGE_ROOT=str(storage_root),
        FTM_DEMO_FIRMS=str(DEMO_FIRMS),
        FTM_BATCH_COUNT=str(BATCH_COUNT),
        FTM_FIRST_QUARTER=QUARTERS[0],
        FTM_LAST_QUARTER=QUARTERS[-1],
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        NUMBA_CACHE_DIR=str(REPO / ".cache" / "numba"),
        PYTHONUNBUFFERED="1",
    )
    if worker_module:
        env["FTM_WORKER_MODULE"] = worker_module
    env.update(daemon_tick_env(env))
    return env


def daemon_tick_env(env: dict[str, str], tick_s: int = DAEMON_TICK_S) -> dict[str, str]:
    """What a process tree needs so its Dagster daemon's backfill loop ticks every ``tick_s`` seconds.

    ``daemon_tick/sitecustomize.py`` (first on PYTHONPATH) sets Dagster's fixed 30 s interval at import time.
    """
    path = [str(DAEMON_TICK_DIR), *filter(None, [env.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(path), "FTM_TEST_DAEMON_TICK_S": str(tick_s)}


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it (pytest) dies, even by SIGKILL.

    ``dagster dev`` stops its webserver, daemon and code server on SIGTERM, so nothing is left running.
    """
    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_dagster_dev(workdir: Path, pool_limit: int = POOL_LIMIT, startup_timeout_s: float = 120.0,
                      worker_module: str | None = None) -> DevServer:
    """``make dev`` in miniature: the repo's dagster.yaml, the pool limit, then ``dagster dev``."""
    home, storage_root = workdir / "dagster_home", workdir / "data"
    home.mkdir(parents=True)
    storage_root.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = dev_env(home, storage_root, worker_module)
    subprocess.run(
        [str(DAGSTER), "instance", "concurrency", "set", POOL, str(pool_limit)],
        env=env, cwd=REPO, check=True, capture_output=True, timeout=120,
    )
    # The quarter partitions live on the instance (make dev adds them the same way before it starts).
    subprocess.run([sys.executable, "-m", "ftm_assets.automation.calendar_sensor"],
                   env=env, cwd=REPO, check=True, capture_output=True, timeout=120)
    port = free_port()
    log_path = workdir / "dagster_dev.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(DAGSTER), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO / "workspace.yaml")],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    server = DevServer(f"http://127.0.0.1:{port}", home, storage_root, log_path, proc)
    try:
        _wait_until_loaded(server, startup_timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_dagster_dev(workdir: Path, pool_limit: int = POOL_LIMIT,
                        worker_module: str | None = None) -> Iterator[DevServer]:
    """``dagster dev`` under ``workdir`` for the ``with`` block; stopped at its end however it ends."""
    server = start_dagster_dev(workdir, pool_limit, worker_module=worker_module)
    try:
        yield server
    finally:
        server.stop()


def _wait_until_loaded(server: DevServer, timeout_s: float) -> None:
    query = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
                 locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise DagsterDevError(f"dagster dev exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            entries = server.graphql(query)["workspaceOrError"]["locationEntries"]
        except DagsterDevError as exc:
            last = str(exc).splitlines()[0]
            time.sleep(1.0)
            continue
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [e["locationOrLoadError"] for e in entries
                      if e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise DagsterDevError(f"The code location did not load: {errors}")
            return
        last = f"locations {entries}"
        time.sleep(1.0)
    raise DagsterDevError(f"dagster dev was not ready after {timeout_s:.0f} s ({last}):\n{server.log_tail()}")


# -- GraphQL steps an operator takes in the UI ------------------------------------------------------------

ASSET_NODES = """{ assetNodes { assetKey { path } partitionKeys
    partitionStats { numMaterialized numPartitions numFailed numMaterializing }
    assetChecksOrError { ... on AssetChecks { checks { name } } } } }"""


def asset_nodes(server: DevServer) -> dict[str, dict[str, Any]]:
    return {"/".join(n["assetKey"]["path"]): n for n in server.graphql(ASSET_NODES)["assetNodes"]}


def launch_backfill(server: DevServer, quarters: list[str], assets: list[str]) -> str:
    """Backfill ``assets`` for ``quarters``: batch partitions follow from the graph's partition mappings."""
    data = server.graphql(
        """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        params={"partitionNames": quarters, "assetSelection": [{"path": [a]} for a in assets],
                "title": f"ftm: {', '.join(quarters)}"},
    )["launchPartitionBackfill"]
    if data["__typename"] != "LaunchBackfillSuccess":
        raise DagsterDevError(f"Backfill was not launched: {data}")
    return data["backfillId"]


def retry_from_failure(server: DevServer, backfill_id: str) -> str:
    """The UI's "Re-execute from failure" on a backfill: a new backfill of the failed partitions only."""
    data = server.graphql(
        """mutation($id: String!) { reexecutePartitionBackfill(reexecutionParams:
             {parentRunId: $id, strategy: FROM_FAILURE}) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        id=backfill_id,
    )["reexecutePartitionBackfill"]
    if data["__typename"] != "LaunchBackfillSuccess":
        raise DagsterDevError(f"Backfill {backfill_id} was not re-executed: {data}")
    return data["backfillId"]


BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
    ... on PartitionBackfill { id status numPartitions
      runs { runId status creationTime startTime endTime tags { key value } assetSelection { path } } }
    ... on PythonError { message } } }"""


def wait_for_backfill(server: DevServer, backfill_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        backfill = server.graphql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        if backfill.get("status") in FINISHED:
            return backfill
        if time.monotonic() > deadline:
            raise DagsterDevError(f"Backfill {backfill_id} still {backfill.get('status')} after {timeout_s:.0f} s; "
                                  f"runs: {[(r['runId'][:8], r['status']) for r in backfill.get('runs', [])]}")
        time.sleep(2.0)


def check_executions(server: DevServer, asset: str, check: str) -> list[dict[str, Any]]:
    """Every execution of ``check`` on ``asset``, newest first: partition (may be null), run id, status."""
    return server.graphql(
        """query($key: AssetKeyInput!, $check: String!) {
             assetCheckExecutions(assetKey: $key, checkName: $check, limit: 100) { partition runId status } }""",
        key={"path": [asset]}, check=check,
    )["assetCheckExecutions"]


# -- the shared scenario ----------------------------------------------------------------------------------

@dataclass
class Scenario:
    server: DevServer
    assets: list[str]
    first: dict[str, Any]
    retry: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


def break_batch(storage_root: Path) -> Path:
    """A folder where the batch's checkpoint file must be written: the worker fails at once, reproducibly."""
    path = storage_root / "progress" / BROKEN_QUARTER / f"batch_{BROKEN_BATCH}_checkpoint.json"
    path.mkdir(parents=True)
    return path


def run_scenario(server: DevServer) -> Scenario:
    seconds: dict[str, float] = {}
    assets = sorted(asset_nodes(server))
    broken = break_batch(server.storage_root)
    t0 = time.monotonic()
    first = wait_for_backfill(server, launch_backfill(server, QUARTERS, assets), timeout_s=BACKFILL_TIMEOUT_S)
    seconds["backfill"] = time.monotonic() - t0
    broken.rmdir()  # the operator fixes the storage problem ...
    t0 = time.monotonic()
    retry_id = retry_from_failure(server, first["id"])  # ... and re-executes the backfill from failure
    retry = wait_for_backfill(server, retry_id, timeout_s=RETRY_TIMEOUT_S)
    seconds["retry"] = time.monotonic() - t0
    return Scenario(server, assets, first, retry, seconds)
