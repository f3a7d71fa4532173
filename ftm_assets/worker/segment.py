"""Sentence splitting and cleaning of transcript components, before anything is embedded.

Rule-based (no model download): split after ``.``, ``!`` or ``?`` followed by whitespace and an
upper-case letter, digit or quote, except after common abbreviations. Operator components are dropped
(call logistics, not the firm's topics), transcription markers such as ``<unk>`` and fillers such as
``uh``/``um`` are removed, and sentences shorter than ``min_words`` words are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_ABBREVIATIONS = (
    "mr", "mrs", "ms", "dr", "prof", "inc", "corp", "co", "ltd", "plc", "llc", "vs", "etc", "st",
    "jr", "sr", "no", "approx", "dept", "est", "fig", "e.g", "i.e", "u.s", "u.k", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
)  # fmt: skip
_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]*[A-Z0-9])")
_MARKERS = re.compile(r"<[^<>]{1,20}>|\[[^\[\]]{1,30}\]")
_FILLERS = re.compile(r"\b(?:uh|um|erm|er|ah|hmm|mm)\b[,.]?\s*", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
OPERATOR_SPEAKER_TYPES = frozenset({"operator"})


@dataclass(frozen=True)
class Component:
    call_id: int | None
    component_order: int
    speaker_type: str | None
    text: str | None


@dataclass(frozen=True)
class Sentence:
    sentence_id: int
    call_id: int | None
    component_order: int
    speaker_type: str | None
    text: str


def clean_text(text: str) -> str:
    """Normalise unicode, drop transcription markers and fillers, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).replace("\ufffd", " ")
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    text = _MARKERS.sub(" ", text)
    text = _FILLERS.sub("", text)
    return _SPACES.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Split cleaned text into sentences, keeping abbreviations such as ``Inc.`` inside a sentence."""
    pieces = _SPLIT.split(text)
    out: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if out and _ends_with_abbreviation(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _ends_with_abbreviation(sentence: str) -> bool:
    last = sentence.rsplit(" ", 1)[-1].rstrip(".").lower()
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def word_count(sentence: str) -> int:
    return len(_WORD.findall(sentence))


def segment(components: Iterable[Component], *, min_words: int) -> list[Sentence]:
    """The firm's modelled sentences, numbered 0..n-1 in call and component order."""
    sentences: list[Sentence] = []
    for comp in components:
        if not comp.text or (comp.speaker_type or "").strip().lower() in OPERATOR_SPEAKER_TYPES:
            continue
        for text in split_sentences(clean_text(comp.text)):
            if word_count(text) >= min_words:
                sentences.append(
                    Sentence(len(sentences), comp.call_id, comp.component_order, comp.speaker_type, text)
                )
    return sentences
