"""The worker's entry point: the immediate exit with the outcome's code (output flushed), and refusing to run
when started by hand."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ftm_assets.worker import __main__ as worker_main


class _Ended(Exception):
    pass


@pytest.mark.parametrize("outcome, code", [("returns", 0), ("raises", 1), ("exits", 3)])
def test_main_ends_the_process_with_the_outcome_code(monkeypatch, capsys, outcome, code):
    ended = []

    def run():
        if outcome == "raises":
            raise worker_main.BatchFailed("boom: partition held by another run")
        if outcome == "exits":
            raise SystemExit(3)
        return worker_main.EXIT_OK

    def end_process(code):
        ended.append(code)
        raise _Ended

    monkeypatch.setattr(worker_main, "run", run)
    monkeypatch.setattr(worker_main, "end_process", end_process)
    with pytest.raises(_Ended):
        worker_main.main()
    assert ended == [code]
    if outcome == "raises":  # the traceback still reaches the job's log
        assert "BatchFailed: boom: partition held by another run" in capsys.readouterr().err


def test_end_process_flushes_what_was_written_before_it_exits():
    script = ("import sys; from ftm_assets.worker.__main__ import end_process; "
              "sys.stdout.write('last words'); sys.stderr.write('and these'); end_process(5)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (5, "last words", "and these")


def test_worker_started_by_hand_says_how_to_run_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_PIPES")}
    done = subprocess.run([sys.executable, "-m", "ftm_assets.worker"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == worker_main.EXIT_NOT_UNDER_DAGSTER
    assert "DAGSTER_PIPES_CONTEXT" in done.stderr
