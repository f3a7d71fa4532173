"""Choose the topic method's settings on the real − null differences, on the choosing half of the calls only.

``python -m benchmarks.topic_sweep --embed-cache /tmp/ftm-e22.npz`` measures every candidate below with
``quality.Bench`` on the choosing set (``quality.choosing_set``: CRC-32 of the call id even), beside the
shuffled-sentence null (two within-turn draws per call; no stability resamples on the null and no second
splitter: nothing is chosen on them, and the CPU is shared), and appends the whole table to ``RESULTS.md`` with
the rule that picked the winner. ``make bench-quality`` then reports the chosen default on the other half.

The rule (``choose``): among candidates that meet every target on the choosing set (within-turn ARI ≥ 0.65,
component-drop gap ≥ 0.12, within-turn gap ≥ 0.18, reference-NPMI gap ≥ 0.10 and NPMI ≥ the previous
default's − 0.01, seed ARI ≥ 0.85, 8–40 topics, outliers ≤ 25%, fit ≤ 1.5× the previous default's), the one
with the largest sum of the two ARI gaps; when none meets all, the one meeting the most, then the same sum.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from benchmarks.topic_eval import Candidate

BASELINE = Candidate("ward-w4-d0.8", topic=(("context_window", 4), ("context_decay", 0.8)), ward=(("gate", 0.0),))


def _ward(window: int, decay: float, gate: float = 0.0, per_topic: int = 12, scale: float = 1.0) -> Candidate:
    name = (f"ward-w{window}-d{decay:g}" + (f"-g{gate:g}" if gate else "") + (f"s{scale:g}" if scale != 1 else "")
            + (f"-n{per_topic}" if per_topic != 12 else ""))  # fmt: skip
    topic = (("context_window", window), ("context_decay", decay), ("sentences_per_topic", per_topic))
    ward = (("gate", gate), ("gate_scale", scale))  # explicit: WardParams' own defaults are today's choice
    return Candidate(name, topic=topic, ward=ward)


# The candidates measured for issue 24 (RESULTS.md). Not measured, for lack of CPU time on a shared box: a
# number of topics chosen per call, consensus and graph methods (the prototype found their gaps no
# larger), smoothing by content neighbours outside the turn.
CANDIDATES = [
    BASELINE,
    _ward(2, 0.5),  # the prototype's best balance
    _ward(1, 0.5),
    _ward(2, 0.5, gate=1),
    _ward(3, 0.7, gate=2, scale=0.4),
    _ward(4, 0.8, gate=2, scale=0.4),  # chosen
    _ward(4, 0.8, gate=2),
    _ward(4, 0.8, gate=4, scale=0.4),
    _ward(3, 0.7, gate=1, scale=0.3),
    _ward(4, 0.8, gate=2, scale=0.3),
    _ward(5, 0.85, gate=2, scale=0.4),
]


def targets_met(s: dict, base: dict) -> dict[str, bool]:
    """Issue 24's targets for one candidate's summary (``base``: the previous default's on the same calls)."""
    return {
        "within_turn": s["within_turn_ari"] >= 0.65,
        "gap_component": s["null_gap_component"] >= 0.12,
        "gap_within_turn": s["null_gap_within_turn"] >= 0.18,
        "npmi_gap": s["npmi_ref_gap"] >= 0.10,
        "npmi_vs_previous": s["npmi_ref"] >= base["npmi_ref"] - 0.01,
        "seed": s["seed_ari"] >= 0.85,
        "topics": 8 <= s["topics"] <= 40,
        "outliers": s["outlier_share"] <= 0.25,
        "fit": s["fit_s_per_call"] <= 1.5 * base["fit_s_per_call"],
    }


def choose(summaries: dict[str, dict]) -> str:
    """The candidate the rule in the module docstring picks."""
    base = summaries[BASELINE.name]

    def key(name: str) -> tuple:
        s = summaries[name]
        return (sum(targets_met(s, base).values()), s["null_gap_component"] + s["null_gap_within_turn"])

    return max(summaries, key=key)


COLUMNS = [("seed ARI", "seed_ari", None), ("comp-drop ARI (null)", "component_ari", "shuffled_component_ari"),
           ("within-turn ARI (null)", "within_turn_ari", "shuffled_within_turn_ari"),
           ("NPMI ref (null)", "npmi_ref", "shuffled_npmi_ref"), ("diversity", "diversity", None),
           ("AMI vs turns (null)", "ami_components", "shuffled_ami_components"),
           ("stability (null)", "stability", "shuffled_stability"), ("topics/call", "topics", None),
           ("outliers", "outlier_share", None), ("fit s/call", "fit_s_per_call", None)]  # fmt: skip


def render(summaries: dict[str, dict], chosen: str, title: str) -> str:
    base = summaries.get(BASELINE.name)
    head = "| candidate | " + " | ".join(c for c, _, _ in COLUMNS) + " | targets met |"
    lines = [title, "", head, "|---|" + "---|" * (len(COLUMNS) + 1)]
    for name, s in summaries.items():
        cells = []
        for _, key, null in COLUMNS:
            v = s.get(key, math.nan)
            cells.append(f"{v:.3f}" + (f" ({s[null]:.3f})" if null and null in s else ""))
        met = f"{sum(targets_met(s, base).values())}/9" if base else "-"
        mark = f"**{name}**" if name == chosen else name
        lines.append(f"| {mark} | " + " | ".join(cells) + f" | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.quality import Bench, load, summarize

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embed-cache", type=Path, default=None)
    parser.add_argument("--candidates", default="", help="comma list of names (default: all)")
    parser.add_argument("--set", default="choose", choices=("choose", "report", "all"))
    parser.add_argument("--real-firms", type=int, default=None)
    parser.add_argument("--draws", type=int, default=2, help="within-turn drop draws per call")
    parser.add_argument("--limit", type=int, default=None, help="only the first N calls of the set")
    parser.add_argument("--out", type=Path, default=None, help="write every summary here (JSON)")
    parser.add_argument("--write", action="store_true", help="append the table to RESULTS.md")
    parser.add_argument("--combine", default="", help="comma list of --out files of earlier runs: choose and "
                        "render from them, measuring nothing (runs split across processes)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.combine:
        summaries = {k: v for f in args.combine.split(",") for k, v in json.loads(Path(f).read_text()).items()}
        calls = {s["firms"] for s in summaries.values()}
        return _finish(summaries, f"{'/'.join(map(str, sorted(calls)))}", args.write)
    names = [n for n in args.candidates.split(",") if n]
    cands = [c for c in CANDIDATES if not names or c.name in names]
    real, _, prepared = load(args.real_firms, 0, args.embed_cache)
    bench = Bench(real, prepared, args.embed_cache, null_names=("shuffled",), splitter=False)
    summaries: dict[str, dict] = {}
    for cand in cands:
        summaries[cand.name] = summarize(bench.measure(cand, args.set, args.draws, limit=args.limit,
                                                             null_stability=False))
        print(cand.name, json.dumps(summaries[cand.name]), flush=True)
        if args.out:
            args.out.write_text(json.dumps(summaries, indent=1) + "\n")
    return _finish(summaries, str(len(bench.firms(args.set)[: args.limit])), args.write)


def _finish(summaries: dict[str, dict], calls: str, write: bool) -> int:
    """Print the choice; with ``write``, append the table and the rule to RESULTS.md."""
    chosen = choose(summaries) if BASELINE.name in summaries else ""
    title = (f"\n## Topic method sweep (issue 24; `benchmarks/topic_sweep.py`, the first {calls} choosing-set calls, "
             "medians; in brackets the shuffled-sentence null)")  # fmt: skip
    table = render(summaries, chosen, title) + "\n\nChosen: " + chosen + " — " + RULE + "\n"
    print(table)
    if write:
        with open(Path(__file__).resolve().parent / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(table)
    return 0


RULE = ("the candidate meeting the most of issue 24's targets on the choosing set, ties broken by the larger sum "
        "of the component-drop and within-turn ARI gaps over the shuffled-sentence null (calls split by the "
        "parity of the CRC-32 of the call id: even chooses, odd reports).")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
