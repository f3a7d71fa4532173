"""worker/fit.fit_firm's sentence rows: every row carries the fit's procedural flag and its LM tone counts, the
classifier's score where one ran (null otherwise), and the rows write under SENTENCES_SCHEMA."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftm_assets.schema import SENTENCES_SCHEMA
from ftm_assets.text.tone import count_tone
from ftm_assets.worker.fit import fit_firm
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.model.boilerplate import procedural_mask
from ftm_assets.worker.segment import Sentence
from ftm_assets.worker_config import TopicParams

TONE_COLUMNS = ["procedural", "n_words", "lm_positive", "lm_negative", "lm_uncertainty", "tone_model"]
CONTENT = [
    "Revenue grew strongly and margins improved in the cloud business.",
    "Losses in the hardware unit declined but demand may remain uncertain.",
    "Pricing held firm across our largest customers this period.",
    "Supply chain costs were difficult and inventory levels rose.",
]
PROCEDURAL = ["Thank you, operator, and good morning everyone.", "Next question, please."]


def _firm(n: int = 40) -> tuple[FirmInput, list[Sentence], np.ndarray]:
    texts = [f"{CONTENT[i % 4]} Item {i}." if i % 5 else PROCEDURAL[i % 2] for i in range(n)]
    sentences = [Sentence(i, 1, i // 4, "Executives", t) for i, t in enumerate(texts)]
    rng = np.random.default_rng(0)
    embeddings = rng.standard_normal((n, 16)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    return FirmInput("F1", "Firm One", None, None, None, []), sentences, embeddings


def test_sentence_rows_carry_the_procedural_flag_and_lm_counts():
    firm, sentences, embeddings = _firm()
    rows = fit_firm(firm, "2024Q4", sentences, embeddings, TopicParams(stability_members=1), use_gpu=False)
    texts = [s.text for s in sentences]
    mask = procedural_mask(texts)
    assert any(mask) and not all(mask)
    table = pa.Table.from_pylist(rows.sentence_rows, schema=SENTENCES_SCHEMA)  # as BatchWriter.write_part does
    assert table.column("procedural").to_pylist() == mask
    counts = [count_tone(t) for t in texts]
    assert table.column("n_words").to_pylist() == [c.n_words for c in counts]
    assert table.column("lm_positive").to_pylist() == [c.positive for c in counts]
    assert table.column("lm_negative").to_pylist() == [c.negative for c in counts]
    assert table.column("lm_uncertainty").to_pylist() == [c.uncertainty for c in counts]
    assert sum(table.column("lm_positive").to_pylist()) > 0 and sum(table.column("lm_negative").to_pylist()) > 0
    assert table.column("tone_model").null_count == len(sentences)  # no FTM_TONE_MODEL: null
    outliers = {i for r in rows.topic_rows if r["topic_id"] == -1 for i in r["sentence_ids"]}
    assert {i for i, p in enumerate(mask) if p} <= outliers  # the fit set aside the same sentences


def test_classifier_scores_land_on_their_sentences():
    firm, sentences, embeddings = _firm()
    scores = np.linspace(-1, 1, len(sentences), dtype=np.float32)
    rows = fit_firm(firm, "2024Q4", sentences, embeddings, TopicParams(stability_members=1), False, scores)
    table = pa.Table.from_pylist(rows.sentence_rows, schema=SENTENCES_SCHEMA)
    assert table.schema.field("tone_model").type == pa.float32()
    np.testing.assert_allclose(table.column("tone_model").to_numpy(), scores)
    assert table.column("sentence_id").to_pylist() == [s.sentence_id for s in sentences]
