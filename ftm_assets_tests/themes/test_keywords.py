"""c-TF-IDF keywords: the theme's own words lead, words of the one stop list never appear."""

from ftm_assets.text.stopwords import is_stop_word
from ftm_assets.themes.keywords import c_tf_idf_keywords


def test_theme_words_lead_and_call_boilerplate_is_removed():
    docs = [
        "Thank you operator. Good morning everyone. Cloud revenue grew and cloud margins expanded. Thanks for the question.",
        "Thanks. Next question please. Freight volumes fell and freight rates declined. I think that is right.",
        "Great question. Forward looking statements apply. Tariffs on steel imports raised steel costs.",
    ]
    keywords = c_tf_idf_keywords(docs, top_n=5)
    assert keywords[0][0] == "cloud" and keywords[1][0] == "freight" and keywords[2][0] == "steel"
    for kws in keywords:
        assert not [w for kw in kws for w in kw.split() if is_stop_word(w)]


def test_only_boilerplate_gives_no_keywords():
    assert c_tf_idf_keywords(["Thank you. Good morning everyone.", "Thanks, operator."], top_n=3) == [[], []]


def test_the_form_of_an_analysts_question_is_not_a_keyword():
    docs = ["Just a quick follow-up on freight: a couple of questions on freight rates.",
            "On a different topic, quickly on steel tariffs, if I could squeeze one in on steel."]
    first, second = c_tf_idf_keywords(docs, top_n=10)
    assert first[0] == "freight" and {w for kw in first for w in kw.split()} == {"freight", "rates"}
    assert second[0] == "steel" and {w for kw in second for w in kw.split()} == {"steel", "tariffs"}
