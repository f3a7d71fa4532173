"""The demo vocabulary as package data: the loader's structures, the file shipped, and the same demo corpus as before."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

from ftm_assets.transcripts import demo
from ftm_assets.transcripts import demo_vocabulary as V

ROOT = Path(__file__).resolve().parents[2]
# sha256 of the demo quarter's rows (2024Q4, 40 firms, seed 0) made by the generator while the vocabulary was
# still Python tuples (commit 6401436): the move to JSON must not change one character of the corpus, and the
# planted tone clauses of issue 28 (their own generators) must leave every other draw as it was.
DEMO_QUARTER_ROWS_SHA256 = "a4b844cb931eed055ff98c9a7bf42f168aadb326ede4d4af0b6a8ab73fb39dc1"


def rows_digest(quarter: str = "2024Q4", n_firms: int = 40, seed: int = 0) -> str:
    rows = demo.demo_transcripts(quarter, n_firms=n_firms, seed=seed).to_pylist()
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


def test_the_demo_quarter_is_the_one_the_tuples_made(monkeypatch):
    monkeypatch.setattr(demo, "TONE_RATE", 0.0)  # no tone clause: the corpus before issue 28
    assert rows_digest() == DEMO_QUARTER_ROWS_SHA256


def test_tone_clauses_change_only_statements_they_extend(monkeypatch):
    """With the planted tone, each component is the one without it, with tone clauses inserted before stops."""
    toned = demo.demo_transcripts("2024Q4", n_firms=6).to_pylist()
    monkeypatch.setattr(demo, "TONE_RATE", 0.0)
    plain = demo.demo_transcripts("2024Q4", n_firms=6).to_pylist()
    clauses = demo.POSITIVE_CLAUSES + demo.NEGATIVE_CLAUSES
    stripped, extended = [], 0
    for row in toned:
        text = row["text"]
        for clause in clauses:
            extended += text.count(clause + ".")
            text = text.replace(clause + ".", ".")
        stripped.append(text)
    assert extended > 0 and stripped == [row["text"] for row in plain]


def test_the_loader_gives_immutable_structures():
    for theme in (*V.THEMES, V.RESULTS):
        assert isinstance(theme, V.Theme)
        assert isinstance(theme.statements, tuple) and all(isinstance(s, str) for s in theme.statements)
        assert isinstance(theme.questions, tuple)
        assert all(isinstance(values, tuple) and values for values in theme.slots.values())
    assert all(isinstance(values, tuple) and values for values in V.COMMON_SLOTS.values())
    assert all(isinstance(name, str) and isinstance(themes, tuple) for name, themes in V.INDUSTRIES)
    assert all(isinstance(themes, tuple) for themes in V.FIRM_AFFINITY.values())
    assert isinstance(V.CEO_HANDOFF, str) and isinstance(V.CFO_HANDOFF, str)
    assert isinstance(V.QUESTION_OPENERS, tuple) and V.QUESTION_OPENERS


def test_every_theme_a_firm_leans_to_exists():
    names = [theme.name for theme in V.THEMES]
    assert len(names) == len(set(names)) and V.RESULTS.name not in names
    named = {t for _, themes in V.INDUSTRIES for t in themes} | {t for ts in V.FIRM_AFFINITY.values() for t in ts}
    assert named <= set(names), sorted(named - set(names))


def test_every_entry_of_the_file_is_read():
    data = V.load()
    read = {name for name in vars(V) if name.isupper() and not name.startswith("_")} - {"DATA_FILE"}
    assert set(data) - {"_about"} == read


def test_the_file_is_shipped_as_package_data():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert V.DATA_FILE in package_data["ftm_assets.transcripts"]
    assert (ROOT / "ftm_assets" / "transcripts" / V.DATA_FILE).is_file()
