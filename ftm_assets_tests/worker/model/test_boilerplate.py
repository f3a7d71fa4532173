"""boilerplate.py: procedural sentences, the call's speaker names, and procedural keywords and topics."""

from ftm_assets.worker.model import boilerplate as B

CALL = [
    "Thank you, Andi.",
    "Before we start, let me remind you that today's call may contain forward looking statements within the "
    "meaning of Safe Harbor.",
    "Next year we expect cloud revenue growth to accelerate as Andi said.",
    "I will now turn the call over to Steve Lindsey, our chief financial officer.",
    "Our next question comes from Lucy with Morgan Stanley.",
    "Volume will remain conservative, but we are very positive about pricing in Europe.",
    "In Europe the pricing held up well.",
]


def test_names_are_capitalised_words_next_to_procedure_and_never_lower_case():
    names = B.call_names(CALL)
    assert {"andi", "steve", "lindsey", "lucy"} <= names
    assert "europe" not in names  # capitalised, but never in a procedural sentence
    assert "volume" not in names and "next" not in names  # sentence starts are not names


def test_procedural_sentences_are_found_and_content_kept():
    assert B.procedural_mask(CALL) == [True, True, False, True, True, False, False]


def test_stop_words_cover_procedure_fillers_and_names():
    words = set(B.stop_words(CALL))
    assert {"thank", "operator", "safe", "harbor", "think", "lindsey", "the"} <= words
    assert not {"cloud", "revenue", "pricing", "europe"} & words


def test_procedural_topics_need_three_of_four_procedural_keywords():
    names = B.call_names(CALL)
    assert B.is_procedural_topic(["thank", "thanks", "safe", "good"])
    assert B.is_procedural_topic(["steve", "lindsey", "steve lindsey", "chief"], names)
    assert B.is_procedural_topic(["turn", "turn suzanne", "website", "lot time"], {"suzanne"})
    assert not B.is_procedural_topic(["cloud", "revenue", "growth", "thank"])
    assert not B.is_procedural_topic(["data center", "thank", "guidance", "networks"])
