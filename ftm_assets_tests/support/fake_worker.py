"""A small real Dagster Pipes worker for the Batch client scenarios (the client is under test, not the model).

It opens Pipes exactly as the real worker does (``ftm_assets.worker.pipes_io.open_pipes``) and behaves as
``FAKE_WORKER_SCENARIO`` says: report everything, exit non-zero, report nothing, hang, or report part of
the result and wait to be "interrupted" on attempt 1.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from dagster_pipes import PipesEnvVarParamsLoader

from ftm_assets.pipes_keys import attempt_key_prefix
from ftm_assets.worker.env import WorkerEnv
from ftm_assets.worker.pipes_io import open_pipes
from ftm_assets_tests.support.local_batch_executor import INTERRUPT_MARKER

ASSETS = ("firm_topics", "firm_topic_failures")
CHECK = ("firm_topic_failures", "failure_rate")


def report_all(pipes, attempt: int) -> None:
    for asset in ASSETS:
        pipes.report_asset_materialization(asset_key=asset, metadata={"attempt": attempt})
    pipes.report_asset_check(asset_key=CHECK[0], check_name=CHECK[1], passed=True, metadata={"attempt": attempt})


def wait_until_flushed(attempt: int) -> None:
    """Block until this attempt's first message chunk is on S3, so the interruption leaves a partial report."""
    params = PipesEnvVarParamsLoader().load_messages_params()
    s3 = boto3.client("s3")
    prefix = attempt_key_prefix(params["key_prefix"], attempt) + "/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if s3.list_objects_v2(Bucket=params["bucket"], Prefix=prefix).get("KeyCount", 0):
            return
        time.sleep(0.1)
    raise TimeoutError(f"no message chunk under {prefix}")


def main() -> int:
    scenario = os.environ.get("FAKE_WORKER_SCENARIO", "success")
    attempt = WorkerEnv.read().batch_attempt
    if scenario == "silent":
        print("ran without opening Pipes")
        return 0
    with open_pipes(attempt=attempt, message_interval_s=0) as pipes:
        pipes.log.info(f"fake worker: scenario {scenario}, attempt {attempt}")
        if scenario == "interrupt_always" or (scenario == "interrupt_first" and attempt == 1):
            pipes.report_asset_materialization(asset_key=ASSETS[0], metadata={"attempt": attempt})
            wait_until_flushed(attempt)
            print(INTERRUPT_MARKER, flush=True)
            time.sleep(600)
        if scenario == "hang":
            print("STARTED", flush=True)
            time.sleep(600)
        if scenario == "slow":
            time.sleep(float(os.environ.get("FAKE_WORKER_SLEEP_S", "3")))
        if scenario == "exit_nonzero":
            pipes.log.error("fake worker: giving up")
            print("fatal: simulated worker failure", flush=True)
        else:
            report_all(pipes, attempt)
    return 3 if scenario == "exit_nonzero" else 0


if __name__ == "__main__":
    sys.exit(main())
