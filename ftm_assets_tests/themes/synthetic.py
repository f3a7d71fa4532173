"""Test helper: firm topics with known themes, committed with the worker's own writer (centroids included).

Each firm talks about a few of ``n_themes`` planted themes: a topic's centroid is its theme's direction plus
noise, its sentences use the theme's words and their stored embeddings lie near that direction (outlier
sentences point anywhere), so clustering, keywords and per-sentence exposure have a known answer.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ftm_assets.storage import Storage
from ftm_assets.storage.embeddings import EmbeddingIdentity, FirmVectors, call_key, encode_file, text_hash
from ftm_assets.storage.manifest import BatchEntry, write_manifest
from ftm_assets.worker.outputs import BatchState, BatchWriter

STAMP = dt.datetime(2024, 12, 31, tzinfo=dt.timezone.utc)
DIM = 48
WORDS = ["cloud", "pricing", "inventory", "hiring", "tariffs", "margins", "dividend", "capex", "china", "energy",
         "subscribers", "freight", "wafer", "deposits", "claims", "drilling", "advertising", "pharmacy", "steel", "travel"]


def theme_directions(n_themes: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_themes, DIM))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def firm_topics(firm: int, themes: list[int], directions: np.ndarray, seed: int, noise: float = 0.25,
                sentences: int = 6, outliers: int = 3) -> list[dict]:
    """Topic dicts (topic_id, centroid, texts) of one firm: one topic per listed theme, plus outliers."""
    rng = np.random.default_rng(seed * 1000 + firm)
    out = [{"topic_id": -1, "centroid": None, "texts": [f"Thanks for the question number {i}." for i in range(outliers)],
            "vectors": rng.normal(size=(outliers, DIM))}]
    for t, theme in enumerate(themes):
        c = directions[theme] + rng.normal(scale=noise / np.sqrt(DIM), size=DIM)
        word = WORDS[theme % len(WORDS)]
        texts = [f"Our {word} business saw {word} growth and {word} demand in region {i}." for i in range(sentences)]
        if t % 2:
            texts = texts[:-1]
        vectors = directions[theme] + rng.normal(scale=0.5 / np.sqrt(DIM), size=(len(texts), DIM))
        out.append({"topic_id": t, "centroid": (c / np.linalg.norm(c)).astype(np.float32).tolist(), "texts": texts,
                    "vectors": vectors})
    return out


IDENTITY = EmbeddingIdentity("test-model", "0", "test", "fp16", "cpu", 1, "{}")


def firm_vectors(topics: list[dict]) -> FirmVectors:
    """A firm's stored embeddings, keyed as the worker keys them: its sentences in sentence_id order."""
    texts = [t for topic in topics for t in topic["texts"]]
    hashes = [text_hash(t) for t in texts]
    vectors = np.concatenate([np.asarray(topic["vectors"]) for topic in topics])
    return FirmVectors(call_key(hashes), hashes, vectors.astype(np.float16))


def firm_rows(quarter: str, firms: dict[str, list[dict]]) -> tuple[list[dict], list[dict]]:
    """The firm_topics and sentences rows of ``firms``, as the worker writes them."""
    topic_rows, sentence_rows = [], []
    for firm_id, topics in firms.items():
        next_id, n = 0, int(firm_id.split("-")[-1])
        for topic in topics:
            ids_ = list(range(next_id, next_id + len(topic["texts"])))
            next_id += len(ids_)
            topic_rows.append({
                "firm_id": firm_id, "firm_name": f"Firm {firm_id}", "quarter": quarter, "permno": 10_000 + n,
                "gvkey": f"{n:06d}", "earnings_call_date": dt.date(2024, 11, 1), "topic_id": topic["topic_id"],
                "representation": "x", "keywords": ["x"], "n_sentences": len(ids_), "sentence_ids": ids_,
                "processing_timestamp": STAMP, "centroid": topic["centroid"]})
            sentence_rows += [{"quarter": quarter, "firm_id": firm_id, "sentence_id": i, "call_id": 1,
                               "component_order": i % 4, "speaker_type": "Executives", "text": text}
                              for i, text in zip(ids_, topic["texts"])]
    return topic_rows, sentence_rows


def in_memory_quarter(quarter: str, firms: dict[str, list[dict]]) -> tuple:
    """``(quarter, topics, sentences, vectors)`` for ``chain.replay_in_memory``."""
    import pandas as pd

    topic_rows, sentence_rows = firm_rows(quarter, firms)
    vectors = np.concatenate([np.asarray(t["vectors"]) for f in firms for t in firms[f]]).astype(np.float32)
    return quarter, pd.DataFrame(topic_rows), pd.DataFrame(sentence_rows), vectors


def commit_quarter(store: Storage, quarter: str, firms: dict[str, list[dict]], batches: int = 2,
                   run_id: str = "run", commit: set[str] | None = None, embeddings: bool = True) -> None:
    """Write the manifest and every batch (``commit``: only those batches get a commit record); ``embeddings``:
    store the sentences' embeddings as the worker does (off: a batch run with FTM_EMBEDDING_STORE=off)."""
    ids = sorted(firms)
    split = {f"{b:03d}": ids[b::batches] for b in range(batches)}
    write_manifest(store, quarter, [BatchEntry(quarter, b, f) for b, f in split.items()])
    for batch, firm_ids in split.items():
        state = BatchState(run_id=f"{run_id}-{batch}", quarter=quarter, batch=batch, firms_total=len(firm_ids))
        writer = BatchWriter(store, quarter, batch, f"{run_id}-{batch}", file_metadata={"ftm.embedding_model": "test-model"})
        topic_rows, sentence_rows = firm_rows(quarter, {f: firms[f] for f in firm_ids})
        if embeddings:
            writer.write_embeddings(state, encode_file([firm_vectors(firms[f]) for f in firm_ids], IDENTITY))
        writer.write_part(state, topic_rows, sentence_rows)
        failures_key = writer.write_failures(state)
        state.seconds = {"total": 1.0}
        if commit is None or batch in commit:
            fingerprint = BatchEntry(quarter, batch, firm_ids).fingerprint
            writer.commit(state, failures_key, batches, fingerprint)


def planted_quarter(n_firms: int = 12, n_themes: int = 6, seed: int = 1, per_firm: int = 4,
                    skip_theme: int | None = None, extra_theme: int | None = None,
                    offshoot_of: int | None = None) -> dict[str, list[dict]]:
    """``n_firms`` firms, each on ``per_firm`` of the planted themes (rotating), seeded noise.

    ``extra_theme``: half the firms also talk about that (otherwise unused) planted theme; with
    ``offshoot_of`` its direction is moved to cosine 0.48 of that theme, as a theme splitting off would be.
    """
    directions = theme_directions(n_themes + 2)
    if extra_theme is not None and offshoot_of is not None:
        parent = directions[offshoot_of]
        own = directions[extra_theme] - (directions[extra_theme] @ parent) * parent
        directions[extra_theme] = 0.48 * parent + np.sqrt(1 - 0.48**2) * own / np.linalg.norm(own)
    firms = {}
    for f in range(n_firms):
        themes = [(f + k) % n_themes for k in range(per_firm)]
        themes = [t for t in themes if t != skip_theme]
        if extra_theme is not None and f % 2 == 0:
            themes.append(extra_theme)
        firms[f"F-{f:03d}"] = firm_topics(f, themes, directions, seed)
    return firms


def two_themed_quarters(store: Storage) -> None:
    """2023Q1 and 2023Q2 of planted firms committed and their themes resolved: the readers' and exports' store."""
    from ftm_assets.themes.params import ThemeParams
    from ftm_assets.themes.store import resolve

    commit_quarter(store, "2023Q1", planted_quarter())
    commit_quarter(store, "2023Q2", planted_quarter(seed=2))
    resolve(store, "2023Q1", [], ThemeParams())
    resolve(store, "2023Q2", ["2023Q1"], ThemeParams())


@pytest.fixture(scope="module")
def themed_root(tmp_path_factory: pytest.TempPathFactory):
    """A local root with ``two_themed_quarters`` (2023Q1, 2023Q2), made once per test module: the store the
    readers' and exports' tests read."""
    from ftm_assets.storage import LocalStorage

    path = tmp_path_factory.mktemp("root")
    two_themed_quarters(LocalStorage(path))
    return path

