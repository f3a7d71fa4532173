"""Template text of the synthetic demo corpus, read from ``demo_vocabulary.json`` (package data).

The wording is data, kept apart from the generator (``demo``) so that it can grow without touching code.
Rules every template follows, because the worker splits text on sentence-ending punctuation followed by
whitespace and a capital letter or digit: one sentence per template, it starts with a capital letter, ends
with ``.`` or ``?``, and has no other ``.``, ``!`` or ``?`` except inside numbers (``$4.1 billion``).
``{name}`` marks a slot; slot values live in ``COMMON_SLOTS`` (numeric slots are drawn by the generator,
see ``demo.NUMERIC_SLOTS``), the theme's own ``slots`` or the firm profile (``product``, ``segment``,
names). What the file holds:

- ``THEMES``: the business themes a firm talks about (4-7 each); ``RESULTS``: not one of them, every CFO
  walks through the quarter's results;
- ``FIRM_AFFINITY``: real firms (by Capital IQ id) lean towards what they are known for; the rest of their
  themes are a seeded draw;
- ``NAME_PREFIXES``, ``INDUSTRIES`` (name, themes it suggests), ``NAME_SUFFIXES``: invented firms,
  "<prefix> <industry> <suffix> (synthetic)"; ``PRODUCT_NAMES``, ``SEGMENTS``, people and banks;
- boilerplate (operator, safe harbor, openings, hand-offs, Q&A openers and closers). Slots: firm_name
  (operator lines only), short_name, ceo, cfo, ir, ``*_first``, fq, fyear, label, analyst, bank.

Everything is read once at import and exposed as tuples (immutable, as the generator expects).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

DATA_FILE = "demo_vocabulary.json"


@dataclass(frozen=True)
class Theme:
    """One business theme: what executives say about it, what analysts ask, and its own slot values."""

    name: str
    label: str  # how a speaker introduces it ("Turning to {label}.")
    statements: tuple[str, ...]
    questions: tuple[str, ...]
    slots: dict[str, tuple[str, ...]] = field(default_factory=dict)
    financial: bool = False  # the CFO leans towards financial themes

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Theme:
        return cls(
            name=item["name"],
            label=item["label"],
            statements=tuple(item["statements"]),
            questions=tuple(item["questions"]),
            slots=_slots(item.get("slots", {})),
            financial=bool(item.get("financial", False)),
        )


def _slots(values: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(options) for key, options in values.items()}


def load(name: str = DATA_FILE) -> dict[str, Any]:
    """The vocabulary file as JSON (lists), from the installed package."""
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


_DATA = load()

COMMON_SLOTS: dict[str, tuple[str, ...]] = _slots(_DATA["COMMON_SLOTS"])
THEMES: tuple[Theme, ...] = tuple(Theme.from_json(item) for item in _DATA["THEMES"])
RESULTS: Theme = Theme.from_json(_DATA["RESULTS"])
FIRM_AFFINITY: dict[str, tuple[str, ...]] = _slots(_DATA["FIRM_AFFINITY"])
INDUSTRIES: tuple[tuple[str, tuple[str, ...]], ...] = tuple((name, tuple(themes)) for name, themes in _DATA["INDUSTRIES"])

NAME_PREFIXES: tuple[str, ...] = tuple(_DATA["NAME_PREFIXES"])
NAME_SUFFIXES: tuple[str, ...] = tuple(_DATA["NAME_SUFFIXES"])
PRODUCT_NAMES: tuple[str, ...] = tuple(_DATA["PRODUCT_NAMES"])
SEGMENTS: tuple[str, ...] = tuple(_DATA["SEGMENTS"])
FIRST_NAMES: tuple[str, ...] = tuple(_DATA["FIRST_NAMES"])
LAST_NAMES: tuple[str, ...] = tuple(_DATA["LAST_NAMES"])
ANALYST_FIRMS: tuple[str, ...] = tuple(_DATA["ANALYST_FIRMS"])

OPENING_OPERATOR: tuple[str, ...] = tuple(_DATA["OPENING_OPERATOR"])
SAFE_HARBOR: tuple[str, ...] = tuple(_DATA["SAFE_HARBOR"])
CEO_OPENING: tuple[str, ...] = tuple(_DATA["CEO_OPENING"])
TRANSITIONS: tuple[str, ...] = tuple(_DATA["TRANSITIONS"])
CEO_HANDOFF: str = _DATA["CEO_HANDOFF"]
CFO_OPENING: tuple[str, ...] = tuple(_DATA["CFO_OPENING"])
CFO_HANDOFF: str = _DATA["CFO_HANDOFF"]
QA_START: tuple[str, ...] = tuple(_DATA["QA_START"])
ANALYST_INTRO: tuple[str, ...] = tuple(_DATA["ANALYST_INTRO"])
ANALYST_INTRO_TAIL: tuple[str, ...] = tuple(_DATA["ANALYST_INTRO_TAIL"])
QUESTION_OPENERS: tuple[str, ...] = tuple(_DATA["QUESTION_OPENERS"])
FOLLOW_UP_OPENERS: tuple[str, ...] = tuple(_DATA["FOLLOW_UP_OPENERS"])
ANSWER_OPENERS: tuple[str, ...] = tuple(_DATA["ANSWER_OPENERS"])
ANSWER_CLOSERS: tuple[str, ...] = tuple(_DATA["ANSWER_CLOSERS"])
CLOSING_OPERATOR: tuple[str, ...] = tuple(_DATA["CLOSING_OPERATOR"])
CLOSING_REMARKS: tuple[str, ...] = tuple(_DATA["CLOSING_REMARKS"])
FINAL_OPERATOR: tuple[str, ...] = tuple(_DATA["FINAL_OPERATOR"])
