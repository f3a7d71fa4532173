"""The benchmark's firms: the 125 real Earnings-22 calls (read in place) and the synthetic demo corpus.

Both come back as the worker's own ``FirmInput`` objects, so the benchmark feeds the worker exactly what
the batch loop would. Real calls have no speaker roles: speaker 0 (usually the operator or host) is
marked ``operator`` so segmentation drops call logistics as it does for Capital IQ data.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

from ftm_assets.worker_config import EmbeddingSettings, WorkerConfig
from ftm_assets.worker.env import WorkerEnv
from ftm_assets.worker.inputs import FirmInput, iter_firms
from ftm_assets_tests.support.earnings22_calls import EARNINGS22  # above the checkout, or FTM_EARNINGS22
from ftm_assets.worker.segment import Component

DEMO_QUARTER = "2024Q4"


def real_firms(limit: int | None = None, path: Path = EARNINGS22) -> list[FirmInput]:
    """One firm per real call, in file order; empty when the corpus is absent (the caller notes it)."""
    if not path.exists():
        return []
    firms: list[FirmInput] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            call = json.loads(line)
            components = [
                Component(None, order, "operator" if turn["speaker"] == 0 else "speaker", turn["text"])
                for order, turn in enumerate(call["turns"])
            ]
            firms.append(FirmInput(f"e22-{call['file_id']}", call.get("ticker"), None, None, None, components))
            if limit is not None and len(firms) >= limit:
                break
    return firms


def demo_firms(n_firms: int, quarter: str = DEMO_QUARTER) -> list[FirmInput]:
    """The synthetic demo corpus's first ``n_firms`` firms for ``quarter``."""
    from ftm_assets.transcripts.demo import demo_transcripts

    table = demo_transcripts(quarter, n_firms=n_firms)
    ids = list(dict.fromkeys(table.column("firm_id").to_pylist()))
    return list(iter_firms(table, ids))


def bench_config() -> WorkerConfig:
    """The worker's configuration for a benchmark: CPU, and this machine's FTM_* embedder settings.

    Fits run in the benchmark's own process (the serial reference) unless FTM_FIT_WORKERS says otherwise.
    """
    embedding = EmbeddingSettings(device="cpu").over(WorkerEnv.read().embedding)
    if embedding.fit_workers is None:
        embedding = replace(embedding, fit_workers=0)
    return WorkerConfig(quarter=DEMO_QUARTER, batch="000", storage_root="/unused", run_id="bench",
                        embedding=embedding)  # fmt: skip
