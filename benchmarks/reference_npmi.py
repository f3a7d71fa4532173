"""Reference-corpus coherence: NPMI of a topic's keywords over all the real calls, in sliding 10-token windows.

The measure readers know (Röder et al. 2015, "C_NPMI" with a sliding window): every call's sentences are one
token stream (lower-case words, as ``[a-z][a-z']+``), each run of ``window`` consecutive tokens inside one
call is a document, and for a pair of keywords ``NPMI = log(p(a,b) / (p(a) p(b))) / -log p(a,b)`` over those
windows; a pair that never shares a window counts -1. A two-word keyword (c-TF-IDF gives bigrams) occurs
where its two words stand next to each other. A topic's score is the mean over the pairs of its top-10
keywords. Unlike NPMI on the firm's own sentences, the reference is the same for every method and null, so
the figures compare across them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence

import numpy as np

WINDOW = 10
TOP_KEYWORDS = 10
_TOKEN = re.compile(r"[a-z][a-z']+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class ReferenceCorpus:
    """Sliding-window occurrence of words and bigrams over calls; each keyword's windows cached as packed bits."""

    def __init__(self, calls: Iterable[Sequence[str]], window: int = WINDOW) -> None:
        vocab: dict[str, int] = {}
        stream: list[int] = []
        for sentences in calls:
            ids = [vocab.setdefault(w, len(vocab)) for s in sentences for w in tokens(s)]
            stream.extend(ids)
            stream.extend([-1] * window)  # no window spans two calls
        self.window = window
        self.vocab = vocab
        self.stream = np.asarray(stream, dtype=np.int64)
        sep = np.concatenate([[0], np.cumsum(self.stream < 0)])
        starts = np.arange(len(self.stream) - window + 1)
        self._valid = (sep[starts + window] - sep[starts]) == 0  # windows wholly inside one call
        self.n_windows = int(self._valid.sum())
        order = np.argsort(self.stream, kind="stable")
        bounds = np.searchsorted(self.stream[order], np.arange(len(vocab) + 1))
        self._positions = {w: order[bounds[i]:bounds[i + 1]] for w, i in vocab.items()}
        self._cache: dict[str, tuple[np.ndarray, int]] = {}
        self._pairs: dict[tuple[str, str], float] = {}

    def _occurrences(self, keyword: str) -> np.ndarray | None:
        """Start positions of ``keyword`` (one word, or consecutive words) in the stream; None if unknown."""
        words = tokens(keyword)
        if not words or any(w not in self._positions for w in words):
            return None
        pos = self._positions[words[0]]
        for k, w in enumerate(words[1:], start=1):
            pos = pos[np.isin(pos + k, self._positions[w], assume_unique=True)]
        return pos

    def presence(self, keyword: str) -> tuple[np.ndarray, int]:
        """The windows that contain ``keyword`` whole (packed bits) and how many there are."""
        if keyword not in self._cache:
            span = max(1, len(tokens(keyword)))
            hit = np.zeros(len(self.stream) + 1, dtype=np.int64)
            pos = self._occurrences(keyword)
            if pos is not None and span <= self.window:
                # windows starting in [p + span - window, p] hold the occurrence at p
                lo = np.maximum(pos + span - self.window, 0)
                np.add.at(hit, lo, 1)
                np.add.at(hit, pos + 1, -1)
            inside = (np.cumsum(hit)[: len(self._valid)] > 0) & self._valid
            self._cache[keyword] = (np.packbits(inside), int(inside.sum()))
        return self._cache[keyword]

    def pair(self, a: str, b: str) -> float:
        """NPMI of two keywords over the windows; -1 where they never share one."""
        key = (a, b) if a <= b else (b, a)
        if key not in self._pairs:
            (bits_a, na), (bits_b, nb) = self.presence(a), self.presence(b)
            nab = int(np.bitwise_count(bits_a & bits_b).sum()) if na and nb else 0
            n = self.n_windows
            if nab == 0:
                score = -1.0
            elif nab == n:
                score = 1.0
            else:
                pab = nab / n
                score = math.log(pab / ((na / n) * (nb / n))) / -math.log(pab)
            self._pairs[key] = score
        return self._pairs[key]

    def npmi(self, keywords: Sequence[str], top: int = TOP_KEYWORDS) -> float:
        """Mean NPMI over the pairs of the first ``top`` keywords (NaN with fewer than two)."""
        words = [k for k in keywords[:top] if tokens(k)]
        if len(words) < 2:
            return float("nan")
        return float(np.mean([self.pair(a, b) for a, b in itertools.combinations(words, 2)]))
