"""The one stop list: the form of analysts' questions, procedure and fillers go, the subject of a sentence stays;
the topic keywords' vectorizer, the procedural filter and the theme keywords read this one list."""

import pytest

from ftm_assets.text import stopwords as S

QUESTIONS = [
    ("Just a quick follow-up on pricing in Europe.", ["pricing", "europe"]),
    ("A couple of questions on the data center business, if I may.", ["data", "center", "business"]),
    ("Switching to a different topic: freight costs.", ["switching", "freight", "costs"]),
    ("Maybe to clarify, could you give us some color on gross margin?", ["gross", "margin"]),
    ("If I could squeeze one more in, I was curious about buybacks.", ["buybacks"]),
    ("Thanks for taking my question, and congrats on the quarter.", []),
    ("I think we are going to look at it over the next year.", []),
]


@pytest.mark.parametrize(("sentence", "content"), QUESTIONS)
def test_the_question_form_goes_and_the_subject_stays(sentence, content):
    assert S.content_words(sentence) == content


def test_the_list_is_english_plus_the_groups_and_takes_a_calls_names():
    words = set(S.stop_words(["Lindsey", "Steve"]))
    assert S.english() <= words and S.PROCEDURAL | S.FILLER | S.QUESTION_FORM | S.GENERIC <= words
    assert {"lindsey", "steve", "quick", "followup", "couple", "quarter"} <= words
    assert not {"pricing", "margin", "freight", "cloud", "revenue", "tariffs", "won"} & words
    assert S.is_stop_word("Operator") and not S.is_stop_word("Europe")


def test_every_reader_uses_the_one_list():
    """The topic keywords' vectorizer and the theme keywords drop the same words; the filter reads PROCEDURAL."""
    from ftm_assets.themes.keywords import c_tf_idf_keywords
    from ftm_assets.worker.model import boilerplate
    from ftm_assets.worker.model.bertopic_fit import vectorizer

    sentences = [text for text, _ in QUESTIONS]
    assert vectorizer(sentences).stop_words == S.stop_words(boilerplate.call_names(sentences))
    themes = c_tf_idf_keywords(sentences, top_n=30)
    assert {w for kws in themes for kw in kws for w in kw.split()} == {w for _, c in QUESTIONS for w in c}
    assert boilerplate.procedural_mask(["Thank you, operator, and good morning everyone."]) == [True]
