"""Measured numbers in README.md and docs/*.md, generated from the recorded results (``make docs``).

A block in a markdown file looks like ``<!-- generated:NAME -->`` … ``<!-- /generated -->`` (inline or over
several lines); ``make docs`` rewrites its inside from the recorded results, so a number can only be as old
as the last recorded run, never typed by hand. The sources, all under ``benchmarks/``:

- ``latest.json``: the last ``make bench`` (speed, embedders, cold start, fit pool, stored embeddings, topic
  quality);
- ``RESULTS.md``: figures a run recorded only there (the peak-RSS probe with the fit pool on, the themes
  re-measured on the current topics, the fp16 rounding check), read from its latest section that has them;
- ``themes_latest.json``: the theme step's scale run (synthetic centroids: independent of the topic method);
- ``demo_output.json``: what one ``make demo`` printed.

``python -m benchmarks.docs_numbers`` rewrites the files; ``--check`` only reports blocks that differ (exit 1).
``ftm_assets_tests/benchmarks/test_docs_numbers.py`` runs the check in ``make test``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
BLOCK = re.compile(r"<!-- generated:(?P<name>[a-z0-9-]+) -->(?P<body>.*?)<!-- /generated -->", re.S)


class DocsNumbersError(ValueError):
    """A block names no known generator, or a recorded source lacks what a block needs."""


@dataclass(frozen=True)
class Sources:
    """The recorded results the blocks are made from."""

    latest: dict
    results_md: str
    themes: dict
    demo_output: dict

    @classmethod
    def load(cls, bench: Path = BENCH) -> Sources:
        def read_json(name: str) -> dict:
            path = bench / name
            try:
                return json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise DocsNumbersError(f"{path}: cannot read recorded results ({exc})") from exc

        return cls(
            latest=read_json("latest.json"),
            results_md=(bench / "RESULTS.md").read_text(),
            themes=read_json("themes_latest.json"),
            demo_output=read_json("demo_output.json"),
        )


# ---------------------------------------------------------------------------------------------- formatting


def x(value: float, digits: int = 2) -> str:
    """A ratio: 4.855 -> '4.86×'."""
    return f"{value:.{digits}f}×"


def num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def need(mapping: dict, *keys: str, source: str = "latest.json"):
    """mapping[k1][k2]…, or an error naming the missing key and the command that records it."""
    value = mapping
    for i, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            path = ".".join(keys[: i + 1])
            raise DocsNumbersError(f"benchmarks/{source} has no {path!r}: re-run the benchmark that records it")
        value = value[key]
    return value


def run_label(latest: dict) -> str:
    """Where and when latest.json was measured, in words (and, from issue 29 on, that the machine was quiet)."""
    machine = latest.get("machine", {})
    worker = latest.get("worker", {})
    load = latest.get("load")
    quiet = "" if not load else (
        f", quiet machine: other processes' CPU at most {num(load.get('max_others_busy_cores'), 2)} cores"
    )  # fmt: skip
    return (
        f"`make bench` of {latest.get('date', '?')[:10]}, {machine.get('cores', '?')}-core {machine.get('cpu', '?')}"
        f" (load {num(machine.get('load_avg_1m_at_start'), 1)} at start{quiet}), GPU: {machine.get('gpu', '?')}; "
        f"the worker embedded in {worker.get('backend', '?')} "
        f"{worker.get('precision', '?')}"
    )


def ratio_with_spread(row: dict, key: str) -> str:
    """A median ratio and, where the run recorded it (issue 29), its [min-max] over the repetitions."""
    spread = row.get(f"{key}_spread")
    return x(row[key]) + ("" if not spread else f" [{spread[0]:.2f}-{spread[1]:.2f}, {row.get('repeats', '?')} runs]")


# ---------------------------------------------------------------------------------------------- RESULTS.md


def results_sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of each ``## `` section of RESULTS.md, oldest first."""
    parts = re.split(r"^## ", text, flags=re.M)
    sections = []
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        sections.append((heading.strip(), body))
    return sections


def latest_match(text: str, pattern: str, what: str) -> tuple[str, re.Match]:
    """The last section of RESULTS.md whose body matches ``pattern``: (heading, match)."""
    for heading, body in reversed(results_sections(text)):
        found = list(re.finditer(pattern, body))
        if found:
            return heading, found[-1]
    raise DocsNumbersError(f"benchmarks/RESULTS.md records no {what} (pattern {pattern!r})")


def markdown_tables(body: str) -> list[list[list[str]]]:
    """Every markdown table of a section, as rows of cells (header first, the alignment row dropped)."""
    tables, current = [], []
    for line in body.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def peak_rss(sources: Sources) -> dict:
    """The last peak-RSS probe RESULTS.md holds: MB at two firm counts, the ratio, and its section."""
    heading, m = latest_match(
        sources.results_md,
        r"Peak RSS of the processor(?P<how>[^:]*)\(24 reused demo sentences per firm\): (?P<n1>\d+) firms: "
        r"(?P<mb1>\d+) MB \([^)]*\); (?P<n2>\d+) firms: (?P<mb2>\d+) MB \([^)]*\); ratio (?P<ratio>\d+(?:\.\d+)?)",
        "peak-RSS probe",
    )
    return {
        "section": heading,
        "with": m.group("how").strip(),
        "firms": (int(m.group("n1")), int(m.group("n2"))),
        "mb": (int(m.group("mb1")), int(m.group("mb2"))),
        "ratio": float(m.group("ratio")),
    }


# ---------------------------------------------------------------------------------------------- blocks


def demo_output(s: Sources) -> str:
    rec = s.demo_output
    root = need(rec, "storage_root", source="demo_output.json")
    lines = [line.replace(root, "data") for line in need(rec, "stdout", source="demo_output.json")]
    note = (
        f"Captured {rec.get('date', '?')} at commit {rec.get('commit', '?')} on a {rec.get('machine', '?')}; "
        "the storage root is shown as `data`."
    )
    return "\n" + note + "\n\n```text\n$ make demo\n" + "\n".join(lines) + "\n```\n"


def headline(s: Sources) -> str:
    latest = s.latest
    comparisons = need(latest, "comparisons")
    parts = [f"{ratio_with_spread(c, 'speedup_vs_naive')} on {c['corpus']} ({c['firms']} firms)" for c in comparisons]
    cold = need(latest, "cold_start")
    return (
        f"Latest ({run_label(latest)}): the worker's speed against the naive loop is {' and '.join(parts)}; "
        f"topic agreement with the fp32 reference {num(latest['ari_vs_reference'], 3)} against a seed-to-seed floor of "
        f"{num(latest['ari_seed_floor'], 3)} ({latest.get('quality_method', 'ward')} topics); embedding cosine "
        f"{num(latest['cosine_mean_vs_fp32'], 4)}; the worker's load stage {x(cold['load_ratio_vs_bare'], 3)} a bare "
        f"script's on ONNX ({num(cold['worker_load_s'])} s against {num(cold['bare_load_s'])} s)."
    )


# (key, label, digits, null keys shown beside it): issue 24's figures, each beside the content-free nulls
# (``shuffled_``: the call's turns filled with random sentences of the corpus; ``random_``: random vectors).
QUALITY_ROWS = [
    ("firms", "held-out calls (reporting set)", 0, False),
    ("seed_ari", "seed ARI (42 vs 7), median", 3, False),
    ("component_ari", "ARI with 15% of components dropped, median", 3, True),
    ("within_turn_ari", "ARI with 15% of sentences dropped inside turns, median", 3, True),
    ("splitter_ari", "ARI against a second sentence splitter, median", 3, False),
    ("npmi_ref", "reference NPMI of top-10 keywords (125 calls, 10-token windows), median", 3, True),
    ("diversity", "topic diversity, median", 3, True),
    ("ami_components", "AMI of topics with speaker turns, median", 3, True),
    ("stability", "topic stability, median", 3, True),
    ("topics", "topics per call, median", 0, True),
    ("outlier_share", "outlier share, median", 3, True),
    ("demo_theme_ari_median", "ARI with the demo's known themes, median", 3, False),
    ("fit_s_per_call", "fit seconds per call, median", 2, False),
]


METHOD_LABELS = {"ward-w4-d0.8": "ward without the gate (previous default)"}


def _with_nulls(row: dict, key: str, digits: int, nulls: bool) -> str:
    text = num(row.get(key), digits) if row.get(key) is not None else "—"
    if nulls and row.get(key) is not None:
        text += f" ({num(row.get('shuffled_' + key), digits)} / {num(row.get('random_' + key), digits)})"
    return text


def topic_quality(s: Sources) -> str:
    quality = need(s.latest, "quality")
    methods = sorted(quality, key=lambda m: (m != s.latest.get("quality_method", "ward"), m))
    rows = [[label] + [_with_nulls(quality[m], key, digits, nulls) for m in methods]
            for key, label, digits, nulls in QUALITY_ROWS if any(key in quality[m] for m in methods)]
    when = s.latest.get("quality_date", s.latest.get("date", "?"))
    return (
        f"\nMeasured by `benchmarks/quality.py` on the held-out half of the 125 Earnings-22 calls ({when[:10]}, "
        "recorded in `benchmarks/latest.json`); each method on the same embeddings, and in brackets the same "
        "figure on the shuffled-sentence null / the random-vector null:\n\n"
        + table(["measure", *[METHOD_LABELS.get(m, m) for m in methods]], rows, ["---"] + ["---:"] * len(methods))
        + "\n"
    )


def topic_content(s: Sources) -> str:
    q = need(need(s.latest, "quality"), s.latest.get("quality_method", "ward"), source="latest.json quality")
    return (
        f"within-turn ARI {num(q['within_turn_ari'], 3)} (shuffled null {num(q['shuffled_within_turn_ari'], 3)}, "
        f"gap {num(q['null_gap_within_turn'], 3)}); component-drop ARI {num(q['component_ari'], 3)} (null "
        f"{num(q['shuffled_component_ari'], 3)}, gap {num(q['null_gap_component'], 3)}); reference NPMI "
        f"{num(q['npmi_ref'], 3)} (null {num(q['npmi_ref_null'], 3)}); stability against survival under within-turn "
        f"drops: median rank correlation {num(q['stability_survival_rho'], 2)}, positive in "
        f"{num(100 * q['stability_survival_rho_positive_share'], 0)}% of {q['stability_survival_rho_calls']} calls; "
        f"stability on real calls {num(q['stability'], 2)}, on the shuffled null {num(q['shuffled_stability'], 2)}"
    )


def speed_table(s: Sources) -> str:
    rows = []
    for c in need(s.latest, "comparisons"):
        rows.append([
            c["corpus"], str(c["firms"]), str(c["sentences"]), num(c["naive_firms_per_s"], 3),
            num(c["worker_firms_per_s"], 3), f"**{ratio_with_spread(c, 'speedup_vs_naive')}**", ratio_with_spread(c, "embed_speedup_vs_fp32"),
            f"{num(c['cosine_mean_vs_fp32'], 4)} ({num(c['cosine_min_vs_fp32'], 4)})",
            f"{num(c['ari_vs_reference'], 3)} / {num(c['ari_seed_floor'], 3)}",
        ])  # fmt: skip
    header = ["corpus", "firms", "sentences", "naive firms/s", "worker firms/s", "speedup", "embed speedup",
              "cosine mean (min)", "ARI vs reference / seed floor"]  # fmt: skip
    return f"\n{run_label(s.latest)}:\n\n" + table(header, rows) + "\n"


def embedders(s: Sources) -> str:
    rows = [
        [e["embedder"], x(e["speedup_vs_fp32"]), f"{e['sentences_per_s']:.0f}", num(e["cosine_mean"], 4),
         num(e["cosine_min"], 4)]
        for e in need(s.latest, "embedders")
    ]  # fmt: skip
    return (
        f"\nEach embedder against a bare torch fp32 encode of the same sentences, alternating ({run_label(s.latest)}):"
        "\n\n" + table(["embedder", "speed vs fp32", "sentences/s", "cosine mean", "cosine min"], rows) + "\n"
    )


def cold_start(s: Sources) -> str:
    c = need(s.latest, "cold_start")
    return (
        f"the `load` stage is {x(c['load_ratio_vs_bare'], 3)} a bare script's `import sentence_transformers, bertopic` "
        f"+ model load on ONNX ({num(c['worker_load_s'])} s against {num(c['bare_load_s'])} s, median of "
        f"{c['repeats']}; `load_ratio_vs_bare`), and {x(c['load_ratio_vs_bare_default'])} on this machine's default "
        f"({c['worker_default_backend']}), which loads sentence-transformers"
    )


def fit_pool(s: Sources) -> str:
    f = need(s.latest, "fit_pool")
    fits = {r["fit_workers"]: r for r in f["fits"]}
    ends = {r["fit_workers"]: r for r in f["end_to_end"]}
    parts = ", ".join(f"{w}: {fits[w]['fits_per_s']:.1f} fits/s, {ends[w]['firms_per_s']:.2f} firms/s end to end"
                      for w in sorted(fits))  # fmt: skip
    return (
        f"on {f['firms']} real calls, {f['cores']} cores at load {f['load_avg_1m']:.1f} ({run_label(s.latest)}), "
        f"by fit processes {parts}; rows identical at every setting: {'yes' if f['identical'] else 'NO'}"
    )


def rss(s: Sources) -> str:
    r = peak_rss(s)
    (n1, n2), (mb1, mb2) = r["firms"], r["mb"]
    return f"{mb1} MB at {n1:,} firms and {mb2} MB at {n2:,} (ratio {r['ratio']:.2f}; RESULTS.md, {r['section'][:16]})"


def bertopic_import(s: Sources) -> str:
    heading, m = latest_match(
        s.results_md,
        r"took (?P<s>\d+(?:\.\d+)?) s \(median of (?P<n>\d+)\) and added \*\*(?P<mb>\d+) MB\*\* of resident memory",
        "BERTopic import measurement (python -m benchmarks.bertopic_import)",
    )
    return (f"{m.group('mb')} MB and {m.group('s')} s per fit process (median of {m.group('n')}; RESULTS.md, "
            f"{heading[heading.find('(') + 1:heading.find('(') + 17]})")


def embedding_store(s: Sources) -> str:
    e = need(s.latest, "embedding_store")
    changed = ", ".join(f"`{k}={v}`" for k, v in e["changed"].items())
    return (
        f"{e['stored_bytes_per_sentence']:.0f} bytes per sentence, **{e['stored_mb_per_1000_firms']:.0f} MB per "
        f"1,000 firms**. On {e['firms']} real calls ({e['first']['sentences']:,} sentences) a re-run with {changed} "
        f"took {e['rerun']['batch_s']:.1f} s against {e['first']['batch_s']:.1f} s for the first run "
        f"(**{x(e['rerun_speedup'])}**; {x(e['rerun_speedup_vs_no_store'])} against the same setting without the "
        f"store), embedding nothing, with topics identical to the run without the store: "
        f"{'yes' if e['topics_identical_to_no_store'] else 'NO'} ({run_label(s.latest)})"
    )


def rounding(s: Sources) -> str:
    heading, m = latest_match(
        s.results_md, r"ARI (?P<ari>[\d.]+) in every call \((?P<same>\d+) of (?P<n>\d+) identical\)", "rounding check"
    )
    return (
        f"on {m.group('n')} Earnings-22 calls, topics on rounded and unrounded vectors are identical in "
        f"{m.group('same')} of {m.group('n')} (ARI {m.group('ari')}; RESULTS.md, {heading[:10]})"
    )


def theme_quality(s: Sources) -> str:
    heading, m = latest_match(s.results_md, r"Real calls \((?P<n>\d+) calls\)", "theme quality")
    body = dict(results_sections(s.results_md))[heading]
    small, full = markdown_tables(body)[:2]
    label_n = re.search(r"Real calls \(all calls\): (\d+) firms", body)
    n_all = label_n.group(1) if label_n else "all"
    if len(small[0]) != 5:
        raise DocsNumbersError(f"RESULTS.md, section {heading!r}: no null column (a run before it existed): "
                               "run `make bench-themes` again")
    rows = []
    for a, b in zip(small[1:], full[1:], strict=True):
        rows.append([a[0], a[1], f"{a[2]} ({a[3]})", f"{b[2]} ({b[3]})", f"{a[4]} / {b[4]}"])
    header = ["figure", "bar", f"{m.group('n')} calls (null)", f"{n_all} calls (null)",
              f"prototype on the same topics ({m.group('n')} / {n_all})"]  # fmt: skip
    return (
        f"\nRecorded in `benchmarks/RESULTS.md`, section \"{heading}\":\n\n"
        + table(header, rows, ["---", "---", "---:", "---:", "---:"])
        + "\n"
    )


def theme_scale(s: Sources) -> str:
    scale = need(s.themes, "scale", source="themes_latest.json")
    parts = [f"{r['topics']:,} topics: {r['seconds_first_quarter']:.0f} s for a first quarter, "
             f"{r['seconds_known_themes']:.1f} s once the themes are known, peak RSS {r['peak_rss_mb']} MB"
             for r in scale]  # fmt: skip
    return f"{'; '.join(parts)} ({s.themes.get('machine', '?')}, {s.themes.get('date', '?')[:10]})"


def theme_threshold(s: Sources) -> str:
    """The per-sentence exposure's threshold sweep (``python -m benchmarks.theme_threshold``), in a sentence."""
    heading, m = latest_match(s.results_md, r"Earnings-22, (?P<n>\d+) calls in two quarters", "threshold sweep "
                              "(python -m benchmarks.theme_threshold)")
    body = dict(results_sections(s.results_md))[heading]
    rows = {r[0].strip("*"): r for r in markdown_tables(body)[0][1:]}
    chosen = re.search(r"Chosen: (?P<t>[\d.]+)", body).group("t")
    pairs = [float(v) for v in re.findall(r"\d\.\d+-\d\.\d+: (\d\.\d+)", body)]
    retest = [float(r[5]) for r in rows.values()]
    first, last = list(rows)[0], list(rows)[-1]
    real, null = rows[chosen][6].split(" (")
    return (
        f"on {m.group('n')} Earnings-22 calls the as-is vs 15%-dropped rank correlation of the firm x theme grid "
        f"is {min(retest):.2f}-{max(retest):.2f} at every threshold on the choosing half, firms' exposures correlate "
        f"{min(pairs):.2f}-{max(pairs):.2f} across thresholds, and the median firm's summed share falls from "
        f"{rows[first][3]} ({first}) to {rows[last][3]} ({last}); {chosen} was chosen on the choosing half of the calls "
        f"(CRC-32 parity of the call id) and other demo firms: reliability as a floor, then validity (the rule "
        f"in RESULTS.md), and on the reporting half its retest is {real} (null, shuffled "
        f"vectors: {null.rstrip(')')}) (RESULTS.md, {heading[heading.find('(') + 1:heading.find('(') + 17]})"
    )


def planning(s: Sources) -> str:
    real = next((c for c in need(s.latest, "comparisons") if "real" in c["corpus"]), None)
    if real is None:
        raise DocsNumbersError("benchmarks/latest.json has no real-call comparison: run `make bench` with Earnings-22")
    per_hour = real["worker_firms_per_s"] * 3600
    cores = s.latest.get("machine", {}).get("cores", "?")
    cold = need(s.latest, "cold_start")
    return (
        f"a worker modelled {real['worker_firms_per_s']:.2f} real earnings calls a second "
        f"(~{real['sentences'] / real['firms']:.0f} sentences each), i.e. ~{per_hour:,.0f} firms an hour on {cores} "
        f"cores; each batch job also pays its model load ({num(cold['worker_default_load_s'], 1)} s on the default "
        f"embedder, {num(cold['worker_load_s'])} s on ONNX) ({run_label(s.latest)}). Memory: {rss(s)}"
    )


def validity(s: Sources) -> str:
    """``make bench-validity``'s table (the panel against outside facts, each figure beside its null)."""
    from benchmarks.validity import render, targets

    for key in ("validity_date", "covid_spearman", "demo_truth_corr", "e22_industry_p4"):
        need(s.latest, key)
    met = ", ".join(f"`{k}` {'yes' if v else 'no' if v is not None else 'not measured'}"
                    for k, v in targets(s.latest).items())
    return (f"\nRecorded by `make bench-validity` ({s.latest['validity_date'][:16].replace('T', ' ')} UTC; "
            f"`benchmarks/latest.json`, `benchmarks/RESULTS.md`):\n\n{render(s.latest)}\nIssue 25's targets: {met}.\n")


GENERATORS: dict[str, Callable[[Sources], str]] = {
    "demo-output": demo_output,
    "headline": headline,
    "topic-quality": topic_quality,
    "topic-content": topic_content,
    "speed-table": speed_table,
    "embedders": embedders,
    "cold-start": cold_start,
    "fit-pool": fit_pool,
    "rss": rss,
    "bertopic-import": bertopic_import,
    "embedding-store": embedding_store,
    "rounding": rounding,
    "theme-quality": theme_quality,
    "theme-scale": theme_scale,
    "theme-threshold": theme_threshold,
    "planning": planning,
    "validity": validity,
}


# ---------------------------------------------------------------------------------------------- rewriting


def render(text: str, sources: Sources, where: str = "") -> str:
    """``text`` with every generated block's body made from ``sources``."""

    def fill(m: re.Match) -> str:
        name = m.group("name")
        if name not in GENERATORS:
            raise DocsNumbersError(f"{where}: unknown generated block {name!r}; known: {', '.join(GENERATORS)}")
        body = GENERATORS[name](sources)
        if "\n" in body:  # a block of its own: blank lines around it end tables and paragraphs
            body = "\n\n" + body.strip("\n") + "\n\n"
        return f"<!-- generated:{name} -->{body}<!-- /generated -->"

    return BLOCK.sub(fill, text)


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def stale_blocks(text: str, sources: Sources, where: str = "") -> list[str]:
    """Names of the blocks whose body differs from what the recorded results give."""
    old = list(BLOCK.finditer(text))
    new = list(BLOCK.finditer(render(text, sources, where)))
    return [o.group("name") for o, n in zip(old, new, strict=True) if o.group(0) != n.group(0)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report blocks that differ; change nothing (exit 1)")
    args = parser.parse_args(argv)
    sources = Sources.load()
    differ = []
    for path in documents():
        text = path.read_text()
        where = str(path.relative_to(ROOT))
        stale = stale_blocks(text, sources, where)
        if stale and not args.check:
            path.write_text(render(text, sources, where))
        differ += [f"{where}: {name}" for name in stale]
    verb = "differ from the recorded results" if args.check else "rewritten"
    print("\n".join(f"{d} ({verb})" for d in differ) or "every generated block matches the recorded results")
    return 1 if differ and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
