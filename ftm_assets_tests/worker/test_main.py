"""The worker's entry point: the quick exit (collector frozen), and refusing to run when started by hand."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ftm_assets.worker import __main__ as worker_main


@pytest.mark.parametrize("outcome", ["returns", "raises"])
def test_main_freezes_the_collector_before_the_process_ends(monkeypatch, outcome):
    frozen = []

    def run():
        if outcome == "raises":
            raise worker_main.BatchFailed("boom")
        return worker_main.EXIT_OK

    monkeypatch.setattr(worker_main, "run", run)
    monkeypatch.setattr(worker_main, "freeze_for_exit", lambda: frozen.append(True))
    if outcome == "raises":
        with pytest.raises(worker_main.BatchFailed):
            worker_main.main()
    else:
        assert worker_main.main() == worker_main.EXIT_OK
    assert frozen == [True]


def test_worker_started_by_hand_says_how_to_run_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_PIPES")}
    done = subprocess.run([sys.executable, "-m", "ftm_assets.worker"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == worker_main.EXIT_NOT_UNDER_DAGSTER
    assert "DAGSTER_PIPES_CONTEXT" in done.stderr
