"""A processor without a model, for tests of the batch protocol (checkpoints, commit, lease, crashes).

Each firm gets one topic row and one sentence row per component, derived only from its input (so two runs
over the same input write identical outputs), or raises what ``script`` names for it. ``seen`` lists the
firms it was asked to process, in order; ``delay_s`` makes each firm take that long (to overlap two runs).
"""

from __future__ import annotations

import datetime as dt
import time

from ftm_assets.worker.processor import FirmResult

STAMP = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


class ScriptedProcessor:
    script: dict[str, BaseException] = {}
    seen: list[str] = []
    load_s = 0.0
    delay_s = 0.0

    def __init__(self, cfg, log):
        time.sleep(self.load_s)
        self.timings: dict[str, float] = {}

    def file_metadata(self) -> dict[str, str]:
        return {"ftm.embedding_model": "scripted"}

    def results(self, firms, quarter):
        for firm in firms:
            type(self).seen.append(firm.firm_id)
            time.sleep(self.delay_s)
            if firm.firm_id in self.script:
                yield firm, self.script[firm.firm_id]
                continue
            yield firm, self.result(firm, quarter)

    @staticmethod
    def result(firm, quarter) -> FirmResult:
        texts = [c.text for c in firm.components if c.text]
        topic = {"firm_id": firm.firm_id, "firm_name": firm.firm_name, "quarter": quarter, "permno": firm.permno,
                 "gvkey": firm.gvkey, "earnings_call_date": firm.earnings_call_date, "topic_id": 0,
                 "representation": f"{firm.firm_id} topic", "keywords": sorted(set(" ".join(texts).split()))[:5],
                 "n_sentences": len(texts), "sentence_ids": list(range(len(texts))), "processing_timestamp": STAMP}
        sentences = [{"quarter": quarter, "firm_id": firm.firm_id, "sentence_id": i, "call_id": c.call_id,
                      "component_order": c.component_order, "speaker_type": c.speaker_type, "text": c.text}
                     for i, c in enumerate(c for c in firm.components if c.text)]
        return FirmResult([topic], sentences, len(texts))


def scripted(script: dict[str, BaseException] | None = None, load_s: float = 0.0,
             delay_s: float = 0.0) -> type[ScriptedProcessor]:
    """A fresh ScriptedProcessor class (its own ``seen`` list) with this script."""
    return type("Scripted", (ScriptedProcessor,),
                {"script": script or {}, "seen": [], "load_s": load_s, "delay_s": delay_s})
