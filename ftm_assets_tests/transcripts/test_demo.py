"""The synthetic demo corpus: determinism, schema, labels, call shape, real ids, theme mix and drift."""

from __future__ import annotations

import itertools
import re

import pyarrow.compute as pc
import pytest

from ftm_assets.quarters import Quarter, QuarterKeyError
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA
from ftm_assets.transcripts import demo
from ftm_assets.transcripts import demo_vocabulary as V
from ftm_assets.worker.segment import split_sentences

QUARTER = "2024Q4"
# As the worker segments: sentence-ending punctuation, whitespace, then a capital letter or a digit.
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
COMPONENT_TYPES = {
    "Presentation Operator Message", "Presenter Speech", "Question and Answer Operator Message", "Question", "Answer",
}
SPEAKER_TYPES = {"Operator", "Executives", "Analysts"}


def n_sentences(text: str) -> int:
    return len(SENTENCE_BREAK.split(text))


@pytest.fixture(scope="module")
def table():
    return demo.demo_transcripts(QUARTER, n_firms=40)


@pytest.fixture(scope="module")
def rows(table):
    return table.to_pylist()


def by_firm(rows):
    return {k: list(g) for k, g in itertools.groupby(rows, key=lambda r: r["firm_id"])}


def sentence_theme_shares(firm: demo.DemoFirm, quarter: str) -> dict[str, float]:
    """Share of a call's themed sentences per theme (results and outlook left out)."""
    counts: dict[str, int] = {}
    for c in demo.demo_call(firm, quarter):
        if c.theme and c.theme not in ("results", "guidance"):
            counts[c.theme] = counts.get(c.theme, 0) + len(c.sentences)
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def l1(a: dict[str, float], b: dict[str, float]) -> float:
    return sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in a.keys() | b.keys())


def test_same_inputs_same_table_and_seed_changes_text(table):
    again = demo.demo_transcripts(QUARTER, n_firms=40)
    assert again.equals(table, check_metadata=True)
    other_seed = demo.demo_transcripts(QUARTER, n_firms=40, seed=1)
    assert set(other_seed.column("firm_id").to_pylist()) == set(table.column("firm_id").to_pylist())
    assert other_seed.column("text").to_pylist() != table.column("text").to_pylist()


def test_a_firms_call_does_not_depend_on_how_many_firms(table):
    small = demo.demo_transcripts(QUARTER, n_firms=12)
    subset = table.filter(pc.is_in(table.column("firm_id"), small.column("firm_id").unique()))
    assert subset.equals(small)


def test_schema_metadata_and_labels(table, rows):
    assert table.schema.remove_metadata().equals(RAW_TRANSCRIPTS_SCHEMA.remove_metadata())
    assert table.schema.metadata[b"ftm.synthetic"] == b"true"
    assert {r["source"] for r in rows} == {"demo-synthetic"}
    assert {r["quarter"] for r in rows} == {QUARTER}
    assert {r["component_type"] for r in rows} == COMPONENT_TYPES
    assert {r["speaker_type"] for r in rows} == SPEAKER_TYPES


def test_every_call_opens_with_the_operator_saying_it_is_synthetic(rows):
    for firm_id, firm_rows in by_firm(rows).items():
        first = firm_rows[0]
        assert (first["component_order"], first["speaker_type"]) == (0, "Operator"), firm_id
        assert "synthetic demo transcript" in SENTENCE_BREAK.split(first["text"])[0], firm_id


def test_rows_sorted_and_ids_dates_stable_per_call(table, rows):
    keys = [(r["firm_id"], r["call_id"], r["component_order"]) for r in rows]
    assert keys == sorted(keys)
    q = Quarter.parse(QUARTER)
    for firm_id, firm_rows in by_firm(rows).items():
        assert [r["component_order"] for r in firm_rows] == list(range(len(firm_rows)))
        for column in ("call_id", "transcript_id", "earnings_call_date", "gvkey", "permno", "firm_name"):
            assert len({r[column] for r in firm_rows}) == 1, (firm_id, column)
        day = firm_rows[0]["earnings_call_date"]
        assert q.start <= day <= q.end and day.weekday() < 5
    assert len(set(table.column("call_id").to_pylist())) == 40
    later = demo.demo_transcripts("2025Q1", n_firms=40)
    assert not set(later.column("call_id").to_pylist()) & set(table.column("call_id").to_pylist())


def test_sentences_per_call_and_component_in_range():
    """Counted as the worker segments them: the generator's sentences are exactly the worker's."""
    for firm in demo.demo_firms(40):
        components = demo.demo_call(firm, QUARTER)
        for c in components:
            assert 1 <= len(c.sentences) <= 8
            assert split_sentences(c.text) == list(c.sentences), c.text
        assert 250 <= sum(len(c.sentences) for c in components) <= 450, firm.firm_name


def test_every_template_fills_to_exactly_one_sentence():
    writer = demo._CallWriter(demo.demo_firms(1)[0], Quarter.parse(QUARTER), seed=0)
    fixed = {"label": "cloud demand", "analyst": "Maria Chen", "bank": "Harbor Point Securities"}
    boilerplate = [
        *V.OPENING_OPERATOR, *V.SAFE_HARBOR, *V.CEO_OPENING, *V.TRANSITIONS, V.CEO_HANDOFF, *V.CFO_OPENING,
        V.CFO_HANDOFF, *V.QA_START, *V.ANALYST_INTRO, *V.ANALYST_INTRO_TAIL, *V.QUESTION_OPENERS,
        *V.FOLLOW_UP_OPENERS, *V.ANSWER_OPENERS, *V.ANSWER_CLOSERS, *V.CLOSING_OPERATOR, *V.CLOSING_REMARKS,
        *V.FINAL_OPERATOR,
    ]
    filled = [writer.fill(t, **fixed) for t in boilerplate]
    for theme in (*V.THEMES, V.RESULTS):
        filled += [writer.fill(t, theme) for t in (*theme.statements, *theme.questions)]
        assert len(set(theme.statements)) == len(theme.statements) >= 10, theme.name
    for sentence in filled:
        assert "{" not in sentence and sentence[0].isupper() and sentence[-1] in ".?", sentence
        assert n_sentences(sentence) == 1, sentence
    assert len(V.THEMES) >= 15


def test_real_capital_iq_ids_come_first_with_their_names(rows):
    names = {r["firm_id"]: r["firm_name"] for r in rows}
    assert {fid: names[fid] for fid, _, _ in demo.REAL_FIRMS} == {fid: name for fid, name, _ in demo.REAL_FIRMS}
    assert names["24937"] == "Apple Inc." and names["33348547"] == "Arista Networks Inc"
    assert [f.firm_id for f in demo.demo_firms(4)] == ["18749", "19691", "21835", "24937"]
    invented = [f for f in demo.demo_firms(40) if f.index >= 10]
    assert all(f.firm_name.endswith("(synthetic)") and f.firm_id.isdigit() for f in invented)


def test_invented_identities_are_unique_and_links_sometimes_missing():
    firms = demo.demo_firms(1200)
    assert len({f.firm_id for f in firms}) == len({f.firm_name for f in firms}) == 1200
    linked = [f for f in firms if f.gvkey is not None]
    assert all(re.fullmatch(r"\d{6}", f.gvkey) and isinstance(f.permno, int) for f in linked)
    missing = [f for f in firms if f.gvkey is None]
    assert all(f.permno is None for f in missing) and 0.03 < len(missing) / len(firms) < 0.07
    assert len({f.gvkey for f in linked}) == len({f.permno for f in linked}) == len(linked)


def test_firms_weight_four_to_seven_themes_and_differ():
    firms = demo.demo_firms(40)
    mixes = [demo.theme_mix(f, QUARTER) for f in firms]
    assert all(4 <= len(m) <= 7 and abs(sum(m.values()) - 1) < 1e-9 for m in mixes)
    assert len({frozenset(m) for m in mixes}) >= 30
    assert set().union(*mixes) == set(demo.THEMES_BY_NAME)
    shares = [sentence_theme_shares(f, QUARTER) for f in firms[:12]]
    distances = [l1(a, b) for a, b in itertools.combinations(shares, 2)]
    assert sum(distances) / len(distances) > 1.0  # of at most 2: firms talk about different things


def test_theme_mix_drifts_smoothly_across_quarters():
    firms = demo.demo_firms(40)
    quarters = [Quarter.parse("2020Q1")]
    for _ in range(8):
        quarters.append(quarters[-1].next())
    step = [l1(demo.theme_mix(f, quarters[0].key), demo.theme_mix(f, quarters[1].key)) for f in firms]
    far = [l1(demo.theme_mix(f, quarters[0].key), demo.theme_mix(f, quarters[8].key)) for f in firms]
    assert sum(far) / len(far) > 0.2
    assert sum(step) / len(step) < sum(far) / len(far) / 3
    apple = firms[3]
    assert l1(sentence_theme_shares(apple, "2020Q1"), sentence_theme_shares(apple, "2022Q1")) > 0.1


@pytest.mark.parametrize("bad", ["2024Q5", "24Q1", "2024-Q1", "", "Q1 2024"])
def test_unknown_quarter_key_raises(bad):
    with pytest.raises(QuarterKeyError):
        demo.demo_transcripts(bad)


def test_firm_count_out_of_range_raises():
    with pytest.raises(ValueError, match="n_firms"):
        demo.demo_transcripts(QUARTER, n_firms=0)


@pytest.mark.slow
def test_topic_model_finds_several_topics_in_one_demo_call(monkeypatch):
    """The worker's own segment -> embed -> fit_topics on one demo firm: 8-40 topics for a 250-450-sentence
    call (issue 24's bound on topics per call), and topics that follow the demo's known themes."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    from ftm_assets.worker_config import TopicParams
    from ftm_assets.worker.inputs import iter_firms
    from ftm_assets.worker.model.embed import Embedder, resolve_model_path
    from ftm_assets.worker.model.topic_model import fit_topics
    from ftm_assets.worker.segment import segment

    table = demo.demo_transcripts(QUARTER, n_firms=1)
    firm = next(iter_firms(table, table.column("firm_id").to_pylist()[:1]))
    params = TopicParams()
    sentences = segment(firm.components, min_words=params.min_sentence_words)
    assert 250 <= len(sentences) <= 450
    texts = [s.text for s in sentences]
    embeddings = Embedder(resolve_model_path(None), "cpu", params.embedding_batch_size).encode(texts)
    groups = [(s.call_id, s.component_order) for s in sentences]
    topics = fit_topics(texts, embeddings, params, use_gpu=False, groups=groups)
    real = [t for t in topics if t.topic_id >= 0]
    assert 8 <= len(real) <= 40, len(real)
    themes = [c.theme or "(boilerplate)" for c in demo.demo_call(demo.demo_firms(1)[0], QUARTER)]
    found = np.full(len(texts), -1)
    for t in topics:
        found[t.sentence_ids] = t.topic_id
    assert adjusted_rand_score([themes[s.component_order] for s in sentences], found) >= 0.3
