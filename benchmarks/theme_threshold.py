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
The default (``choose_threshold``): reliability as a floor, then validity. Among the thresholds whose retest on
the choosing set (calls whose id has an even CRC-32, ``benchmarks.quality.choosing_set``) is within
``RETEST_TOLERANCE`` of the best, the best mean rank over three validity figures measured on data no reported
figure uses (``validity_on_choosing_sets``): the demo truth and industry precision@4 on the choosing demo firms,
industry precision@4 and the summed covid Spearman on the choosing half of the 125 calls. The reporting set's figures are quoted.
Run: ``python -m benchmarks.theme_threshold [--limit N] [--cache /tmp/ftm-theme-sweep]
[--validity-cache /tmp/ftm-validity-cache]`` (without the validity fits, ``--no-validity``: retest alone).
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
RETEST_TOLERANCE = 0.02  # retests this close to the best count as equally reliable (they moved ~0.01 between runs)
VALIDITY = ("demo_truth_choosing", "demo_industry_p4_choosing", "industry_p4_choosing", "covid_summed_choosing")
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


def sweep(quarters: list[tuple], validity: dict[float, dict] | None = None) -> dict:
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
            **(validity or {}).get(tau, {}),
        }
    pairs = {f"{a}-{b}": round(float(spearmanr(grids[a].to_numpy().ravel(), grids[b].to_numpy().ravel()).statistic), 4)
             for i, a in enumerate(THRESHOLDS) for b in THRESHOLDS[i + 1:]}
    return {"firms": len(firms), "choosing": len(choose), "reporting": len(report), "by_threshold": rows,
            "spearman_between": pairs, "chosen": choose_threshold(rows)}


def choose_threshold(rows: dict[float, dict]) -> float:
    """Reliability as a floor, then validity: among the thresholds whose choosing-set retest is within
    ``RETEST_TOLERANCE`` of the best, the best mean rank over ``VALIDITY`` (figures measured on choosing sets
    only, where a row has them); ties, or no validity figures: the best retest (then nearer 0.5)."""
    best = max(r["retest_choosing"] for r in rows.values())
    eligible = [t for t, r in rows.items() if r["retest_choosing"] >= best - RETEST_TOLERANCE]
    keys = [k for k in VALIDITY if all(np.isfinite(rows[t].get(k, np.nan)) for t in eligible)]

    def mean_rank(t: float) -> float:  # rank 0 = best; over the eligible thresholds
        return float(np.mean([sorted((rows[u][k] for u in eligible), reverse=True).index(rows[t][k]) for k in keys]))

    return min(eligible, key=lambda t: (mean_rank(t) if keys else 0.0, -rows[t]["retest_choosing"], abs(t - 0.5)))


def validity_on_choosing_sets(cache: Path, thresholds=THRESHOLDS) -> dict[float, dict]:
    """Per threshold, the validity figures on data no reported figure uses (``make bench-validity``'s fits,
    cached under ``cache``): the demo truth and the demo industry precision@4 on the choosing demo firms
    (``theme_linkage``'s), industry precision@4 and the summed covid Spearman on the choosing half of the 125
    Earnings-22 calls: every validity figure of issue 25 but the chain agreement."""
    import dataclasses

    from benchmarks.theme_linkage import REPORTED_INDUSTRIES
    from benchmarks.validity import E22_QUARTER
    from benchmarks.validity_covid import covid_summed_rho
    from benchmarks.validity_demo import industry_figures as demo_industry_figures
    from benchmarks.validity_demo import pick_firms, replay_with_truth, truth_figure
    from benchmarks.validity_fit import demo_quarters, fit_demo, fit_earnings22, replay_quarter
    from benchmarks.validity_industry import industry_figures

    indices = pick_firms(REPORTED_INDUSTRIES, 5, skip=REPORTED_INDUSTRIES)
    demo = fit_demo(indices, demo_quarters("2023Q1", 8), cache)
    calls = fit_earnings22(E22_QUARTER, cache)
    out = {}
    for tau in thresholds:
        params = dataclasses.replace(ThemeParams(), sentence_similarity=tau)
        replay, outcome = replay_with_truth(demo, indices, params), replay_quarter(calls, params)
        out[tau] = {"demo_truth_choosing": truth_figure(demo, indices, replay)["truth_corr"],
                    "demo_industry_p4_choosing": demo_industry_figures(replay.outcomes, demo, indices,
                                                                       null_draws=1)["industry_p4"],
                    "industry_p4_choosing": industry_figures(calls, outcome, null_draws=1,
                                                             choosing_half=True)["e22_industry_p4"],
                    "covid_summed_choosing": round(covid_summed_rho(calls, outcome, choosing_half=True), 4)}
    return out


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
             "| threshold | themes | sentences assigned | median summed share | exposure cosine as is vs dropped (median) | retest (choosing) | retest (reporting) (null) | generic themes | demo truth (choosing firms) | demo industry p@4 (choosing firms) | industry p@4 (choosing half) | covid summed (choosing half) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def opt(r: dict, key: str) -> str:
        return f"{r[key]:.3f}" if key in r else "-"

    for tau, r in real["by_threshold"].items():
        mark = "**" if float(tau) == real["chosen"] else ""
        lines.append(f"| {mark}{tau}{mark} | {r['themes']} | {r['assigned_share']:.1%} | {r['coverage_median']:.3f} | "
                     f"{r['cosine_dropped_median']:.3f} | {r['retest_choosing']:.3f} | {r['retest_reporting']:.3f} ({r['retest_null_reporting']:.3f}) | "
                     f"{r['generic']} | {opt(r, 'demo_truth_choosing')} | {opt(r, 'demo_industry_p4_choosing')} | {opt(r, 'industry_p4_choosing')} | "
                     f"{opt(r, 'covid_summed_choosing')} |")
    lines += ["", "Spearman of firms' exposures (first quarter's dense grid) between thresholds: "
              + ", ".join(f"{k}: {v:.3f}" for k, v in real["spearman_between"].items()) + ".", "",
              f"Chosen: {real['chosen']}, by the rule: among thresholds whose choosing-set retest is within "
              f"{RETEST_TOLERANCE} of the best, the best mean rank over the four validity figures measured on "
              "choosing sets (demo truth and demo industry p@4 on other demo firms, industry p@4 and summed covid "
              "Spearman on the choosing half of the 125 calls); ties: the better retest.", ""]
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
    parser.add_argument("--validity-cache", type=Path, default=Path("/tmp/ftm-validity-cache"),
                        help="make bench-validity's fits (the choosing demo firms are fitted there if absent)")
    parser.add_argument("--no-validity", action="store_true", help="choose on the retest alone")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    validity = None if args.no_validity else validity_on_choosing_sets(args.validity_cache)
    result = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "real": sweep(real_quarters(args.cache, args.limit), validity)}
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
