"""How to compare two firms' exposure vectors when looking for peers, chosen on held-out sets (issue 25).

The industry check (``validity_demo.industry_figures``, ``validity_industry.industry_figures``) asks whether a
firm's exposure vector finds its industry peers (precision@4, cosine). Cosine of raw ``share`` lets the firm's
largest themes decide; TF-IDF, the baseline, down-weights what everyone says. Which transform of the panel a
peer search should use is a setting, so it is chosen like the others, on data no reported figure uses.

Candidates (``WEIGHTINGS``; the list was written before any choosing-set figure was seen; in exploration the
reporting demo firms' figures of ``idf_share`` and ``content`` had been seen, the others' had not):
- ``share``: the panel's ``share`` as it is (what ``industry_p4`` has always measured);
- ``sqrt``: square-root shares, so cosine is the Bhattacharyya coefficient (Hellinger distance), the usual
  comparison of two topic mixtures;
- ``idf_share``, ``idf_sqrt``, ``idf_binary``, ``idf_intensity``: each theme weighted by log(1 / the share of
  the quarter's firms with any sentence on it), TF-IDF's weighting at the level of themes;
- ``binary``: 1 where the firm has any sentence on the theme (Hoberg-Phillips style presence);
- ``content``: ``share`` without the themes flagged ``generic``;
- ``intensity``: the panel's similarity-weighted ``intensity`` instead of ``share``.

The rule (``choose``): the best mean rank of precision@4 on the choosing demo firms (``pick_firms(6, 5,
skip=6)``, 8 quarters) and on the choosing half of the 125 Earnings-22 calls; ties: the simpler (earlier in
``WEIGHTINGS``). ``make bench-peer-weighting`` measures them, writes ``peer_weighting.json`` and appends to
RESULTS.md; ``CHOSEN`` is that choice (a test holds them equal), ``make bench-validity`` reports it beside
plain ``share`` with ``paired_difference``'s interval against TF-IDF, and ``ftm_assets.research.peers`` gives
researchers the peers it finds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ftm_assets.research.peers import sqrt_shares

HERE = Path(__file__).resolve().parent
RECORD = HERE / "peer_weighting.json"
CHOSEN = "sqrt"  # peer_weighting.json's "chosen"


def _idf(share: pd.DataFrame) -> pd.Series:
    """log(1 / share of firms with the theme): 0 for a theme every firm has."""
    present = (share > 0).mean().clip(lower=1 / max(len(share), 1))
    return np.log(1 / present)


WEIGHTINGS: dict[str, Callable[[pd.DataFrame, pd.DataFrame, set[str]], pd.DataFrame]] = {
    "share": lambda share, intensity, generic: share,
    "sqrt": lambda share, intensity, generic: sqrt_shares(share),  # the product's (ftm_assets.research.peers)
    "content": lambda share, intensity, generic: share[[t for t in share.columns if t not in generic]],
    "intensity": lambda share, intensity, generic: intensity,
    "binary": lambda share, intensity, generic: (share > 0).astype(float),
    "idf_share": lambda share, intensity, generic: share * _idf(share),
    "idf_sqrt": lambda share, intensity, generic: np.sqrt(share) * _idf(share),
    "idf_binary": lambda share, intensity, generic: (share > 0).astype(float) * _idf(share),
    "idf_intensity": lambda share, intensity, generic: intensity * _idf(share),
}


def peer_vectors(exposure: pd.DataFrame, firms: list[str], generic: set[str], weighting: str = CHOSEN) -> np.ndarray:
    """One row per firm of ``firms`` (absent: zeros), one column per theme, transformed by ``weighting``.

    ``exposure``: a quarter's panel rows (``firm_id``, ``theme_id``, ``share``, ``intensity``)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown peer weighting {weighting!r}; one of {sorted(WEIGHTINGS)}")

    def grid(value: str) -> pd.DataFrame:
        wide = exposure.pivot_table(index="firm_id", columns="theme_id", values=value, fill_value=0.0)
        return wide.reindex(firms, fill_value=0.0)

    share = grid("share")
    return WEIGHTINGS[weighting](share, grid("intensity").reindex(columns=share.columns, fill_value=0.0),
                                 generic).to_numpy(dtype=float)


def paired_difference(a: np.ndarray, b: np.ndarray, clusters: list[str], draws: int = 2000,
                      seed: int = 0) -> tuple[float, float, float]:
    """(mean of a - b, 2.5th and 97.5th percentile) over query rows, the interval by resampling ``clusters``
    (a firm's quarters, a company's calls) with replacement: queries of one firm are not independent."""
    diff = pd.Series(np.asarray(a, float) - np.asarray(b, float)).groupby(np.asarray(clusters))
    sums, counts = diff.sum().to_numpy(), diff.count().to_numpy()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(draws, len(sums)))
    boot = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    return float(sums.sum() / counts.sum()), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def choose(rows: dict[str, dict[str, float]]) -> str:
    """The weighting with the best mean rank over the figures every row has (rank 0 = best); ties: the
    earlier in ``WEIGHTINGS``."""
    keys = sorted(set.intersection(*(set(r) for r in rows.values())))
    order = list(WEIGHTINGS)

    def mean_rank(name: str) -> float:
        return float(np.mean([sorted((r[k] for r in rows.values()), reverse=True).index(rows[name][k])
                              for k in keys]))

    return min(rows, key=lambda name: (mean_rank(name), order.index(name)))


def on_choosing_sets(cache: Path) -> dict[str, dict[str, float]]:
    """Per weighting, precision@4 on the choosing demo firms and the choosing half of the calls, with
    TF-IDF's on the same queries as ``tfidf`` (a reference, not a candidate)."""
    from benchmarks.theme_linkage import REPORTED_INDUSTRIES
    from benchmarks.validity import E22_QUARTER
    from benchmarks.validity_demo import industry_figures as demo_industry_figures
    from benchmarks.validity_demo import pick_firms, replay_with_truth
    from benchmarks.validity_fit import demo_quarters, fit_demo, fit_earnings22, replay_quarter
    from benchmarks.validity_industry import industry_figures
    from ftm_assets.themes.params import ThemeParams

    indices = pick_firms(REPORTED_INDUSTRIES, 5, skip=REPORTED_INDUSTRIES)
    demo = fit_demo(indices, demo_quarters("2023Q1", 8), cache)
    calls = fit_earnings22(E22_QUARTER, cache)
    replay, outcome = replay_with_truth(demo, indices, ThemeParams()), replay_quarter(calls, ThemeParams())
    rows: dict[str, dict[str, float]] = {}
    for name in WEIGHTINGS:
        demo_p4 = demo_industry_figures(replay.outcomes, demo, indices, null_draws=1, weighting=name)
        e22_p4 = industry_figures(calls, outcome, null_draws=1, choosing_half=True, weighting=name)
        rows[name] = {"demo_choosing": demo_p4["industry_p4_peer"], "e22_choosing": e22_p4["e22_industry_p4_peer"]}
    rows["tfidf"] = {"demo_choosing": demo_p4["industry_p4_tfidf"], "e22_choosing": e22_p4["e22_industry_p4_tfidf"]}
    return rows


def markdown(record: dict) -> str:
    rows = record["rows"]
    lines = [f"\n## Peer similarity: how to weight exposure vectors ({record['date']}, `benchmarks/peer_similarity.py`)\n",
             "Industry precision@4 of exposure vectors under each weighting, on CHOOSING sets only: 30 demo firms "
             "from 6 industries the reported figures do not use (8 quarters), and the choosing half of the 125 "
             "Earnings-22 calls (hand-assigned sectors). TF-IDF of the full call on the same queries for reference.\n",
             "| weighting | demo (choosing firms) | Earnings-22 (choosing half) |", "|---|---:|---:|"]
    for name, r in rows.items():
        mark = "**" if name == record["chosen"] else ""
        lines.append(f"| {mark}{name}{mark} | {r['demo_choosing']:.3f} | {r['e22_choosing']:.3f} |")
    lines += ["", f"Chosen: `{record['chosen']}` (best mean rank over the two columns; TF-IDF is not a candidate).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ftm-validity-cache"),
                        help="make bench-validity's fits (the choosing demo firms are fitted there if absent)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    measured = on_choosing_sets(args.cache)
    candidates = {k: v for k, v in measured.items() if k != "tfidf"}
    record = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "chosen": choose(candidates),
              "rows": measured}
    text = markdown(record)
    print(text)
    if record["chosen"] != CHOSEN:
        print(f"NOTE: the rule now chooses {record['chosen']!r}; CHOSEN is {CHOSEN!r}: update it and re-run "
              "make bench-validity")
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(text)
        RECORD.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
