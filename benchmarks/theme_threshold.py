"""The per-sentence exposure at several assignment thresholds (``FTM_THEME_SENTENCE_SIMILARITY``), and the
generic-theme flags of the demo quarter. Appends to RESULTS.md and writes ``theme_threshold.json``.

Real calls: the Earnings-22 calls in two quarters, as they are and with 15% of each call's components
dropped (``support.theme_quarters``), segmented, embedded and fitted once by the worker's own processor
(vectors kept, cached under ``--cache``), then replayed through ``ftm_assets.themes`` at each threshold (the
themes do not depend on it; only the sentences' assignment does). Per threshold:
- ``spearman``: rank correlation of firms' exposures (the dense firm x theme grid of the first quarter's
  ``share``) between each pair of thresholds;
- ``retest``: Spearman of the same grid between the as-is and the 15%-dropped quarter (same firms, same theme
  ids): how reliably the measure gives back a firm's exposure when a few of its components are lost. Shown
  beside the same figure on a null, the sentences' vectors shuffled across the quarter's firms;
- coverage: the median firm's summed share, the share of sentences assigned; the median cosine of a firm's
  exposure vector between the two quarters (issue 15's id-stability figure, ``themes.quality``).
The default is the threshold with the best ``retest`` on the choosing set (calls whose id has an even CRC-32,
``benchmarks.quality.choosing_set``); the reporting set's figure is the one quoted.
Run: ``python -m benchmarks.theme_threshold [--limit N] [--cache /tmp/ftm-theme-sweep]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from benchmarks.quality import choosing_set
from ftm_assets.themes import quality
from ftm_assets.themes.chain import replay_in_memory
from ftm_assets.themes.params import ThemeParams

HERE = Path(__file__).resolve().parent
THRESHOLDS = (0.45, 0.5, 0.55, 0.6)
QUARTERS = ("2023Q1", "2023Q2")
DEMO_QUARTER = "2024Q1"


def fitted(rows: list[dict], quarter: str) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Topics, sentences and sentence vectors of raw component ``rows``, fitted by the worker's processor."""
    from benchmarks.theme_cache import fit_rows
    from ftm_assets.worker.processor import FirmProcessor
    from ftm_assets.worker_config import WorkerConfig

    processor = FirmProcessor(WorkerConfig(quarter=quarter, batch="000", storage_root="unused", run_id="sweep"),
                              logging.getLogger("theme_threshold"))
    try:
        data = fit_rows(processor, rows, quarter)
    finally:
        processor.close()
    return pd.DataFrame(data["topics"]), pd.DataFrame(data["sentences"]), data["vectors"].astype(np.float32)


def real_quarters(cache: Path, limit: int | None) -> list[tuple]:
    path = cache / f"real-{limit or 'all'}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    from ftm_assets_tests.support.earnings22_calls import read_calls
    from ftm_assets_tests.support.theme_quarters import quarter_rows

    calls = read_calls(limit)
    out = []
    for quarter, variant in zip(QUARTERS, ("as_is", "dropped")):
        out.append((quarter, *fitted(quarter_rows(calls, quarter, variant), quarter)))
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def demo_quarter(cache: Path, n_firms: int) -> tuple:
    path = cache / f"demo-{n_firms}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    from ftm_assets.transcripts.demo import demo_transcripts

    table = demo_transcripts(DEMO_QUARTER, n_firms=n_firms)
    out = (DEMO_QUARTER, *fitted(table.to_pylist(), DEMO_QUARTER))
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def grid(exposure: pd.DataFrame, firms: list[str], themes: list[str]) -> pd.DataFrame:
    """The dense firm x theme grid of ``share`` (zeros where a firm has no sentence on a theme)."""
    wide = exposure.pivot_table(index="firm_id", columns="theme_id", values="share", aggfunc="sum", fill_value=0.0)
    return wide.reindex(index=firms, columns=themes, fill_value=0.0)


def shuffled(sentences: pd.DataFrame, vectors: np.ndarray, seed: int) -> np.ndarray:
    """The null: each sentence gets the vector of a random sentence of the quarter (firm content removed)."""
    return vectors[np.random.default_rng(seed).permutation(len(vectors))]


def retest(a: pd.DataFrame, b: pd.DataFrame, firms: list[str]) -> float:
    x, y = a.reindex(index=firms).to_numpy().ravel(), b.reindex(index=firms).to_numpy().ravel()
    return float(spearmanr(x, y).statistic) if len(x) > 2 and x.std() > 0 and y.std() > 0 else float("nan")


def sweep(quarters: list[tuple]) -> dict:
    (q1, t1, s1, v1), (q2, t2, s2, v2) = quarters
    firms = sorted(set(t1["firm_id"]) & set(t2["firm_id"]))
    choose = [f for f in firms if choosing_set(f)]
    report = [f for f in firms if not choosing_set(f)]
    rows, grids = {}, {}
    for tau in THRESHOLDS:
        params = ThemeParams(sentence_similarity=tau)
        o1, o2 = replay_in_memory([(q1, t1, s1, v1), (q2, t2, s2, v2)], params)
        n1, n2 = replay_in_memory([(q1, t1, s1, shuffled(s1, v1, 1)), (q2, t2, s2, shuffled(s2, v2, 2))], params)
        themes = sorted(set(o1.themes.present) | set(o2.themes.present))
        g1, g2 = grid(o1.exposure, firms, themes), grid(o2.exposure, firms, themes)
        null_themes = sorted(set(n1.themes.present) | set(n2.themes.present))
        h1, h2 = grid(n1.exposure, firms, null_themes), grid(n2.exposure, firms, null_themes)
        grids[tau] = g1
        summed = g1.sum(axis=1)
        rows[tau] = {
            "themes": len(o1.themes.present),
            "coverage_median": round(float(summed.median()), 4),
            "assigned_share": round(len(o1.assignments) / max(len(s1), 1), 4),
            "retest_choosing": round(retest(g1, g2, choose), 4),
            "retest_reporting": round(retest(g1, g2, report), 4),
            "retest_null_reporting": round(retest(h1, h2, report), 4),
            "cosine_dropped_median": round(float(quality.exposure_cosines(o1.exposure, o2.exposure).median()), 4),
            "generic": int(o1.themes.themes["generic"].sum()),
        }
    pairs = {f"{a}-{b}": round(float(spearmanr(grids[a].to_numpy().ravel(), grids[b].to_numpy().ravel()).statistic), 4)
             for i, a in enumerate(THRESHOLDS) for b in THRESHOLDS[i + 1:]}
    chosen = max(THRESHOLDS, key=lambda t: (rows[t]["retest_choosing"], -abs(t - 0.5)))
    return {"firms": len(firms), "choosing": len(choose), "reporting": len(report), "by_threshold": rows,
            "spearman_between": pairs, "chosen": chosen}


def demo_generic(quarter: tuple, tau: float) -> list[dict]:
    q, t, s, v = quarter
    (o,) = replay_in_memory([(q, t, s, v)], ThemeParams(sentence_similarity=tau))
    themes = o.themes.themes.sort_values("breadth", ascending=False)
    return [{"theme_id": r.theme_id, "label": r.label, "breadth": round(float(r.breadth), 3),
             "analyst_share": None if pd.isna(r.analyst_share) else round(float(r.analyst_share), 3),
             "generic": bool(r.generic)} for r in themes.itertuples()]


def markdown(result: dict) -> str:
    real = result["real"]
    lines = [f"\n## Per-sentence exposure: assignment threshold sweep ({result['date']}, `benchmarks/theme_threshold.py`)\n",
             f"Earnings-22, {real['firms']} calls in two quarters (as is; 15% of components dropped), one theme chain; "
             f"choosing set {real['choosing']} calls, reporting set {real['reporting']} (CRC-32 parity). `retest`: "
             "Spearman of the firm x theme `share` grid between the two quarters; in brackets the null (sentence "
             "vectors shuffled across the quarter's firms).\n",
             "| threshold | themes | sentences assigned | median summed share | exposure cosine as is vs dropped (median) | retest (choosing) | retest (reporting) (null) | generic themes |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for tau, r in real["by_threshold"].items():
        mark = "**" if float(tau) == real["chosen"] else ""
        lines.append(f"| {mark}{tau}{mark} | {r['themes']} | {r['assigned_share']:.1%} | {r['coverage_median']:.3f} | "
                     f"{r['cosine_dropped_median']:.3f} | {r['retest_choosing']:.3f} | {r['retest_reporting']:.3f} ({r['retest_null_reporting']:.3f}) | "
                     f"{r['generic']} |")
    lines += ["", "Spearman of firms' exposures (first quarter's dense grid) between thresholds: "
              + ", ".join(f"{k}: {v:.3f}" for k, v in real["spearman_between"].items()) + ".", "",
              f"Chosen: {real['chosen']}, the best retest on the choosing set (ties: nearer 0.5).", ""]
    if result.get("demo"):
        flagged = [d for d in result["demo"] if d["generic"]]
        lines += [f"Demo quarter ({result['demo_firms']} firms) at {real['chosen']}: {len(flagged)} of "
                  f"{len(result['demo'])} themes flagged generic (breadth > {ThemeParams().generic_breadth} or "
                  f"analyst share > {ThemeParams().generic_analyst_share}):", "",
                  "| theme | label | breadth | analyst share | generic |", "|---|---|---:|---:|---|"]
        lines += [f"| {d['theme_id']} | {d['label']} | {d['breadth']:.2f} | "
                  f"{'' if d['analyst_share'] is None else format(d['analyst_share'], '.2f')} | "
                  f"{'yes' if d['generic'] else ''} |" for d in result["demo"][:12]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ftm-theme-sweep"))
    parser.add_argument("--limit", type=int, default=None, help="the first N Earnings-22 calls (default: all)")
    parser.add_argument("--demo-firms", type=int, default=40, help="0: no demo quarter")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "real": sweep(real_quarters(args.cache, args.limit))}
    if args.demo_firms:
        result["demo_firms"] = args.demo_firms
        result["demo"] = demo_generic(demo_quarter(args.cache, args.demo_firms), result["real"]["chosen"])
    text = markdown(result)
    print(text)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write(text)
        (HERE / "theme_threshold.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
