"""FirmProcessor end to end on demo firms: overlapped and sequential runs agree, failures stay in order; the tone
classifier (FTM_TONE_MODEL) scores what it prepares, and a missing one fails first."""

import logging
from dataclasses import replace

import numpy as np
import pytest

from ftm_assets.worker_config import EmbeddingSettings, TopicParams, WorkerConfig
from ftm_assets.worker.failures import EmptyTranscript, InsufficientText
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.processor import FirmProcessor, FirmResult
from ftm_assets.worker.model.tone_model import ToneModelError
from ftm_assets.worker.segment import Component
from ftm_assets_tests.support.tiny_tone_model import tiny_tone_model

QUARTER = "2024Q4"
LOG = logging.getLogger("test_processor")


def _cfg() -> WorkerConfig:
    return WorkerConfig(quarter=QUARTER, batch="000", storage_root="/unused", run_id="r1",
                        embedding=EmbeddingSettings(device="cpu"))


def _firms() -> list[FirmInput]:
    from ftm_assets.transcripts.demo import demo_transcripts
    from ftm_assets.worker.inputs import iter_firms

    table = demo_transcripts(QUARTER, n_firms=1)
    demo = list(iter_firms(table, list(dict.fromkeys(table.column("firm_id").to_pylist()))))
    empty = FirmInput("E1", "Empty Co", None, None, None, [Component(1, 0, "Executives", "  ")])
    short = FirmInput("S1", "Short Co", None, None, None, [Component(1, 0, "Executives", "Revenue grew strongly this quarter.")])
    return [empty, demo[0], short]


@pytest.fixture(scope="module")
def processor() -> FirmProcessor:
    return FirmProcessor(_cfg(), LOG)


def _topics(result: FirmResult) -> list[tuple]:
    return [(r["topic_id"], tuple(r["sentence_ids"]), tuple(r["keywords"])) for r in result.topic_rows]


@pytest.mark.slow
def test_overlapped_run_matches_sequential_and_keeps_order(processor):
    firms = _firms()
    processor.pipeline_depth = 1
    overlapped = list(processor.results(firms, QUARTER))
    processor.pipeline_depth = 0
    sequential = list(processor.results(firms, QUARTER))

    assert [f.firm_id for f, _ in overlapped] == [f.firm_id for f in firms]
    assert isinstance(overlapped[0][1], EmptyTranscript)
    assert isinstance(overlapped[2][1], InsufficientText) and overlapped[2][1].n_sentences == 1
    a, b = overlapped[1][1], sequential[1][1]
    assert isinstance(a, FirmResult) and isinstance(b, FirmResult)
    assert _topics(a) == _topics(b)  # same input and seed, same topics, whatever the scheduling
    assert a.n_sentences == len(a.sentence_rows) >= 200
    assert {r["firm_id"] for r in a.topic_rows} == {firms[1].firm_id}
    assert sum(1 for r in a.topic_rows if r["topic_id"] >= 0) >= 2
    assert {"segment", "embed", "fit"} <= set(processor.timings)
    meta = processor.file_metadata()
    assert (meta["ftm.embedding_backend"], meta["ftm.embedding_precision"]) in {
        ("torch", "fp32"), ("torch", "bf16"), ("onnx", "fp32")
    }  # what choose_backend picks on a CPU
    assert meta["ftm.pipeline_depth"] == "0"


@pytest.mark.slow
def test_consumer_stopping_early_leaves_no_thread(processor):
    import threading

    from ftm_assets.worker.prefetch import THREAD_NAME

    processor.pipeline_depth = 1
    gen = processor.results(_firms(), QUARTER)
    firm, result = next(gen)
    assert firm.firm_id == "E1" and isinstance(result, EmptyTranscript)
    gen.close()
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME) and t.is_alive()]


def test_a_missing_tone_model_fails_before_any_model_loads(tmp_path):
    cfg = replace(_cfg(), embedding=EmbeddingSettings(device="cpu", tone_model=str(tmp_path / "finbert")))
    with pytest.raises(ToneModelError, match=f"{tmp_path / 'finbert'} does not exist"):
        FirmProcessor(cfg, LOG)


def test_the_tone_classifier_scores_each_prepared_sentence_and_is_recorded(tmp_path):
    tone = tiny_tone_model(tmp_path / "tone")
    cfg = replace(_cfg(), topics=TopicParams(min_sentences=3),
                  embedding=EmbeddingSettings(device="cpu", backend="torch", tone_model=tone, fit_workers=0))
    processor = FirmProcessor(cfg, LOG)
    texts = ["Revenue grew strongly this quarter.", "Margins declined in the quarter.", "We expect uncertain demand."]
    firm = FirmInput("T1", "Tone Co", None, None, None, [Component(1, i, "Executives", t) for i, t in enumerate(texts)])
    prepared = processor.prepare(firm, QUARTER)
    expected = processor.tone_classifier.score([s.text for s in prepared.sentences])
    assert prepared.tone_scores is not None and len(prepared.tone_scores) == len(prepared.sentences) == 3
    np.testing.assert_array_equal(prepared.tone_scores, expected)
    assert processor._fit_args(firm, QUARTER, prepared)[-1] is prepared.tone_scores  # handed to fit_firm
    meta = processor.file_metadata()
    assert meta["ftm.tone_model"] == tone and len(meta["ftm.tone_model_fingerprint"]) == 16
    assert "tone_model" in processor.timings
