"""FTM_TOPIC_METHOD on the worker: the seed's UMAP + HDBSCAN runs the demo path on CPU inside BERTopic, and the
output files' metadata name the method, only its settings, and the versions of the libraries that fit it."""

import json
import logging

import pytest

from ftm_assets.worker_config import EmbeddingSettings, TopicParams, WorkerConfig
from ftm_assets.worker.processor import FirmProcessor, FirmResult

QUARTER = "2024Q4"
LOG = logging.getLogger("test_topic_method")


def _processor(method: str) -> FirmProcessor:
    cfg = WorkerConfig(quarter=QUARTER, batch="000", storage_root="/unused", run_id="r1",
                       topics=TopicParams(topic_method=method),
                       embedding=EmbeddingSettings(device="cpu", fit_workers=0))
    return FirmProcessor(cfg, LOG)


def _demo_firms(n: int):
    from ftm_assets.transcripts.demo import demo_transcripts
    from ftm_assets.worker.inputs import iter_firms

    table = demo_transcripts(QUARTER, n_firms=n)
    return list(iter_firms(table, list(dict.fromkeys(table.column("firm_id").to_pylist()))))


@pytest.mark.slow
def test_the_umap_method_fits_demo_firms_on_cpu_and_says_so_in_the_metadata():
    processor = _processor("umap")
    results = list(processor.results(_demo_firms(2), QUARTER))
    assert len(results) == 2
    for firm, result in results:
        assert isinstance(result, FirmResult), result
        rows = result.topic_rows
        assert sum(r["topic_id"] >= 0 for r in rows) >= 5, firm.firm_id  # HDBSCAN found topics
        assert all(r["stability"] is None for r in rows)  # the UMAP method measures none
        assert all(r["keywords"] for r in rows if r["topic_id"] >= 0)
        assert sorted(i for r in rows for i in r["sentence_ids"]) == list(range(result.n_sentences))
    meta = processor.file_metadata()
    assert meta["ftm.topic_method"] == "umap" and meta["ftm.topic_backend"] == "bertopic+umap-learn+hdbscan"
    params = json.loads(meta["ftm.params"])
    assert params["topic_method"] == "umap" and params["umap_n_neighbors"] == 10 and "context_window" not in params
    assert {"bertopic", "umap-learn", "hdbscan"} <= set(json.loads(meta["ftm.versions"]))


def test_the_ward_methods_metadata_carry_its_settings_only():
    meta = _processor("ward").file_metadata()
    assert meta["ftm.topic_method"] == "ward" and meta["ftm.topic_backend"] == "bertopic+scipy-ward"
    params = json.loads(meta["ftm.params"])
    assert params["context_window"] == 4 and params["stability_members"] == 20 and "umap_n_neighbors" not in params
    assert "bertopic" in json.loads(meta["ftm.versions"])
