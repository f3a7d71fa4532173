"""The exposure panel: shares over all modelled sentences, presentation/Q&A shares where types are known."""

import datetime as dt

import numpy as np
import pandas as pd

from ftm_assets.themes.exposure import section_of, theme_exposure


def _inputs(component_types):
    topics = pd.DataFrame([
        {"firm_id": "A", "firm_name": "Alpha", "gvkey": "001", "permno": 1, "earnings_call_date": dt.date(2024, 1, 5),
         "topic_id": -1, "n_sentences": 2, "sentence_ids": [0, 1]},
        {"firm_id": "A", "firm_name": "Alpha", "gvkey": "001", "permno": 1, "earnings_call_date": dt.date(2024, 1, 5),
         "topic_id": 0, "n_sentences": 4, "sentence_ids": [2, 3, 4, 5]},
        {"firm_id": "A", "firm_name": "Alpha", "gvkey": "001", "permno": 1, "earnings_call_date": dt.date(2024, 1, 5),
         "topic_id": 1, "n_sentences": 2, "sentence_ids": [6, 7]},
    ])
    members = pd.DataFrame([{"firm_id": "A", "topic_id": 0, "theme_id": "T1"}])
    sentences = pd.DataFrame({"firm_id": ["A"] * 8, "sentence_id": range(8),
                              "section": [section_of(t) for t in component_types]})
    return topics, members, sentences


def test_share_counts_outliers_in_the_denominator_and_splits_by_section():
    types = ["Presenter Speech"] * 4 + ["Question", "Answer", "Answer", "Answer"]
    panel = theme_exposure(*_inputs(types), "2024Q1")
    row = panel.iloc[0]
    assert (row.firm_id, row.theme_id, row.n_sentences, row.gvkey, row.permno) == ("A", "T1", 4, "001", 1)
    assert row.share == 4 / 8
    assert row.share_presentation == 2 / 4 and row.share_qa == 2 / 4  # sentences 2,3 presentation; 4,5 Q&A


def test_section_shares_are_null_where_component_types_are_unknown():
    panel = theme_exposure(*_inputs([None] * 8), "2024Q1")
    assert np.isnan(panel.iloc[0].share_presentation) and np.isnan(panel.iloc[0].share_qa)
    assert panel.iloc[0].share == 0.5


def test_capital_iq_component_types_map_to_sections():
    assert [section_of(t) for t in ("Presenter Speech", "Presentation Operator Message", "Question", "Answer",
                                    "Question and Answer Operator Message", "", None)] == [
        "presentation", "presentation", "qa", "qa", "qa", None, None]
