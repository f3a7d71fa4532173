"""Topic quality on real calls, through the worker's own functions: stability, shape, content; see README.md.

``python -m benchmarks.quality`` (``make bench-quality``) segments and embeds each Earnings-22 call once with
the worker's ``FirmProcessor.prepare``, then fits its topics with ``fit_topics`` at the default settings and
measures, per firm:

- ``seed_ari``: ARI between the default seed and ``FTM_RANDOM_SEED=7`` (outliers count as a topic);
- ``perturbation_ari``: ARI against a run on the call with 15% of its components dropped (a seeded draw per
  call), on the sentences both runs have. The dropped call is segmented again; its sentences' embeddings are
  the full call's (a sentence's embedding does not depend on its neighbours), so nothing is embedded twice;
- topics per call, outlier share, the share of procedural topics (``boilerplate.is_procedural_topic``: at
  least 3 of the top-4 keywords procedural, filler or the call's names), NPMI coherence of each topic's top-10
  keywords on the firm's own sentences, topic diversity (unique keyword words / all keyword words);
- on the demo corpus, whose components know their theme: ARI between topics and themes (``theme_ari``).

Each method (``--methods ward,umap``: today's default and the seed's UMAP + HDBSCAN) is measured on the
same embeddings. ``--embed-cache PATH`` keeps the embeddings between runs (an .npz).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import math
import re
import sys
import time
import zlib
from pathlib import Path

import numpy as np


from benchmarks.corpora import DEMO_QUARTER, bench_config, demo_firms, real_firms
from ftm_assets.worker_config import TopicParams
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.model import boilerplate
from ftm_assets.worker.model.topic_model import Topic, fit_topics
from ftm_assets.worker.segment import segment

DROP_SHARE = 0.15
OTHER_SEED = 7
_TOKEN = re.compile(r"[a-z][a-z']+")


@dataclasses.dataclass
class Prepared:
    texts: list[str]
    keys: list[tuple[int, str]]  # (component_order, text): finds a sentence again in the dropped call
    embeddings: np.ndarray


def labels_of(topics: list[Topic], n: int) -> np.ndarray:
    out = np.full(n, -2, dtype=int)
    for t in topics:
        out[t.sentence_ids] = t.topic_id
    return out


def drop_components(firm: FirmInput, share: float = DROP_SHARE) -> FirmInput:
    """The firm with ``share`` of its components removed: a draw seeded by the firm id, the same every run."""
    rng = np.random.default_rng(zlib.crc32(firm.firm_id.encode()))
    gone = set(rng.choice(len(firm.components), size=round(share * len(firm.components)), replace=False).tolist())
    kept = [c for i, c in enumerate(firm.components) if i not in gone]
    return dataclasses.replace(firm, components=kept)


def npmi(keywords: list[str], docs: list[set[str]]) -> float:
    """Mean NPMI over pairs of keywords (a bigram counts where both its words occur), -1 for pairs never seen."""
    sets = [frozenset(_TOKEN.findall(k.lower())) for k in keywords]
    sets = [s for s in sets if s]
    n = len(docs)
    if len(sets) < 2 or n == 0:
        return float("nan")
    occ = [np.array([s <= d for d in docs]) for s in sets]
    scores = []
    for a, b in itertools.combinations(range(len(sets)), 2):
        pa_, pb, pab = occ[a].mean(), occ[b].mean(), (occ[a] & occ[b]).mean()
        if pab == 0:
            scores.append(-1.0)
        elif pab == 1:
            scores.append(1.0)
        else:
            scores.append(math.log(pab / (pa_ * pb)) / -math.log(pab))
    return float(np.mean(scores))


def content_measures(topics: list[Topic], texts: list[str]) -> dict:
    """Procedural share, NPMI and diversity of one firm's topics (outliers left out)."""
    real = [t for t in topics if t.topic_id >= 0 and t.keywords]
    names = boilerplate.call_names(texts)
    docs = [set(_TOKEN.findall(s.lower())) for s in texts]
    words = [w for t in real for k in t.keywords for w in _TOKEN.findall(k.lower())]
    scores = [npmi(t.keywords[:10], docs) for t in real]
    scores = [s for s in scores if not math.isnan(s)]
    return {
        "procedural_topics": sum(boilerplate.is_procedural_topic(t.keywords, names) for t in real),
        "topics_with_keywords": len(real),
        "npmi": float(np.mean(scores)) if scores else float("nan"),
        "diversity": len(set(words)) / len(words) if words else float("nan"),
    }


def prepare_all(firms: list[FirmInput], cache: Path | None) -> dict[str, Prepared]:
    """Segment and embed every firm once with the worker's processor; ``cache`` keeps them between runs."""
    stored: dict = {}
    if cache is not None and cache.exists():
        stored = np.load(cache, allow_pickle=True)["prepared"].item()
    missing = [f for f in firms if f.firm_id not in stored]
    if missing:
        from ftm_assets.worker.processor import FirmProcessor

        processor = FirmProcessor(bench_config(), logging.getLogger("bench"))
        for firm in missing:
            try:
                p = processor.prepare(firm, DEMO_QUARTER)
            except Exception as exc:  # an empty or too-short call: the worker would record a failure
                logging.warning("%s skipped: %s", firm.firm_id, exc)
                continue
            keys = [(s.component_order, s.text) for s in p.sentences]
            stored[firm.firm_id] = ([s.text for s in p.sentences], keys, p.embeddings)
        if cache is not None:
            np.savez(cache, prepared=np.array(stored, dtype=object))
    return {f.firm_id: Prepared(*stored[f.firm_id]) for f in firms if f.firm_id in stored}


def measure_firm(firm: FirmInput, prep: Prepared, params: TopicParams) -> dict:
    """One firm's figures for one method: three fits (default seed, seed 7, 15% of components dropped)."""
    from sklearn.metrics import adjusted_rand_score

    n = len(prep.texts)
    t0 = time.perf_counter()
    groups = [order for order, _ in prep.keys]
    main = fit_topics(prep.texts, prep.embeddings, params, use_gpu=False, groups=groups)
    fit_s = time.perf_counter() - t0
    a = labels_of(main, n)
    b = labels_of(fit_topics(prep.texts, prep.embeddings, dataclasses.replace(params, random_seed=OTHER_SEED),
                             use_gpu=False, groups=groups), n)  # fmt: skip
    position = {key: i for i, key in enumerate(prep.keys)}
    dropped = segment(drop_components(firm).components, min_words=params.min_sentence_words)
    shared = [position[(s.component_order, s.text)] for s in dropped if (s.component_order, s.text) in position]
    c = labels_of(fit_topics([prep.texts[i] for i in shared], prep.embeddings[shared], params, use_gpu=False,
                             groups=[groups[i] for i in shared]), len(shared))  # fmt: skip
    real = [t for t in main if t.topic_id >= 0]
    weights = np.array([len(t.sentence_ids) for t in real], dtype=float)
    return {
        "firm_id": firm.firm_id,
        "sentences": n,
        "seed_ari": float(adjusted_rand_score(a, b)),
        "perturbation_ari": float(adjusted_rand_score(a[shared], c)),
        "topics": len(real),
        "outlier_share": float((a == -1).mean()),
        "stability": float(np.average([t.stability for t in real], weights=weights))
        if real and real[0].stability is not None else float("nan"),
        "fit_s": fit_s,
        **content_measures(main, prep.texts),
    }


def theme_agreement(params: TopicParams, prepared: dict[str, Prepared], firms: list[FirmInput]) -> float:
    """Median over demo firms of the ARI between topics and the demo's known themes (boilerplate: one theme)."""
    from sklearn.metrics import adjusted_rand_score

    from ftm_assets.transcripts import demo

    by_id = {f.firm_id: f for f in demo.demo_firms(len(firms))}
    scores = []
    for firm in firms:
        prep = prepared.get(firm.firm_id)
        if prep is None:
            continue
        call = demo.demo_call(by_id[firm.firm_id], DEMO_QUARTER)
        truth = [call[order].theme or "(boilerplate)" for order, _ in prep.keys]
        groups = [order for order, _ in prep.keys]
        found = labels_of(fit_topics(prep.texts, prep.embeddings, params, use_gpu=False, groups=groups), len(prep.texts))
        scores.append(adjusted_rand_score(truth, found))
    return float(np.median(scores)) if scores else float("nan")


def summarize(rows: list[dict]) -> dict:
    med = lambda k: float(np.nanmedian([r[k] for r in rows]))  # noqa: E731
    topics = sum(r["topics_with_keywords"] for r in rows)
    return {
        "firms": len(rows),
        "seed_ari_median": med("seed_ari"),
        "perturbation_ari_median": med("perturbation_ari"),
        "topics_per_call_median": med("topics"),
        "outlier_share_median": med("outlier_share"),
        "procedural_topic_share": sum(r["procedural_topics"] for r in rows) / topics if topics else float("nan"),
        "npmi_median": med("npmi"),
        "diversity_median": med("diversity"),
        "firm_stability_median": med("stability"),
        "fit_s_per_firm_mean": float(np.mean([r["fit_s"] for r in rows])),
    }


def run(methods: list[str], n_real: int | None, n_demo: int, cache: Path | None) -> dict:
    real = real_firms(n_real)
    demo = demo_firms(n_demo)
    prepared = prepare_all(real + demo, cache)
    out: dict = {"methods": {}}
    for method in methods:
        params = TopicParams(topic_method=method)
        rows = [measure_firm(f, prepared[f.firm_id], params) for f in real if f.firm_id in prepared]
        summary = summarize(rows) if rows else {}
        summary["demo_theme_ari_median"] = theme_agreement(params, prepared, demo)
        summary["demo_firms"] = len(demo)
        out["methods"][method] = {"summary": summary, "per_firm": rows}
        print(method, json.dumps(summary), flush=True)
    return out


HEADLINE = ("seed_ari_median", "perturbation_ari_median", "topics_per_call_median", "outlier_share_median",
            "procedural_topic_share", "npmi_median")  # fmt: skip


def quality_keys(by_method: dict[str, dict]) -> dict:
    """``latest.json``'s keys: every method's summary under ``quality``, the default method's at the top."""
    default = TopicParams().topic_method
    head = by_method.get(default, {})
    return {"quality": by_method, "quality_method": default, **{k: head.get(k) for k in HEADLINE}}


def quality_targets(out: dict) -> dict[str, bool | None]:
    """Issue 16's targets (None: not measured): stable under a reseed and lost components, no collapse."""
    q = out.get("quality")
    if not q:
        return {}
    new, old = q.get(out["quality_method"], {}), q.get("umap", {})
    themes = new.get("demo_theme_ari_median"), old.get("demo_theme_ari_median")
    return {
        "seed_ari_median_ge_0.85": new.get("seed_ari_median", 0) >= 0.85,
        "perturbation_ari_median_ge_0.75": new.get("perturbation_ari_median", 0) >= 0.75,
        "topics_per_call_median_8_to_40": 8 <= new.get("topics_per_call_median", 0) <= 40,
        "outlier_share_median_le_0.25": new.get("outlier_share_median", 1) <= 0.25,
        "demo_themes_no_worse": None if None in themes else themes[0] >= themes[1],
    }


def render_quality(q: dict) -> str:
    """A markdown table, one column per method."""
    rows = [
        ("real calls", "firms", "{:.0f}"), ("seed ARI (42 vs 7), median", "seed_ari_median", "{:.3f}"),
        ("ARI vs 15% of components dropped, median", "perturbation_ari_median", "{:.3f}"),
        ("topics per call, median", "topics_per_call_median", "{:.1f}"),
        ("outlier share, median", "outlier_share_median", "{:.3f}"),
        ("procedural topics (>= 3 of top-4 keywords)", "procedural_topic_share", "{:.3f}"),
        ("NPMI of top-10 keywords, median", "npmi_median", "{:.3f}"),
        ("topic diversity, median", "diversity_median", "{:.3f}"),
        ("firm stability (sentence-weighted), median", "firm_stability_median", "{:.3f}"),
        ("ARI with the demo's known themes, median", "demo_theme_ari_median", "{:.3f}"),
        ("fit seconds per call, mean", "fit_s_per_firm_mean", "{:.2f}"),
    ]  # fmt: skip
    methods = list(q)
    lines = ["\nTopic quality on the Earnings-22 calls (`benchmarks/quality.py`, default settings, worker's own "
             "segment -> embed -> fit_topics; demo themes on 8 demo calls):", "",
             "| measure | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]  # fmt: skip
    for label, key, fmt in rows:
        cells = [fmt.format(q[m][key]) if isinstance(q[m].get(key), (int, float)) else "-" for m in methods]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(by_method: dict[str, dict]) -> None:
    """Merge into ``benchmarks/latest.json`` (its other keys kept) and append a section to ``RESULTS.md``."""
    import datetime as dt

    here = Path(__file__).resolve().parent
    latest = here / "latest.json"
    out = json.loads(latest.read_text()) if latest.exists() else {}
    out.update(quality_keys(by_method))
    out["quality_date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    out.setdefault("targets", {}).update(quality_targets(out))
    latest.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    met = ", ".join(f"{k}: {'yes' if v else 'NO' if v is not None else 'not measured'}"
                    for k, v in quality_targets(out).items())  # fmt: skip
    with open(here / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(f"\n## {out['quality_date']} — topic quality only (`make bench-quality`)\n"
                 + render_quality(by_method) + f"\n\nTargets met (issue 16): {met}.\n")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-firms", type=int, default=None, help="Earnings-22 calls (default: all 125)")
    parser.add_argument("--demo-firms", type=int, default=8)
    parser.add_argument("--methods", default="ward,umap")
    parser.add_argument("--embed-cache", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the full result (per firm too) here")
    parser.add_argument("--no-write", action="store_true", help="leave latest.json and RESULTS.md alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run(args.methods.split(","), args.real_firms, args.demo_firms, args.embed_cache)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    by_method = {m: r["summary"] for m, r in result["methods"].items()}
    if not args.no_write:
        write_results(by_method)
    print("BENCH_JSON " + json.dumps(by_method))
    return 0


if __name__ == "__main__":
    sys.exit(main())
