"""What the sentences' tone columns cost and how often they are non-zero: LM counting and the tone classifier.

    python -m benchmarks.tone [--demo-firms 40] [--real-calls 125] [--repeats 3]   # a BENCH_JSON line at the end

Sentences are the worker's own (``segment`` on the demo corpus and on the real Earnings-22 calls). Reported:
- per corpus, the share of sentences with at least one LM word (any list; positive or negative; uncertainty),
  and the same shares on a null: the corpus's words shuffled across sentences (sentence lengths kept), which
  keeps the word frequencies and breaks every sentence;
- seconds per 1,000 sentences for ``count_tone`` (the lists already loaded; their one-time load apart) and for
  the classifier path (``ToneClassifier.score``) on a tiny BERT built here (random weights: the plumbing's
  cost, tokenizing and batching included, not FinBERT's; FinBERT's forward pass is ~100x the tiny one's).
Medians over ``--repeats``; the machine's load is not controlled here (run it on a quiet machine).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from ftm_assets.text import tone
from ftm_assets.worker.segment import segment


def sentences_of(firms) -> list[str]:
    return [s.text for firm in firms for s in segment(firm.components, min_words=4)]


def hit_shares(texts: list[str]) -> dict[str, float]:
    counts = [tone.count_tone(t) for t in texts]
    n = max(len(counts), 1)
    return {
        "any": sum(c.positive + c.negative + c.uncertainty > 0 for c in counts) / n,
        "pos_or_neg": sum(c.positive + c.negative > 0 for c in counts) / n,
        "uncertainty": sum(c.uncertainty > 0 for c in counts) / n,
        "words_on_a_list": sum(c.positive + c.negative + c.uncertainty for c in counts) / max(sum(c.n_words for c in counts), 1),
    }


def shuffled(texts: list[str], seed: int = 0) -> list[str]:
    """The null: every word of the corpus dealt back at random into sentences of the original lengths."""
    words = [w for t in texts for w in t.split()]
    random.Random(seed).shuffle(words)
    out, at = [], 0
    for t in texts:
        k = len(t.split())
        out.append(" ".join(words[at:at + k]))
        at += k
    return out


def per_thousand(fn, texts: list[str], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) / len(texts) * 1000


def measure(demo_firms: int, real_calls: int, repeats: int) -> dict:
    from benchmarks.corpora import demo_firms as load_demo
    from benchmarks.corpora import real_firms

    t0 = time.perf_counter()
    tone.lm_lists()
    out: dict = {"lm_lists_load_s": round(time.perf_counter() - t0, 3), "corpora": {}}
    corpora = {"demo": sentences_of(load_demo(demo_firms)), "earnings22": sentences_of(real_firms(real_calls))}
    for name, texts in corpora.items():
        if not texts:
            out["corpora"][name] = {"note": "corpus absent"}
            continue
        out["corpora"][name] = {
            "sentences": len(texts),
            "shares": {k: round(v, 4) for k, v in hit_shares(texts).items()},
            "null_shares": {k: round(v, 4) for k, v in hit_shares(shuffled(texts)).items()},
            "lm_s_per_1000": round(per_thousand(lambda ts: [tone.count_tone(t) for t in ts], texts, repeats), 5),
        }
    texts = (corpora["earnings22"] or corpora["demo"])[:1000]
    out["tiny_classifier_s_per_1000"] = _tiny_classifier_seconds(texts, repeats)
    out["classifier_sentences"] = len(texts)
    return out


def _tiny_classifier_seconds(texts: list[str], repeats: int) -> dict[str, float]:
    """With torch's default threads (as the worker runs it) and with one thread (steadier on a busy machine:
    a model this small spends its time in thread hand-offs)."""
    import torch

    from ftm_assets.worker.model.tone_model import ToneClassifier
    from ftm_assets_tests.support.tiny_tone_model import tiny_tone_model

    default = torch.get_num_threads()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        classifier = ToneClassifier(tiny_tone_model(Path(tmp) / "tiny"), "cpu")
        classifier.score(texts[:32])  # first-call set-up apart
        for threads in (default, 1):
            torch.set_num_threads(threads)
            out[f"threads_{threads}"] = round(per_thousand(classifier.score, texts, repeats), 4)
    torch.set_num_threads(default)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-firms", type=int, default=40)
    parser.add_argument("--real-calls", type=int, default=125)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = measure(args.demo_firms, args.real_calls, args.repeats)
    print(json.dumps(result, indent=2))
    print("BENCH_JSON " + json.dumps({"tone": result}, sort_keys=True))


if __name__ == "__main__":
    main()
