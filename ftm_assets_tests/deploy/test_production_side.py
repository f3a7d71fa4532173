"""The production Dagster side as it runs: PostgreSQL, a code server, the daemon and the webserver.

Started by ``docker/dagster/entrypoint.sh`` (code-server, daemon, webserver roles) with the shipped
``docker/dagster/dagster.yaml`` as the instance, pointed at a throwaway PostgreSQL through the variables the
compose file sets. A backfill of two demo quarters (every asset, two batches each) is launched through the
webserver's GraphQL API; then: every run was queued and started by the daemon, no two runs of one partition
overlapped, no two batch steps overlapped (pool limit 1), every asset partition is materialized, the run
history is in PostgreSQL, and the transcript watch and the automation sensor, started from the API, recorded
their ticks (the watch a baseline; neither launched a run). The batch worker
is the real worker protocol with the scripted processor (FTM_WORKER_MODULE), so the test is about the
deployment, not the model.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ftm_assets.automation import AUTOMATION_SENSOR
from ftm_assets.automation.watch import WATCH_SENSOR
from ftm_assets_tests.support.pg_server import free_port, start_pg_server
from ftm_assets_tests.support.dagster_dev import (
    DevServer, _die_with_parent, daemon_tick_env, launch_backfill, wait_for_backfill,
)
from ftm_assets_tests.support.scripted_pipes_worker import SCRIPTED_WORKER_MODULE

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker" / "dagster"
BIN = Path(sys.executable).parent
QUARTERS = ["2024Q3", "2024Q4"]
ASSETS = ["raw_transcripts", "firm_manifest", "firm_topics", "firm_topic_failures", "quarter_topic_summary",
          "quarter_themes", "theme_exposure"]
BATCHES = ["000", "001"]
POOL_LIMIT = 1
BATCH_OP = "firm_topics_batch"
# The backfill daemon looks every 30 s (Dagster's fixed daemon interval; here every DAEMON_TICK_S, see
# support/daemon_tick/) and the graph has three levels; a loaded 2-core machine adds run start-up time on top.
BACKFILL_TIMEOUT_S = 300

pytestmark = [pytest.mark.timeout(480)]


def _start(role: str, env: dict[str, str], workdir: Path) -> subprocess.Popen:
    log = (workdir / f"{role}.log").open("wb")
    return subprocess.Popen(["bash", str(DOCKER / "entrypoint.sh"), role], cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
            return


def _wait_for_code_server(env: dict[str, str], proc: subprocess.Popen, workdir: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"code server exited:\n{(workdir / 'code-server.log').read_text()[-3000:]}")
        ping = subprocess.run([str(BIN / "dagster"), "api", "grpc-health-check", "-p", env["DAGSTER_CODE_SERVER_PORT"]],
                              env=env, capture_output=True, timeout=30)
        if ping.returncode == 0:
            return
        time.sleep(1.0)
    raise AssertionError(f"code server not serving after {timeout_s} s")


def _wait_for_webserver(server: DevServer, timeout_s: float = 90) -> None:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"webserver exited:\n{server.log_tail()}")
        with contextlib.suppress(Exception):
            entries = server.graphql(query)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        time.sleep(1.0)
    raise AssertionError(f"webserver not ready after {timeout_s} s:\n{server.log_tail()}")


def _wait_for_quarters(server: DevServer, timeout_s: float = 60) -> None:
    """The daemon's entrypoint adds the quarter partitions before it starts: wait until the API lists them."""
    query = '{ assetNodes(assetKeys: [{path: ["raw_transcripts"]}]) { partitionKeys } }'
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        nodes = server.graphql(query)["assetNodes"]  # empty while the code location is still loading
        if nodes and set(QUARTERS) <= set(nodes[0]["partitionKeys"] or []):
            return
        time.sleep(1.0)
    raise AssertionError(f"quarters {QUARTERS} not partitions after {timeout_s} s")


@pytest.fixture
def deployment(tmp_path) -> Iterator[dict]:
    pg = start_pg_server(tmp_path)
    procs: list[subprocess.Popen] = []
    try:
        pg.create_database("dagster")
        home = tmp_path / "home"
        home.mkdir()
        shutil.copy(DOCKER / "dagster.yaml", home / "dagster.yaml")  # the shipped instance, unchanged
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FTM_", "DAGSTER_"))}
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1",
            DAGSTER_HOME=str(home), DAGSTER_PG_HOST=pg.host, DAGSTER_PG_PORT=str(pg.port), DAGSTER_PG_DB="dagster",
            DAGSTER_PG_USERNAME=pg.superuser, DAGSTER_PG_PASSWORD=pg.password,
            DAGSTER_BIND_HOST="127.0.0.1", DAGSTER_CODE_SERVER_HOST="127.0.0.1",
            DAGSTER_CODE_SERVER_PORT=str(free_port()), DAGSTER_WEBSERVER_PORT=str(free_port()),
            FTM_ENV="local", FTM_TRANSCRIPT_SOURCE="demo", FTM_DEMO_FIRMS="6", FTM_BATCH_COUNT=str(len(BATCHES)),
            FTM_FIRST_QUARTER=QUARTERS[0], FTM_LAST_QUARTER=QUARTERS[-1], FTM_STORAGE_ROOT=str(tmp_path / "root"),
            FTM_MAX_BATCH_JOBS_IN_FLIGHT=str(POOL_LIMIT), FTM_WORKER_MODULE=SCRIPTED_WORKER_MODULE,
        )
        env.update(daemon_tick_env(env))  # the backfill daemon ticks every few seconds, not every 30
        # All three at once, as compose starts them: the webserver and the daemon retry the code server.
        code = _start("code-server", env, tmp_path)
        procs.append(code)
        web = _start("webserver", env, tmp_path)
        procs.append(web)
        procs.append(_start("daemon", env, tmp_path))
        _wait_for_code_server(env, code, tmp_path)
        url = f"http://127.0.0.1:{env['DAGSTER_WEBSERVER_PORT']}"
        server = DevServer(url, home, tmp_path / "root", tmp_path / "webserver.log", web)
        _wait_for_webserver(server)
        _wait_for_quarters(server)
        yield {"server": server, "env": env, "pg": pg, "home": home, "logs": tmp_path}
    finally:
        for proc in reversed(procs):
            _stop(proc)
        pg.stop()


def _events(instance: dg.DagsterInstance, run_id: str) -> list:
    return [e for e in instance.all_logs(run_id) if e.dagster_event is not None]


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda p: (p[0], p[1]))
    level = peak = 0
    for _, step in points:
        level += step
        peak = max(peak, level)
    return peak


def _start_sensor(server: DevServer, name: str) -> None:
    data = server.graphql(
        """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename
             ... on Sensor { sensorState { status } } ... on PythonError { message } } }""",
        s={"repositoryLocationName": "ftm_assets", "repositoryName": "__repository__", "sensorName": name},
    )["startSensor"]
    assert data["__typename"] == "Sensor", data


def _sensor_ticks(server: DevServer, name: str) -> list[dict]:
    data = server.graphql(
        """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { __typename
             ... on Sensor { sensorState { ticks(limit: 5) { status skipReason runIds error { message } } } } } }""",
        s={"repositoryLocationName": "ftm_assets", "repositoryName": "__repository__", "sensorName": name},
    )["sensorOrError"]
    return data["sensorState"]["ticks"]


def _first_tick(server: DevServer, name: str, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = [t for t in _sensor_ticks(server, name) if t["status"] in ("SKIPPED", "SUCCESS", "FAILURE")]
        if done:
            assert done[0]["status"] != "FAILURE", done[0]
            return done[0]
        time.sleep(1.0)
    raise AssertionError(f"no tick of {name} after {timeout_s} s")


def test_backfill_through_the_api_on_postgres_with_the_daemon(deployment):
    server, env, pg = deployment["server"], deployment["env"], deployment["pg"]
    t0 = time.monotonic()
    backfill = wait_for_backfill(server, launch_backfill(server, QUARTERS, ASSETS), timeout_s=BACKFILL_TIMEOUT_S)
    seconds = time.monotonic() - t0
    print(f"production side: backfill finished in {seconds:.0f} s")
    logs = deployment["logs"]
    assert backfill["status"] == "COMPLETED_SUCCESS", (
        backfill, (logs / "daemon.log").read_text()[-3000:], (logs / "code-server.log").read_text()[-3000:])

    old = {k: os.environ.get(k) for k in env if k.startswith("DAGSTER_PG_") or k == "DAGSTER_HOME"}
    os.environ.update({k: env[k] for k in old})
    try:
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            # The daemon that dequeues runs heartbeats into the same database.
            assert "QUEUED_RUN_COORDINATOR" in instance.get_daemon_heartbeats()
            records = instance.get_run_records()
            assert records and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
            by_partition: dict[str, list[tuple[float, float]]] = {}
            batch_steps: list[tuple[float, float]] = []
            for record in records:
                events = _events(instance, record.dagster_run.run_id)
                kinds = {e.dagster_event.event_type for e in events}
                # Queued by the backfill, then launched from the queue by the daemon (STARTING) and run.
                assert {dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING,
                        dg.DagsterEventType.RUN_START} <= kinds, kinds
                enqueued = min(e.timestamp for e in events if e.dagster_event.event_type == dg.DagsterEventType.RUN_ENQUEUED)
                starting = min(e.timestamp for e in events if e.dagster_event.event_type == dg.DagsterEventType.RUN_STARTING)
                assert enqueued <= starting
                partition = record.dagster_run.tags["dagster/partition"]
                by_partition.setdefault(partition, []).append((record.start_time, record.end_time))
                starts = {e.step_key: e.timestamp for e in events
                          if e.dagster_event.event_type == dg.DagsterEventType.STEP_START}
                for e in events:
                    if e.dagster_event.event_type == dg.DagsterEventType.STEP_SUCCESS and e.step_key == BATCH_OP:
                        batch_steps.append((starts[e.step_key], e.timestamp))
            assert all(_max_overlap(spans) == 1 for spans in by_partition.values()), by_partition
            assert len(batch_steps) == len(QUARTERS) * len(BATCHES)
            assert _max_overlap(batch_steps) <= POOL_LIMIT, batch_steps
            for asset in ASSETS:
                done = instance.get_materialized_partitions(dg.AssetKey(asset))
                expected = ({f"{b}|{q}" for q in QUARTERS for b in BATCHES} if asset.startswith("firm_topic")
                            else set(QUARTERS))
                assert expected <= set(done), (asset, done)

            # The history is PostgreSQL's, not a file next to the instance.
            conn = pg.connect("dagster")
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
                    assert cur.fetchone()[0] == len(records)
                    cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
                    assert cur.fetchone()[0] >= len(QUARTERS) * (len(ASSETS) - 2) + 2 * len(QUARTERS) * len(BATCHES)
            finally:
                conn.close()

            # Automation turned on from the API over finished quarters: the watch records a baseline, and the
            # automation condition sensor (its Python conditions evaluated in the code server) requests nothing.
            for sensor in (WATCH_SENSOR, AUTOMATION_SENSOR):
                _start_sensor(server, sensor)
            ticks = {name: _first_tick(server, name) for name in (WATCH_SENSOR, AUTOMATION_SENSOR)}
            watch = ticks[WATCH_SENSOR]
            assert watch["status"] == "SKIPPED" and "baseline recorded" in watch["skipReason"], watch
            assert not watch["runIds"] and not ticks[AUTOMATION_SENSOR]["runIds"], ticks
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    print(f"production side: backfill of {len(QUARTERS)} quarters in {seconds:.0f} s, "
          f"checks and watch tick {time.monotonic() - t0 - seconds:.0f} s")
