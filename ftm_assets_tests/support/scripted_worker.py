"""``python -m ftm_assets_tests.support.scripted_worker ROOT QUARTER RUN_ID [DELAY_S]``: the worker's real batch
protocol (``run_batch``: lease, checkpoints, commit, cleanup, the crash hook) in a process of its own, with the
scripted processor instead of the model, so crash and concurrency tests start in a second, not in thirty.

Exit 0 when the batch committed, 1 with the failure message on stderr when it did not; ``FTM_TEST_CRASH_AT``
crashes it like the real worker.
"""

from __future__ import annotations

import logging
import sys

from ftm_assets.storage import open_storage
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker_config import WorkerConfig
from ftm_assets_tests.support.scripted_processor import scripted


def main(argv: list[str]) -> int:
    root, quarter, run_id = argv[:3]
    delay_s = float(argv[3]) if len(argv) > 3 else 0.0
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    cfg = WorkerConfig.from_extras({"quarter": quarter, "batch": "000", "storage_root": root, "run_id": run_id,
                                    "checkpoint_every": 1})
    storage = open_storage(root)
    outcome = run_batch(cfg, storage, logging.getLogger("scripted-worker"), scripted(delay_s=delay_s))
    if outcome.error is not None:
        print(outcome.failure_message(storage), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
