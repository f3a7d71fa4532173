"""Content-free nulls and perturbations of a prepared call, for ``quality.py``: what stability means beside noise.

- ``shuffled_null``: every sentence replaced by a sentence drawn at random from the whole corpus (all calls),
  the turn shapes kept (each drawn sentence takes the place, component and order of the one it replaces). A
  sentence's embedding does not depend on its neighbours, so the null's embeddings are the real embeddings of
  the drawn sentences, exactly what the embedder would give them in their new place: nothing is re-embedded.
- ``random_vector_null``: the call's own sentences and turns with random unit vectors for embeddings.
- ``drop_components``: 15% of the call's components removed (a draw seeded by the firm id).
- ``drop_within_turns``: 15% of the sentences removed *inside* components (a hash of firm, draw and sentence
  decides each one), so neighbours in a turn lose part of their context.
- ``clause_split``: a second sentence splitter (also at ``;`` and ``:``, whatever follows a full stop, no
  abbreviation list), and ``char_labels`` to compare two segmentations' topics on the words they share.

Every draw is a pure function of the firm id (and the draw number): the same every run, on every machine.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DROP_SHARE = 0.15
WITHIN_TURN_DRAWS = 3
_CLAUSE = re.compile(r"(?<=[.!?;:])[\"'”’)]*\s+")


@dataclass
class Prepared:
    texts: list[str]
    keys: list[tuple[int, str]]  # (component_order, text): finds a sentence again in another segmentation
    embeddings: np.ndarray

    @property
    def groups(self) -> list[int]:
        return [order for order, _ in self.keys]

    def take(self, idx: Sequence[int]) -> "Prepared":
        idx = list(idx)
        return Prepared([self.texts[i] for i in idx], [self.keys[i] for i in idx], self.embeddings[idx])


def _rng(firm_id: str, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{salt}:{firm_id}".encode()))


def shuffled_null(firm_id: str, prep: Prepared, pool: Prepared) -> Prepared:
    """The call's turn shapes filled with sentences drawn from ``pool`` (the corpus), with their embeddings."""
    drawn = _rng(firm_id, "shuffled").integers(0, len(pool.texts), size=len(prep.texts))
    texts = [pool.texts[i] for i in drawn]
    keys = [(order, text) for (order, _), text in zip(prep.keys, texts)]
    return Prepared(texts, keys, pool.embeddings[drawn])


def random_vector_null(firm_id: str, prep: Prepared) -> Prepared:
    """The call itself, its embeddings replaced by random unit vectors of the same width."""
    v = _rng(firm_id, "random").normal(size=prep.embeddings.shape)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return Prepared(list(prep.texts), list(prep.keys), v.astype(np.float32))


def corpus_pool(calls: Sequence[Prepared]) -> Prepared:
    return Prepared([t for p in calls for t in p.texts], [k for p in calls for k in p.keys],
                    np.vstack([p.embeddings for p in calls]))  # fmt: skip


def drop_components(firm_id: str, groups: Sequence[int], share: float = DROP_SHARE) -> np.ndarray:
    """Indices of the sentences kept when ``share`` of the call's components (with sentences) are removed."""
    comps = sorted(set(groups))
    gone = set(_rng(firm_id, "components").choice(comps, size=round(share * len(comps)), replace=False).tolist())
    return np.asarray([i for i, g in enumerate(groups) if g not in gone], dtype=np.int64)


def drop_within_turns(firm_id: str, n: int, draw: int, share: float = DROP_SHARE) -> np.ndarray:
    """Indices kept when each sentence is dropped with probability ``share`` (a hash of firm, draw and index)."""
    cut = int(share * 2**32)
    return np.asarray([i for i in range(n) if zlib.crc32(f"{firm_id}:{draw}:{i}".encode()) >= cut], dtype=np.int64)


def clause_split(text: str) -> list[str]:
    """The second splitter: after ``.!?;:`` and whitespace, whatever comes next; no abbreviations kept whole."""
    return [p.strip() for p in _CLAUSE.split(text) if p.strip()]


def char_labels(component_text: str, sentences: Sequence[str], labels: Sequence[int]) -> dict[int, int]:
    """Per word-start offset in ``component_text``, the label of the sentence covering it (sentences in order)."""
    out: dict[int, int] = {}
    cursor = 0
    for sentence, label in zip(sentences, labels):
        at = component_text.find(sentence, cursor)
        if at < 0:
            continue
        for m in re.finditer(r"\S+", sentence):
            out[at + m.start()] = int(label)
        cursor = at + len(sentence)
    return out
