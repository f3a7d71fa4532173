"""``make bench-themes``: theme quality on real calls (issue 15's figures) and clustering time/memory at scale.

Quality: the real calls' firm topics, fitted once by the worker's code and cached (``benchmarks.theme_cache``),
placed in three quarters (as they are, 15% of components dropped, an exact copy) and replayed in calendar
order through ``ftm_assets.themes``; the prototype of the issue (average linkage at cosine distance 0.45,
themes of at least 3 firms, later quarters assigned to the first quarter's theme centroids) runs on the
same topics. Scale: synthetic topic centroids (10,000 and 100,000, ~20 per firm, around 2% as many
underlying themes), timed and measured (peak RSS of a fresh subprocess each). Appends to RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from ftm_assets.themes.chain import replay_in_memory
from ftm_assets.themes.cluster import cluster_topics, normalise
from ftm_assets.themes.params import ThemeParams
from ftm_assets.themes import quality
from ftm_assets_tests.support.theme_quarters import QUARTERS

HERE = Path(__file__).resolve().parent


def load_cache(folder: Path, limit: int | None) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    out = []
    for quarter, source in zip(QUARTERS, (QUARTERS[0], QUARTERS[1], QUARTERS[0])):
        data = pickle.loads((folder / f"{source}.pkl").read_bytes())
        if "vectors" not in data:
            raise SystemExit(f"{folder / f'{source}.pkl'} predates per-sentence exposure (no sentence vectors): "
                             f"run `python -m benchmarks.theme_cache --out {folder}` again.")
        topics, sentences = pd.DataFrame(data["topics"]), pd.DataFrame(data["sentences"])
        vectors = np.asarray(data["vectors"], dtype=np.float32)
        if limit:
            keep = list(dict.fromkeys(topics["firm_id"]))[:limit]  # the first calls of the file
            mask = sentences["firm_id"].isin(keep).to_numpy()
            topics, sentences, vectors = topics[topics["firm_id"].isin(keep)], sentences[mask], vectors[mask]
        topics = topics.assign(quarter=quarter)
        out.append((quarter, topics.reset_index(drop=True), sentences.assign(quarter=quarter).reset_index(drop=True),
                    vectors))
    return out


def prototype(quarters) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """The issue's plain prototype: average linkage at 0.45 in the first quarter, nearest centroid after."""
    from scipy.cluster.hierarchy import fcluster, linkage

    out, centroids = [], None
    for i, (quarter, topics, _, _) in enumerate(quarters):
        rows = topics[topics["topic_id"] >= 0].sort_values(["firm_id", "topic_id"]).reset_index(drop=True)
        x = normalise(np.stack(rows["centroid"].to_numpy()))
        if i == 0:
            labels = fcluster(linkage(x.astype(float), "average", metric="cosine"), 0.45, "distance") - 1
            keep = [lab for lab in np.unique(labels) if rows["firm_id"][labels == lab].nunique() >= 3]
            centroids = normalise(np.stack([x[labels == lab].mean(axis=0) for lab in keep]))
            ids = np.array([keep.index(lab) if lab in keep else -1 for lab in labels])
        else:
            sims = x @ centroids.T
            ids = np.where(sims.max(axis=1) >= 0.55, sims.argmax(axis=1), -1)
        rows["theme_id"] = [f"P{j:03d}" if j >= 0 else None for j in ids]
        m = rows[rows["theme_id"].notna()]
        totals = topics.groupby("firm_id")["n_sentences"].sum()
        exp = m.groupby(["firm_id", "theme_id"])["n_sentences"].sum().reset_index()
        exp["share"] = exp["n_sentences"] / exp["firm_id"].map(totals)
        themes = m.groupby("theme_id").agg(n_sentences=("n_sentences", "sum"), n_firms=("firm_id", "nunique")).reset_index()
        out.append((themes, exp))
    return out


def figures(results, quarters) -> dict:
    firms = [sorted(t["firm_id"].unique()) for _, t, _, _ in quarters]
    per_q = [quality.summary(th, ex, f) for (th, ex), f in zip(results, firms)]
    return {
        "per_quarter": per_q,
        "themes_min": min(q["themes"] for q in per_q),
        "largest_theme_share_max": max(q["largest_theme_share"] for q in per_q),
        "coverage_median_min": min(q["coverage_median"] for q in per_q),
        "cosine_copy_median": round(float(quality.exposure_cosines(results[0][1], results[2][1]).median()), 4),
        "cosine_dropped_median": round(float(quality.exposure_cosines(results[0][1], results[1][1]).median()), 4),
    }


def save_pictures(outcomes, folder: Path) -> None:
    """The README's pictures and panel head, from the first quarter of a run over every call."""
    from ftm_assets.themes import plots

    folder.mkdir(parents=True, exist_ok=True)
    first = outcomes[0]
    (folder / "theme-heatmap.png").write_bytes(plots.heatmap_png(first.exposure, first.themes.themes, first.quarter))
    prevalence = pd.DataFrame({o.quarter: dict(zip(o.themes.themes["theme_id"], o.themes.themes["n_sentences"]
                                                   / o.sentences_total)) for o in outcomes}).T.fillna(0.0)
    labels = dict(zip(first.themes.themes["theme_id"], first.themes.themes["label"]))
    (folder / "theme-prevalence.png").write_bytes(plots.prevalence_png(prevalence, labels))
    head = first.exposure.sort_values(["firm_id", "share"], ascending=[True, False]).head(6).round(3)
    (folder / "panel-head.md").write_text(head.to_markdown(index=False))


def content_free(quarters) -> list[tuple]:
    """The null: each quarter's sentence vectors shuffled across its sentences (each quarter its own draw), so
    the exposure no longer knows which firm said what; the topics, and so the themes, are the real ones."""
    rng = np.random.default_rng(0)
    return [(q, topics, sentences, vectors[rng.permutation(len(vectors))]) for q, topics, sentences, vectors in quarters]


def quality_run(cache: Path, limit: int | None, params: ThemeParams, pictures: Path | None = None) -> dict:
    quarters = load_cache(cache, limit)
    t0 = time.perf_counter()
    outcomes = replay_in_memory(quarters, params)
    ours = [(r.themes.themes, r.exposure) for r in outcomes]
    seconds = time.perf_counter() - t0
    null = [(r.themes.themes, r.exposure) for r in replay_in_memory(content_free(quarters), params)]
    if pictures is not None:
        save_pictures(outcomes, pictures)
    return {"firms": int(quarters[0][1]["firm_id"].nunique()),
            "topics": int((quarters[0][1]["topic_id"] >= 0).sum()),
            "ours": figures(ours, quarters), "null": figures(null, quarters),
            "prototype": figures(prototype(quarters), quarters), "seconds_three_quarters": round(seconds, 1)}


def synthetic(n_topics: int, dim: int = 384, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_themes = max(20, n_topics // 50)
    centres = normalise(rng.normal(size=(n_themes, dim)))
    which = rng.integers(0, n_themes, size=n_topics)
    x = normalise(centres[which] + rng.normal(scale=0.045, size=(n_topics, dim)))
    firms = np.arange(n_topics) // 20
    return x, firms, rng.integers(5, 40, size=n_topics)


def scale_child(n_topics: int) -> None:
    x, firms, sizes = synthetic(n_topics)
    params = ThemeParams()
    t0 = time.perf_counter()
    first = cluster_topics(x, firms, sizes, np.zeros((0, x.shape[1]), np.float32), params)
    seconds = time.perf_counter() - t0
    used = np.unique(first.labels[first.labels >= 0])
    t1 = time.perf_counter()
    cluster_topics(x, firms, sizes, first.centroids[used], params)  # a later quarter: the themes are known
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"topics": n_topics, "seconds_first_quarter": round(seconds, 1),
                      "seconds_known_themes": round(time.perf_counter() - t1, 1),
                      "themes": int(len(used)), "peak_rss_mb": round(rss)}))


def scale_run(sizes: list[int]) -> list[dict]:
    out = []
    for n in sizes:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_themes", "--scale-child", str(n)],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def report(result: dict) -> str:
    lines = [f"\n## Themes ({result['date']}, {result['machine']})\n"]
    for label, q in result.get("quality", {}).items():
        o, n, p = q["ours"], q["null"], q["prototype"]
        lines += [f"Real calls ({label}): {q['firms']} firms, {q['topics']} topics per quarter, three quarters "
                  f"(as is, 15% of components dropped, copy) in {q['seconds_three_quarters']} s. Null: the same "
                  "themes, each quarter's sentence vectors shuffled across its sentences (per-sentence exposure "
                  "without content); the prototype counts whole topics.\n",
                  "| figure | bar | ours | null | prototype |", "|---|---|---:|---:|---:|",
                  f"| themes per quarter (min) | >= 15 | {o['themes_min']} | {n['themes_min']} | {p['themes_min']} |",
                  f"| largest theme, share of themed sentences (max) | <= 15% | {o['largest_theme_share_max']:.1%} | {n['largest_theme_share_max']:.1%} | {p['largest_theme_share_max']:.1%} |",
                  f"| median summed share per firm (min over quarters) | - | {o['coverage_median_min']:.3f} | {n['coverage_median_min']:.3f} | {p['coverage_median_min']:.3f} |",
                  f"| exposure cosine first vs copy (median) | >= 0.99 | {o['cosine_copy_median']:.4f} | {n['cosine_copy_median']:.4f} | {p['cosine_copy_median']:.4f} |",
                  f"| exposure cosine first vs 15% dropped (median) | >= 0.93 | {o['cosine_dropped_median']:.4f} | {n['cosine_dropped_median']:.4f} | {p['cosine_dropped_median']:.4f} |",
                  ""]
    if result.get("scale"):
        lines += ["Scale (synthetic centroids, 384-d, fresh process each):\n",
                  "| topics | first quarter s | known themes s | themes | peak RSS MB |", "|---:|---:|---:|---:|---:|"]
        lines += [f"| {s['topics']:,} | {s['seconds_first_quarter']} | {s['seconds_known_themes']} | {s['themes']} | "
                  f"{s['peak_rss_mb']} |" for s in result["scale"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ftm-theme-cache"))
    parser.add_argument("--limits", default="16,all", help="firm counts for the quality rows ('all' = every call)")
    parser.add_argument("--scale", default="10000,100000")
    parser.add_argument("--scale-child", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--params", default="{}", help='ThemeParams overrides as JSON, e.g. {"linkage_distance": 0.6}')
    parser.add_argument("--pictures", type=Path, default=None, help="save the README's pictures here (all calls)")
    args = parser.parse_args()
    if args.scale_child:
        scale_child(args.scale_child)
        return
    import platform

    result = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores", "quality": {}}
    if (args.cache / f"{QUARTERS[0]}.pkl").exists():
        for limit in [s for s in args.limits.split(",") if s]:
            n = None if limit == "all" else int(limit)
            result["quality"][f"{limit} calls"] = quality_run(args.cache, n, ThemeParams(**json.loads(args.params)),
                                                              args.pictures if n is None else None)
    else:
        print(f"No cached firm topics in {args.cache}: run `python -m benchmarks.theme_cache --out {args.cache}`.")
    result["scale"] = scale_run([int(s) for s in args.scale.split(",") if s])
    text = report(result)
    print(text)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write(text)
        (HERE / "themes_latest.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
