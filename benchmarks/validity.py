"""``make bench-validity``: the panel against outside facts (issue 25, item 5), each figure beside its null.

- covid on the Earnings-22 calls (``validity_covid``): ``covid_spearman``, target >= 0.5;
- industry on the same calls (``validity_industry``, hand-assigned GICS sectors): ``e22_industry_p4`` beside
  TF-IDF, the mean embedding and a shuffled-sector null (no target: a held-out check);
- the demo generator's truth over consecutive quarters (``validity_demo``): ``demo_truth_corr`` (target >=
  0.8), ``demo_id_purity``, births and deaths, industry precision@4 against TF-IDF and mean embeddings
  (target ``industry_p4`` >= ``industry_p4_tfidf``), and the agreement of chains started in different quarters;
  the industry check is also run on ``--replications`` further sets of demo industries that no setting was
  chosen on (``industry_rep*``) and pooled over all reported sets (``industry_pooled_p4*``): one set of 6
  industries is a small sample of the generator's industries.

The worker fits each corpus once (``validity_fit``, cached under ``--cache``); the themes are replayed in
memory with the default ``ThemeParams``, the panel's ``share`` as ``ftm_assets.themes.exposure`` computes it.
Keys merge into ``benchmarks/latest.json`` (``validity_*`` and the figures' names) and a section is appended
to ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path

from benchmarks.validity_fit import demo_quarters, fit_demo, fit_earnings22, from_threshold_cache, replay_quarter
from ftm_assets.themes.params import ThemeParams

HERE = Path(__file__).resolve().parent
E22_QUARTER = "2021Q1"
PANEL_VERSION = "per-sentence share (each non-procedural sentence assigned to its nearest theme anchor, issue 25 item 1)"


def targets(out: dict) -> dict[str, bool | None]:
    def at_least(key: str, bound) -> bool | None:
        value = out.get(key)
        other = out.get(bound) if isinstance(bound, str) else bound
        return None if value is None or other is None else bool(value >= other)

    return {"covid_spearman_ge_0.5": at_least("covid_spearman", 0.5),
            "demo_truth_corr_ge_0.8": at_least("demo_truth_corr", 0.8),
            "industry_p4_ge_tfidf": at_least("industry_p4", "industry_p4_tfidf"),
            "industry_p4_peer_ge_tfidf": at_least("industry_p4_peer", "industry_p4_tfidf"),
            "industry_pooled_p4_peer_ge_tfidf": at_least("industry_pooled_p4_peer", "industry_pooled_p4_tfidf")}


ROWS = [
    ("covid: Spearman, covid-term share vs exposure to the theme chosen among those whose keywords name covid (reporting half)", "covid_spearman", "covid_spearman_null"),
    ("covid: the same, the theme chosen among all themes", "covid_spearman_any_theme", "covid_spearman_any_theme_null"),
    ("covid: exposure summed over every theme whose keywords name covid (nothing chosen; reporting half)", "covid_spearman_summed", "covid_spearman_summed_null"),
    ("demo: correlation of exposure with the true theme mix", "demo_truth_corr", "demo_truth_corr_null"),
    ("demo: the same against the realized mix (sentences drawn per theme)", "demo_realized_corr", None),
    ("demo: realized mix vs true mix (the ceiling of any measure)", "demo_truth_ceiling", None),
    ("demo: theme-id purity over all quarters", "demo_id_purity", "demo_id_purity_null"),
    ("demo: (id, quarter) pairs on the id's own generated theme", "demo_id_stable_share", None),
    ("industry precision@4: exposure vectors", "industry_p4", "industry_p4_null"),
    ("industry precision@4: TF-IDF of the full call", "industry_p4_tfidf", None),
    ("industry precision@4: the same, the words of the firm's own name taken out", "industry_p4_tfidf_unnamed", None),
    ("industry precision@4: mean sentence embedding", "industry_p4_embed", None),
    ("industry precision@4: the true theme mixes, plain cosine (what the generator planted; weighting can beat it)", "industry_p4_truth", None),
    ("industry precision@4: exposure vectors under the peer weighting chosen on other firms (named below)", "industry_p4_peer", "industry_p4_peer_null"),
    ("industry: exposure minus TF-IDF, per query (95% interval, firms resampled)", "industry_p4_minus_tfidf", None),
    ("industry: the chosen peer weighting minus TF-IDF, per query (95% interval)", "industry_p4_peer_minus_tfidf", None),
    ("Earnings-22 industry precision@4 (hand-assigned GICS sectors, reporting half): exposure vectors", "e22_industry_p4", "e22_industry_p4_null"),
    ("Earnings-22 industry: exposure without the generic themes", "e22_industry_p4_content", "e22_industry_p4_content_null"),
    ("Earnings-22 industry: intensity instead of share (variant fixed in advance)", "e22_industry_p4_intensity", "e22_industry_p4_intensity_null"),
    ("Earnings-22 industry: the chosen peer weighting (named below)", "e22_industry_p4_peer", "e22_industry_p4_peer_null"),
    ("Earnings-22 industry: TF-IDF of the full call", "e22_industry_p4_tfidf", None),
    ("Earnings-22 industry: exposure minus TF-IDF, per query (95% interval, companies resampled)", "e22_industry_p4_minus_tfidf", None),
    ("Earnings-22 industry: the chosen peer weighting minus TF-IDF, per query (95% interval)", "e22_industry_p4_peer_minus_tfidf", None),
    ("Earnings-22 industry: mean sentence embedding", "e22_industry_p4_embed", None),
    ("Earnings-22 industry, own company's other calls left out: exposure vectors", "e22_industry_p4_other_firms", "e22_industry_p4_null_other_firms"),
    ("Earnings-22 industry, own company's other calls left out: TF-IDF", "e22_industry_p4_tfidf_other_firms", None),
    ("Earnings-22 industry, own company's other calls left out: mean sentence embedding", "e22_industry_p4_embed_other_firms", None),
    ("Earnings-22 industry, own company's other calls left out: exposure minus TF-IDF (95% interval)", "e22_industry_p4_minus_tfidf_other_firms", None),
    ("industry, 3 disjoint sets of 6 demo industries pooled (the reported firms and 2 sets never used): exposure vectors", "industry_pooled_p4", "industry_pooled_p4_null"),
    ("the same 3 sets: square-root shares (the chosen peer weighting)", "industry_pooled_p4_peer", "industry_pooled_p4_peer_null"),
    ("the same 3 sets: TF-IDF of the full call", "industry_pooled_p4_tfidf", None),
    ("the same 3 sets: exposure minus TF-IDF (95% interval, firms resampled)", "industry_pooled_p4_minus_tfidf", None),
    ("the same 3 sets: square-root shares minus TF-IDF (95% interval)", "industry_pooled_p4_peer_minus_tfidf", None),
    ("chains started 2 quarters apart: ARI of sentence assignments (median over shared quarters)", "chain_agreement_ari", None),
    ("chains: later ids matching one earlier id throughout", "chain_map_stable", None),
]


def render(out: dict) -> str:
    lines = ["| figure | value | null |", "|---|---|---|"]
    for label, key, null in ROWS:
        if out.get(key) is None:
            continue
        value = (f"{out[key]:+.3f} [{out[key + '_lo']:+.3f}, {out[key + '_hi']:+.3f}]" if key + "_lo" in out
                 else f"{out[key]:.3f}")
        lines.append(f"| {label} | {value} | {out[null]:.3f} |" if null and null in out else f"| {label} | {value} | - |")
    notes = []
    if "covid_calls" in out:
        chosen = (f"the theme chosen on the choosing half: \"{out['covid_theme_label']}\" ({out['covid_theme_firms']} "
                  f"firms' topics), null 95th percentile {out['covid_spearman_null_p95']:.3f}"
                  if out.get("covid_theme_label") else "no theme's keywords name covid")
        notes.append(f"covid: {out['covid_calls_mentioning']} of {out['covid_calls']} calls name covid/pandemic/"
                     f"coronavirus, {out['covid_calls_reporting']} in the reporting half; {out['covid_keyword_themes']} "
                     f"of {out['covid_themes']} themes' keywords name covid; {chosen}; among all themes the choice is "
                     f"\"{out['covid_any_theme_label']}\" ({out['covid_any_theme_firms']} firms); shuffled covid shares "
                     f"as the null; the worker's fit {out['validity_covid_fit_seconds']:.0f} s (once, cached), the figures "
                     f"{out['validity_covid_seconds']:.0f} s")
    if "e22_industry_calls" in out:
        notes.append(f"Earnings-22 industry: {out['e22_industry_calls_labelled']} of {out['e22_industry_calls']} calls "
                     f"labelled ({out['e22_industry_companies']} companies, {out['e22_industry_sectors']} GICS sectors, "
                     f"hand-assigned: benchmarks/data/earnings22_sectors.csv), {out['e22_industry_calls_reporting']} "
                     f"reporting-half queries, neighbours among all calls; null: sectors shuffled across companies "
                     f"(95th percentile {out['e22_industry_p4_null_p95']:.3f}); {out['e22_industry_themes_generic']} of "
                     f"{out['e22_industry_themes']} themes generic; peer weighting `{out['e22_industry_peer_weighting']}` "
                     f"(benchmarks/peer_weighting.json); {out['validity_industry_seconds']:.0f} s")
    if "demo_firms" in out:
        notes.append(f"demo: {out['demo_firms']} firms x {out['demo_quarters']} quarters, {out['demo_ids']} ids "
                     f"matched to {out['demo_generated_themes_matched']} generated themes; after the first "
                     f"quarter ({out['demo_themes_first_quarter']} themes) {out['demo_births_after_first']} births "
                     f"({out['demo_splits']} recorded as splits), {out['demo_deaths']} deaths, "
                     f"{out['demo_revivals']} revivals; industry null: labels shuffled; peer weighting "
                     f"`{out['industry_peer_weighting']}`; "
                     f"the worker's fits {out['validity_demo_fit_seconds']:.0f} s (once, cached), the figures "
                     f"{out['validity_demo_seconds']:.0f} s")
    if "peer_weighting_demo_choosing" in out:
        notes.append(f"peer weighting `{out['peer_weighting']}`, chosen on choosing sets "
                     f"(benchmarks/peer_weighting.json): there it reached {out['peer_weighting_demo_choosing']:.3f} "
                     f"on 30 other demo firms (TF-IDF {out['peer_weighting_tfidf_demo_choosing']:.3f}) and "
                     f"{out['peer_weighting_e22_choosing']:.3f} on the choosing half of the calls (TF-IDF "
                     f"{out['peer_weighting_tfidf_e22_choosing']:.3f})")
    for i in (1, 2):
        if f"industry_rep{i}_p4" in out:
            notes.append(f"replication {i} ({out[f'industry_rep{i}_industries']}): exposure "
                         f"{out[f'industry_rep{i}_p4']:.3f}, square-root shares {out[f'industry_rep{i}_p4_peer']:.3f}, "
                         f"TF-IDF {out[f'industry_rep{i}_p4_tfidf']:.3f}")
    return "\n".join(lines) + "\n\n" + "".join(f"- {n}\n" for n in notes)


def write_results(figures: dict) -> None:
    """Merge into ``latest.json`` (other keys kept) and append a section to ``RESULTS.md``."""
    latest = HERE / "latest.json"
    out = json.loads(latest.read_text()) if latest.exists() else {}
    out.update(figures)
    out["validity_date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    out.setdefault("targets", {}).update(targets(out))
    latest.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    met = ", ".join(f"{k}: {'yes' if v else 'NO' if v is not None else 'not measured'}" for k, v in targets(out).items())
    with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(f"\n## {out['validity_date']} — external validity (`make bench-validity`, issue 25)\n\n"
                 f"Panel: {figures['validity_panel']}.\n\n" + render(figures) + f"\nTargets met: {met}.\n")


def replicated_industry(reported, args: argparse.Namespace, params: ThemeParams) -> dict:
    """The demo industry check on ``args.replications`` further sets of ``args.industries`` industries after the
    reported and the choosing ones (never used for a choice), each set's figures and all sets pooled with the
    ``reported`` set's ``IndustryHits``; and the peer weighting's own figures on the choosing sets
    (``peer_weighting.json``)."""
    from benchmarks.peer_similarity import RECORD
    from benchmarks.validity_demo import industry_hits, industry_of, pick_firms, pooled_hits, summarise_hits
    from ftm_assets.themes.chain import replay_in_memory

    out: dict = {}
    if RECORD.exists():
        record = json.loads(RECORD.read_text())
        chosen, tfidf = record["rows"][record["chosen"]], record["rows"]["tfidf"]
        out.update({"peer_weighting": record["chosen"], "peer_weighting_demo_choosing": chosen["demo_choosing"],
                    "peer_weighting_e22_choosing": chosen["e22_choosing"],
                    "peer_weighting_tfidf_demo_choosing": tfidf["demo_choosing"],
                    "peer_weighting_tfidf_e22_choosing": tfidf["e22_choosing"]})
    if not args.replications:
        return out
    hits = [reported]
    for r in range(1, args.replications + 1):
        more = pick_firms(args.industries, args.per_industry, skip=args.industries * (1 + r))
        fq = fit_demo(more, demo_quarters(args.first_quarter, args.quarters), args.cache)
        out[f"industry_rep{r}_industries"] = ", ".join(sorted({industry_of(i) for i in more}))
        outcomes = replay_in_memory([(f.quarter, f.topics, f.sentences, f.vectors) for f in fq], params)
        hits.append(industry_hits(outcomes, fq, more))
        out.update(summarise_hits(hits[-1], prefix=f"industry_rep{r}_p4"))
    out.update(summarise_hits(pooled_hits(hits), prefix="industry_pooled_p4"))  # nulls: the sets' mean
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ftm-validity-cache"), help="fitted topics, reused")
    parser.add_argument("--skip", default="", help="comma list: covid, demo")
    parser.add_argument("--real-firms", type=int, default=None, help="Earnings-22 calls (default: all 125)")
    parser.add_argument("--industries", type=int, default=6,
                        help="demo industries (5 firms each: 6 x 5 x 8 quarters, ~5 min on 2 quiet cores); fewer "
                             "firms leave most generated themes below the 3 firms a theme needs")
    parser.add_argument("--per-industry", type=int, default=5, help="demo firms per industry (p@4 needs >= 5)")
    parser.add_argument("--quarters", type=int, default=8, help="consecutive demo quarters")
    parser.add_argument("--first-quarter", default="2023Q1")
    parser.add_argument("--replications", type=int, default=2, choices=(0, 1, 2),
                        help="further sets of demo industries that no setting was chosen on, for the industry check "
                             "pooled over sets (each fitted once: ~5 min)")
    parser.add_argument("--e22-from", type=Path, default=None,
                        help="take the calls' fit from benchmarks.theme_threshold's cache file (real-<n>.pkl)")
    parser.add_argument("--no-write", action="store_true", help="leave latest.json and RESULTS.md alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("validity.worker", "ftm_assets", "bertopic", "BERTopic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    skip = set(filter(None, args.skip.split(",")))
    params = ThemeParams()
    figures: dict = {"validity_panel": PANEL_VERSION}
    if "demo" not in skip:
        from benchmarks.validity_demo import demo_figures, industry_hits, pick_firms, replay_with_truth

        t0 = time.perf_counter()
        indices = pick_firms(args.industries, args.per_industry)
        fitted = fit_demo(indices, demo_quarters(args.first_quarter, args.quarters), args.cache)
        replay = replay_with_truth(fitted, indices, params)  # once: the reported figures and the pool share it
        reported = industry_hits(replay.outcomes, fitted, indices)
        figures.update(demo_figures(fitted, indices, params, replay=replay, industry=reported))
        figures.update(replicated_industry(reported, args, params))
        figures["validity_demo_seconds"] = round(time.perf_counter() - t0, 1)
        figures["validity_demo_fit_seconds"] = round(sum(f.seconds for f in fitted), 1)
    if "covid" not in skip:
        from benchmarks.validity_covid import covid_figures

        t0 = time.perf_counter()
        fitted_e22 = (from_threshold_cache(args.e22_from) if args.e22_from
                      else fit_earnings22(E22_QUARTER, args.cache, args.real_firms))
        outcome_e22 = replay_quarter(fitted_e22, params)  # once: covid and industry read the same themes
        figures.update(covid_figures(fitted_e22, outcome_e22))
        figures["validity_covid_seconds"] = round(time.perf_counter() - t0, 1)
        figures["validity_covid_fit_seconds"] = fitted_e22.seconds
        from benchmarks.validity_industry import industry_figures

        t0 = time.perf_counter()
        figures.update(industry_figures(fitted_e22, outcome_e22))
        figures["validity_industry_seconds"] = round(time.perf_counter() - t0, 1)
    print(render(figures))
    print("BENCH_JSON " + json.dumps(figures))
    if not args.no_write:
        write_results(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
