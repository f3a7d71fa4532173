"""Topic quality on real calls, each figure beside content-free nulls (issue 24); see README.md and topic_eval.py.

``python -m benchmarks.quality`` (``make bench-quality``) segments and embeds each Earnings-22 call once with
the worker's ``FirmProcessor.prepare`` (``--embed-cache PATH`` keeps the embeddings, an .npz), and the
sentences the second splitter adds once more (``<stem>-alt.npz``). The calls are split in two by the parity of
the CRC-32 of the call id (``choosing_set``): ``topic_sweep.py`` chooses the settings on the even half; this
module reports on the odd half (``--set report``, the default). Per call and method (``--methods``: the
default ``ward``, the previous default ``ward-w4-d0.8`` and the seed's ``umap``), ``topic_eval.measure_call``
gives seed ARI, component-drop and within-turn ARI, splitter ARI, reference NPMI, diversity, AMI against the
components, stability and whether it predicts survival; each beside the same figure on the shuffled-sentence
null and the random-vector null (``nulls.py``). Summaries are medians over calls; ``null_gap_component``,
``null_gap_within_turn`` and ``npmi_ref_gap`` are the real median less the shuffled null's. On the demo
corpus, whose components know their theme: ARI between topics and themes (``demo_theme_ari_median``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import zlib
from pathlib import Path

import numpy as np


from benchmarks.corpora import DEMO_QUARTER, bench_config, demo_firms, real_firms
from ftm_assets.worker_config import TopicParams
from ftm_assets.worker.inputs import FirmInput
from benchmarks import nulls
from benchmarks.nulls import Prepared
from benchmarks.reference_npmi import ReferenceCorpus
from benchmarks.topic_eval import Candidate, fit, measure_call

DROP_SHARE = 0.15


def drop_components(firm: FirmInput, share: float = DROP_SHARE) -> FirmInput:
    """The firm with ``share`` of its components removed: a draw seeded by the firm id, the same every run."""
    rng = np.random.default_rng(zlib.crc32(firm.firm_id.encode()))
    gone = set(rng.choice(len(firm.components), size=round(share * len(firm.components)), replace=False).tolist())
    kept = [c for i, c in enumerate(firm.components) if i not in gone]
    return dataclasses.replace(firm, components=kept)


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


def choosing_set(firm_id: str) -> bool:
    """The deterministic split: a call is in the choosing set when the CRC-32 of its id is even, else reporting."""
    return zlib.crc32(firm_id.encode()) % 2 == 0


def prepare_alt(firms: list[FirmInput], prepared: dict[str, Prepared], cache: Path | None) -> dict:
    """Per firm: the call segmented by the second splitter (``nulls.clause_split``) and its cleaned components.

    Sentences the first splitter also gives keep their embeddings; only the new ones are embedded (once, kept
    in ``cache`` beside the main cache as ``<stem>-alt.npz``).
    """
    from ftm_assets.worker.segment import OPERATOR_SPEAKER_TYPES, clean_text, word_count

    known = {t: e for p in prepared.values() for t, e in zip(p.texts, p.embeddings)}
    split: dict[str, tuple[list[tuple[int, str]], dict[int, str]]] = {}
    for firm in firms:
        if firm.firm_id not in prepared:
            continue
        keys, comps = [], {}
        for c in firm.components:
            if not c.text or (c.speaker_type or "").strip().lower() in OPERATOR_SPEAKER_TYPES:
                continue
            comps[c.component_order] = text = clean_text(c.text)
            keys += [(c.component_order, s) for s in nulls.clause_split(text)
                     if word_count(s) >= TopicParams().min_sentence_words]  # fmt: skip
        split[firm.firm_id] = (keys, comps)
    path = None if cache is None else cache.with_name(cache.stem + "-alt.npz")
    extra: dict = {}
    if path is not None and path.exists():
        extra = np.load(path, allow_pickle=True)["vectors"].item()
    missing = sorted({s for keys, _ in split.values() for _, s in keys} - set(known) - set(extra))
    if missing:
        from ftm_assets.worker.processor import FirmProcessor

        vectors, _ = FirmProcessor(bench_config(), logging.getLogger("bench")).embed(missing)
        extra.update(zip(missing, vectors))
        if path is not None:
            np.savez(path, vectors=np.array(extra, dtype=object))
    known.update(extra)
    return {f: (Prepared([s for _, s in keys], keys, np.stack([known[s] for _, s in keys])), comps)
            for f, (keys, comps) in split.items()}  # fmt: skip


def theme_agreement(cand: Candidate, prepared: dict[str, Prepared], firms: list[FirmInput]) -> float:
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
        scores.append(adjusted_rand_score(truth, fit(prep, cand).labels))
    return float(np.median(scores)) if scores else float("nan")


FIGURES = ("component_ari", "within_turn_ari", "npmi_ref", "diversity", "ami_components", "stability",
           "topics", "outlier_share")  # fmt: skip


def summarize(rows: list[dict]) -> dict:
    """Medians over calls (fit time: mean); each null's figure beside the real one, and the gaps."""
    def med(k: str) -> float:
        vals = [r[k] for r in rows if k in r]
        return float(np.nanmedian(vals)) if vals else float("nan")

    out = {"firms": len(rows), "seed_ari": med("seed_ari"), "splitter_ari": med("splitter_ari"),
           "stability_survival_rho": med("stability_survival_rho"),
           "fit_s_per_call": float(np.mean([r["fit_s"] for r in rows]))}  # fmt: skip
    for k in FIGURES:
        out[k] = med(k)
        for null in ("shuffled", "random"):
            if f"{null}_{k}" in rows[0]:
                out[f"{null}_{k}"] = med(f"{null}_{k}")
    if "shuffled_component_ari" in out:
        out["null_gap_component"] = out["component_ari"] - out["shuffled_component_ari"]
        out["null_gap_within_turn"] = out["within_turn_ari"] - out["shuffled_within_turn_ari"]
        out["npmi_ref_null"] = out["shuffled_npmi_ref"]
        out["npmi_ref_gap"] = out["npmi_ref"] - out["shuffled_npmi_ref"]
    rhos = [r["stability_survival_rho"] for r in rows if not math.isnan(r.get("stability_survival_rho", math.nan))]
    out["stability_survival_rho_calls"] = len(rhos)
    out["stability_survival_rho_positive_share"] = float(np.mean([r > 0 for r in rhos])) if rhos else float("nan")
    return out


def load(n_real: int | None, n_demo: int, cache: Path | None) -> tuple[list[FirmInput], list[FirmInput], dict]:
    real, demo = real_firms(n_real), (demo_firms(n_demo) if n_demo else [])
    return real, demo, prepare_all(real + demo, cache)


class Bench:
    """The shared inputs of every candidate's measurement: reference corpus, null pool, second segmentation."""

    def __init__(self, real: list[FirmInput], prepared: dict[str, Prepared], cache: Path | None,
                 null_names: tuple[str, ...] = ("shuffled", "random"), splitter: bool = True) -> None:  # fmt: skip
        self.real = [f for f in real if f.firm_id in prepared]
        self.prepared = prepared
        calls = [prepared[f.firm_id] for f in self.real]
        self.reference = ReferenceCorpus(p.texts for p in calls)
        pool = nulls.corpus_pool(calls)
        makers = {"shuffled": lambda f, p: nulls.shuffled_null(f, p, pool), "random": nulls.random_vector_null}
        self.make_nulls = {k: makers[k] for k in null_names}
        self.cache, self.splitter = cache, splitter
        self.alt: dict = {}

    def firms(self, which: str) -> list[FirmInput]:
        if which == "all":
            return self.real
        return [f for f in self.real if choosing_set(f.firm_id) == (which == "choose")]

    def measure(self, cand: Candidate, which: str, draws: int = nulls.WITHIN_TURN_DRAWS, *,
                limit: int | None = None, null_stability: bool = True) -> list[dict]:  # fmt: skip
        """Every figure of ``cand`` on the calls of ``which`` (the first ``limit`` of them)."""
        firms = self.firms(which)[:limit]
        if self.splitter:  # the second segmentation of just these calls (its new sentences embedded once)
            todo = [f for f in firms if f.firm_id not in self.alt]
            self.alt.update(prepare_alt(todo, self.prepared, self.cache) if todo else {})
        return [measure_call(f.firm_id, self.prepared[f.firm_id], cand, self.reference, self.make_nulls,
                             draws=draws, alt=self.alt.get(f.firm_id), null_stability=null_stability)
                for f in firms]  # fmt: skip


def candidates_for(names: list[str]) -> list[Candidate]:
    from benchmarks.topic_sweep import CANDIDATES

    by_name = {c.name: c for c in CANDIDATES}
    unknown = [n for n in names if n not in by_name and n not in ("ward", "umap")]
    if unknown:
        raise SystemExit(f"unknown candidate(s) {unknown}; known: ward, umap, {', '.join(by_name)}")
    return [by_name.get(n) or Candidate(n, method=n) for n in names]


def run(methods: list[str], n_real: int | None, n_demo: int, cache: Path | None, which: str = "report",
        draws: int = nulls.WITHIN_TURN_DRAWS, umap_calls: int | None = None, limit: int | None = None,
        splitter: bool = True) -> dict:  # fmt: skip
    real, demo, prepared = load(n_real, n_demo, cache)
    bench = Bench(real, prepared, cache, splitter=splitter)
    out: dict = {"methods": {}, "set": which}
    for cand in candidates_for(methods):
        slow = cand.method == "umap"  # ~10x a Ward fit: optionally on the first calls of the set, one draw
        rows = bench.measure(cand, which, 1 if slow and umap_calls else draws, limit=umap_calls if slow else limit)
        summary = summarize(rows) if rows else {}
        summary["demo_theme_ari_median"] = theme_agreement(cand, prepared, demo)
        summary["demo_firms"] = len(demo)
        summary["calls_set"] = which
        out["methods"][cand.name] = {"summary": summary, "per_firm": rows}
        print(cand.name, json.dumps(summary), flush=True)
    return out


HEADLINE = ("seed_ari", "within_turn_ari", "null_gap_component", "null_gap_within_turn", "npmi_ref",
            "npmi_ref_null", "component_ari", "topics", "outlier_share", "fit_s_per_call")  # fmt: skip


def quality_keys(by_method: dict[str, dict]) -> dict:
    """``latest.json``'s keys: every method's summary under ``quality``, the default method's at the top."""
    default = TopicParams().topic_method
    head = by_method.get(default, {})
    return {"quality": by_method, "quality_method": default, **{k: head.get(k) for k in HEADLINE}}


def quality_targets(out: dict) -> dict[str, bool | None]:
    """Issue 24's targets (None: not measured), on the reporting set: content over turn shape, and no collapse."""
    q = out.get("quality")
    if not q:
        return {}
    new = q.get(out["quality_method"], {})
    old = q.get(BASELINE_NAME, {})

    def at_least(key: str, bar: float) -> bool | None:
        v = new.get(key)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v >= bar

    base_npmi, base_fit = old.get("npmi_ref"), old.get("fit_s_per_call")
    return {
        "within_turn_ari_ge_0.65": at_least("within_turn_ari", 0.65),
        "null_gap_component_ge_0.12": at_least("null_gap_component", 0.12),
        "null_gap_within_turn_ge_0.18": at_least("null_gap_within_turn", 0.18),
        "npmi_ref_gap_ge_0.10": at_least("npmi_ref_gap", 0.10),
        "npmi_ref_ge_previous_default_minus_0.01": None if base_npmi is None else at_least("npmi_ref", base_npmi - 0.01),
        "seed_ari_ge_0.85": at_least("seed_ari", 0.85),
        "topics_per_call_8_to_40": None if "topics" not in new else 8 <= new["topics"] <= 40,
        "outlier_share_le_0.25": None if "outlier_share" not in new else new["outlier_share"] <= 0.25,
        "fit_le_1.5x_previous_default": None if base_fit is None or "fit_s_per_call" not in new
        else new["fit_s_per_call"] <= 1.5 * base_fit,
    }


BASELINE_NAME = "ward-w4-d0.8"  # the default before issue 24 (window 4, decay 0.8), measured beside the new one

ROWS = [
    ("calls", "firms", "{:.0f}", None), ("seed ARI (42 vs 7)", "seed_ari", "{:.3f}", None),
    ("ARI, 15% of components dropped", "component_ari", "{:.3f}", "component_ari"),
    ("ARI, 15% of sentences dropped within turns", "within_turn_ari", "{:.3f}", "within_turn_ari"),
    ("ARI vs the second sentence splitter (words)", "splitter_ari", "{:.3f}", None),
    ("reference NPMI of top-10 keywords", "npmi_ref", "{:.3f}", "npmi_ref"),
    ("topic diversity", "diversity", "{:.3f}", "diversity"),
    ("AMI topics vs components", "ami_components", "{:.3f}", "ami_components"),
    ("stability (sentence-weighted)", "stability", "{:.3f}", "stability"),
    ("rank corr. stability vs within-turn survival", "stability_survival_rho", "{:.3f}", None),
    ("topics per call", "topics", "{:.1f}", "topics"), ("outlier share", "outlier_share", "{:.3f}", "outlier_share"),
    ("ARI with the demo's known themes", "demo_theme_ari_median", "{:.3f}", None),
    ("fit seconds per call (mean)", "fit_s_per_call", "{:.3f}", None),
]  # fmt: skip


def _cell(q: dict, key: str, fmt: str, null: str | None) -> str:
    v = q.get(key)
    text = fmt.format(v) if isinstance(v, (int, float)) else "-"
    if null is not None and f"shuffled_{null}" in q:
        parts = [fmt.format(q[f"{n}_{null}"]) for n in ("shuffled", "random") if f"{n}_{null}" in q]
        text += " (" + " / ".join(parts) + ")"
    return text


def render_quality(q: dict) -> str:
    """A markdown table, one column per method: each figure, then (shuffled-sentence null / random-vector null)."""
    methods = list(q)
    lines = ["\nTopic quality on the Earnings-22 reporting calls (`benchmarks/quality.py`; medians over calls; in "
             "brackets the same figure on the shuffled-sentence null / the random-vector null):", "",
             "| measure | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]  # fmt: skip
    for label, key, fmt, null in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(q[m], key, fmt, null) for m in methods) + " |")
    return "\n".join(lines)


def write_results(by_method: dict[str, dict]) -> None:
    """Merge into ``benchmarks/latest.json`` (its other keys kept) and append a section to ``RESULTS.md``."""
    import datetime as dt

    here = Path(__file__).resolve().parent
    latest = here / "latest.json"
    out = json.loads(latest.read_text()) if latest.exists() else {}
    for stale in ("perturbation_ari_median", "seed_ari_median", "npmi_median", "topics_per_call_median",
                  "outlier_share_median", "procedural_topic_share"):  # issue 16's keys, replaced by issue 24's
        out.pop(stale, None)
    for stale in ("perturbation_ari_median_ge_0.75", "seed_ari_median_ge_0.85", "topics_per_call_median_8_to_40",
                  "outlier_share_median_le_0.25", "demo_themes_no_worse"):  # issue 16's targets, on keys no longer written
        out.get("targets", {}).pop(stale, None)
    out.update(quality_keys(by_method))
    out["quality_date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    out.setdefault("targets", {}).update(quality_targets(out))
    latest.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    met = ", ".join(f"{k}: {'yes' if v else 'NO' if v is not None else 'not measured'}"
                    for k, v in quality_targets(out).items())  # fmt: skip
    with open(here / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(f"\n## {out['quality_date']} — topic quality only (`make bench-quality`)\n"
                 + render_quality(by_method) + f"\n\nTargets met (issue 24, reporting calls): {met}.\n")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-firms", type=int, default=None, help="Earnings-22 calls (default: all 125)")
    parser.add_argument("--demo-firms", type=int, default=8)
    parser.add_argument("--methods", default=f"ward,{BASELINE_NAME},umap",
                        help="candidates: ward (the default), umap, or a name from topic_sweep.CANDIDATES")
    parser.add_argument("--set", default="report", choices=("report", "choose", "all"),
                        help="which calls: the reporting set (default), the choosing set, or all")
    parser.add_argument("--draws", type=int, default=nulls.WITHIN_TURN_DRAWS, help="within-turn drop draws")
    parser.add_argument("--umap-calls", type=int, default=20,
                        help="measure umap on only the first N calls of the set, one within-turn draw (a UMAP fit "
                        "costs ~10 Ward fits); 0: all calls, every draw")
    parser.add_argument("--limit", type=int, default=None, help="only the first N calls of the set")
    parser.add_argument("--no-splitter", action="store_true", help="skip the second sentence splitter")
    parser.add_argument("--embed-cache", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the full result (per firm too) here")
    parser.add_argument("--no-write", action="store_true", help="leave latest.json and RESULTS.md alone")
    parser.add_argument("--combine", default="", help="comma list of --out files of earlier runs (methods split "
                        "across processes): write their summaries, measuring nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.combine:
        by_method = {m: r["summary"] for f in args.combine.split(",")
                     for m, r in json.loads(Path(f).read_text())["methods"].items()}  # fmt: skip
        if not args.no_write:
            write_results(by_method)
        print(render_quality(by_method))
        return 0
    result = run(args.methods.split(","), args.real_firms, args.demo_firms, args.embed_cache, args.set, args.draws,
                 args.umap_calls or None, args.limit, not args.no_splitter)  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    by_method = {m: r["summary"] for m, r in result["methods"].items()}
    if not args.no_write:
        write_results(by_method)
    print("BENCH_JSON " + json.dumps(by_method))
    return 0


if __name__ == "__main__":
    sys.exit(main())
