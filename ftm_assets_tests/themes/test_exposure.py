"""The exposure panel from sentence assignments: share and intensity over non-procedural sentences, shares by
section and speaker, LM tone per (firm, theme), and the themes' breadth and analyst share."""

import datetime as dt

import numpy as np
import pandas as pd

from ftm_assets.themes.assign import assign_sentences, in_memory_chunks
from ftm_assets.themes.exposure import EXPOSURE_COLUMNS, role_of, section_of, theme_exposure, theme_profile


def _topics():
    return pd.DataFrame([{"firm_id": "A", "firm_name": "Alpha", "gvkey": "001", "permno": 1,
                          "earnings_call_date": dt.date(2024, 1, 5), "topic_id": 0, "n_sentences": 10}])


def _sentences(component_types=None, **extra):
    """Firm A's 10 sentences: 0-1 procedural, 2-5 presentation by executives, 6-9 Q&A (6-7 analysts)."""
    types = component_types or ["Presenter Speech"] * 6 + ["Question", "Question", "Answer", "Answer"]
    speakers = ["Operator", "Executives"] + ["Executives"] * 4 + ["Analysts", "Analysts", "Executives", "Executives"]
    frame = pd.DataFrame({"firm_id": ["A"] * 10, "sentence_id": range(10), "speaker_type": speakers,
                          "section": [section_of(t) for t in types], "text": [f"s{i}" for i in range(10)],
                          "procedural": [True, True] + [False] * 8, **extra})
    return frame


def _assigned(ids, theme="T1", sim=0.8):
    return pd.DataFrame({"firm_id": "A", "sentence_id": ids, "theme_id": theme, "similarity": np.float32(sim)})


def test_share_is_over_non_procedural_sentences_and_intensity_weights_by_similarity():
    panel = theme_exposure(_topics(), _assigned([2, 3, 6, 8]), _sentences(), "2024Q1")
    row = panel.iloc[0]
    assert list(panel.columns) == EXPOSURE_COLUMNS
    assert (row.firm_id, row.theme_id, row.n_sentences, row.gvkey, row.permno) == ("A", "T1", 4, "001", 1)
    assert row.share == 4 / 8  # sentences 0 and 1 are procedural: not in the denominator
    assert np.isclose(row.intensity, 4 * 0.8 / 8)
    assert row.share_presentation == 2 / 4 and row.share_qa == 2 / 4  # 2,3 of 2-5; 6,8 of 6-9
    assert row.share_analyst == 1 / 2 and row.share_management == 3 / 6  # 6 of 6,7; 2,3,8 of 2-5,8,9


def test_files_without_the_procedural_column_count_every_sentence():
    panel = theme_exposure(_topics(), _assigned([2, 3]), _sentences().drop(columns="procedural"), "2024Q1")
    assert panel.iloc[0].share == 2 / 10


def test_shares_by_kind_are_null_where_the_firm_has_no_such_sentence():
    panel = theme_exposure(_topics(), _assigned([2]), _sentences([None] * 10), "2024Q1")
    assert np.isnan(panel.iloc[0].share_presentation) and np.isnan(panel.iloc[0].share_qa)
    assert panel.iloc[0].share == 1 / 8


def test_tone_is_net_lm_tone_and_uncertainty_a_share_of_words_over_the_theme_sentences():
    sentences = _sentences(lm_positive=[0, 0, 3, 0, 1, 0, 0, 0, 0, 0], lm_negative=[0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
                           lm_uncertainty=[0, 0, 1, 1, 0, 0, 0, 0, 0, 0], n_words=[5] * 10,
                           tone_model=[np.nan, np.nan, 0.5, np.nan, 0.1, 0, 0, 0, 0, 0])
    panel = theme_exposure(_topics(), pd.concat([_assigned([2, 3]), _assigned([5, 6], "T2")]), sentences, "2024Q1")
    t1, t2 = panel.set_index("theme_id").loc["T1"], panel.set_index("theme_id").loc["T2"]
    assert t1.tone == (3 - 1) / (3 + 1) and t1.uncertainty == 2 / 10 and t1.tone_model == 0.5
    assert np.isnan(t2.tone) and t2.uncertainty == 0.0  # no LM tone word on T2: tone null, not 0


def test_tone_is_null_where_the_sentences_table_has_no_tone_columns():
    panel = theme_exposure(_topics(), _assigned([2]), _sentences(), "2024Q1")
    assert panel[["tone", "uncertainty", "tone_model"]].isna().all().all()


def test_sentences_go_to_their_nearest_anchor_above_the_threshold_and_procedural_ones_never():
    anchors = np.eye(3, dtype=np.float32)[:2]
    vectors = np.array([[1, 0, 0], [1, 0, 0], [0.9, 0.1, 0], [0.1, 1, 0], [0.5, 0.5, 0.7], [0, 0, 1],
                        [1, 0.2, 0], [0, 1, 0], [0, 0.9, 0.1], [0.7, 0.7, 0]], dtype=np.float32)
    out = assign_sentences(in_memory_chunks(_sentences(), vectors), anchors, ["T1", "T2"], 0.6)
    assert out["sentence_id"].tolist() == [2, 3, 6, 7, 8, 9]  # 0, 1 procedural; 4, 5 below 0.6
    assert out["theme_id"].tolist() == ["T1", "T2", "T1", "T2", "T2", "T1"]  # 9 is a tie: the first anchor
    assert (out["similarity"] >= 0.6).all()


def test_breadth_counts_firms_with_a_sentence_and_analyst_share_the_theme_sentences_analysts_spoke():
    assigned = pd.concat([_assigned([6, 7, 2], "T1"), _assigned([3], "T2")])
    profile = theme_profile(assigned, _sentences(), ["A", "B"]).set_index("theme_id")
    assert profile.loc["T1", "breadth"] == 0.5 and profile.loc["T1", "analyst_share"] == 2 / 3
    assert profile.loc["T2", "analyst_share"] == 0.0


def test_capital_iq_types_map_to_sections_and_roles():
    assert [section_of(t) for t in ("Presenter Speech", "Presentation Operator Message", "Question", "Answer",
                                    "Question and Answer Operator Message", "", None)] == [
        "presentation", "presentation", "qa", "qa", "qa", None, None]
    assert [role_of(t) for t in ("Executives", "Analysts", "Operator", "Shareholders", None)] == [
        "management", "analyst", None, None, None]
