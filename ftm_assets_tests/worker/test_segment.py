"""Sentence splitting and cleaning: abbreviations, markers, fillers, operator lines, short sentences."""

from ftm_assets.worker.segment import Component, clean_text, segment, split_sentences


def test_split_keeps_abbreviations_and_numbers():
    text = "Revenue at Apple Inc. grew 5% to $3.2 billion. Mr. Smith will answer. Is that right? 2024 was great!"
    assert split_sentences(text) == [
        "Revenue at Apple Inc. grew 5% to $3.2 billion.",
        "Mr. Smith will answer.",
        "Is that right?",
        "2024 was great!",
    ]


def test_clean_drops_markers_fillers_and_bad_characters():
    assert clean_text("So, uh, we <unk> grew [inaudible] um revenue.\x00\ufffd") == "So, we grew revenue."
    assert clean_text("  ") == ""


def test_segment_drops_operator_and_short_sentences_and_numbers_in_order():
    comps = [
        Component(1, 0, "Operator", "Welcome to the call. Please go ahead with your question now."),
        Component(1, 1, "Executives", "Thank you. Our cloud revenue grew strongly this quarter. Okay."),
        Component(1, 2, "Analysts", "Can you talk about margins in the data center business?"),
        Component(1, 3, "Executives", None),
    ]
    sentences = segment(comps, min_words=4)
    assert [s.text for s in sentences] == [
        "Our cloud revenue grew strongly this quarter.",
        "Can you talk about margins in the data center business?",
    ]
    assert [s.sentence_id for s in sentences] == [0, 1]
    assert [s.component_order for s in sentences] == [1, 2]


def test_non_english_text_is_kept_as_words():
    sentences = segment([Component(None, 0, None, "Der Umsatz stieg deutlich im letzten Quartal. Ok.")], min_words=4)
    assert [s.text for s in sentences] == ["Der Umsatz stieg deutlich im letzten Quartal."]
