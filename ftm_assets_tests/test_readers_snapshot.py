"""Readers that read two outputs of a quarter (``with_text=True``, ``read_topic_sentences``) read them from one
snapshot of the commit records (issue 26, lower-risk items): a commit landing between the two reads does not
give one run's topics the other run's sentences."""

from __future__ import annotations

import ftm_assets.readers.topics as readers
from ftm_assets.storage import LocalStorage
from ftm_assets_tests.support.committed_batches import Firm, write_batch, write_manifest_for

Q = "2024Q4"


def _firm(text: str) -> list[Firm]:
    return [Firm("1", "Alpha Corp", {0: [text] * 3})]


def _commit_between_reads(monkeypatch, store) -> None:
    """After the first read of parts, batch 000 commits another run (other text, same sentence ids)."""
    real = readers._read_parts
    calls = {"n": 0}

    def read_then_commit(*args, **kwargs):
        table = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            write_batch(store, Q, "000", _firm("new run's words"), batch_count=1, token="new")
        return table

    monkeypatch.setattr(readers, "_read_parts", read_then_commit)


def test_with_text_reads_topics_and_their_text_from_the_same_commit(tmp_path, monkeypatch):
    store = LocalStorage(tmp_path)
    write_manifest_for(store, Q, {"000": _firm("x")})
    write_batch(store, Q, "000", _firm("old run's words"), batch_count=1, token="old")
    _commit_between_reads(monkeypatch, store)
    topics = readers.read_firm_topics(store, Q, with_text=True)
    assert topics["sentences"].tolist() == [["old run's words"] * 3]


def test_topic_sentences_come_from_the_same_commit_as_the_topics(tmp_path, monkeypatch):
    store = LocalStorage(tmp_path)
    write_manifest_for(store, Q, {"000": _firm("x")})
    write_batch(store, Q, "000", _firm("old run's words"), batch_count=1, token="old")
    _commit_between_reads(monkeypatch, store)
    rows = readers.read_topic_sentences(store, Q)
    assert rows["text"].tolist() == ["old run's words"] * 3
