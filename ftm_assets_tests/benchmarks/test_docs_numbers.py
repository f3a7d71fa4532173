"""Docs that cannot drift: every generated block in README.md and docs/*.md equals what the recorded benchmark
results give (`make docs` rewrites them), a changed result changes its block, WORKER_GB covers the recorded RSS,
and the README's contents and the pages' links point at headings and files that exist."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from benchmarks import docs_numbers as dn
from ftm_assets.run import jobs


@pytest.fixture(scope="module")
def sources() -> dn.Sources:
    return dn.Sources.load()


@pytest.mark.parametrize("path", dn.documents(), ids=lambda p: p.name)
def test_every_generated_block_matches_the_recorded_results(path, sources):
    stale = dn.stale_blocks(path.read_text(), sources, path.name)
    assert not stale, f"{path.name}: blocks {stale} differ from benchmarks/ results: run `make docs` and commit"


def test_the_readme_carries_the_measured_figures_in_blocks():
    names = {m.group("name") for m in dn.BLOCK.finditer((dn.ROOT / "README.md").read_text())}
    assert {"demo-output", "headline", "topic-quality", "theme-quality", "planning", "validity"} <= names


def test_a_changed_result_changes_its_block(sources):
    text = "speed <!-- generated:headline -->old<!-- /generated --> end"
    first = dn.render(text, sources)
    assert first.startswith("speed <!-- generated:headline -->Latest") and first.endswith("<!-- /generated --> end")
    assert dn.stale_blocks(first, sources) == []
    latest = copy.deepcopy(sources.latest)
    latest["comparisons"][0]["speedup_vs_naive"] = 123.456
    moved = dn.Sources(latest, sources.results_md, sources.themes, sources.demo_output)
    assert dn.stale_blocks(first, moved) == ["headline"]
    assert "123.46×" in dn.render(first, moved)


def test_an_unknown_block_or_a_missing_figure_names_what_to_do(sources):
    with pytest.raises(dn.DocsNumbersError, match="unknown generated block 'nope'"):
        dn.render("<!-- generated:nope --><!-- /generated -->", sources, "README.md")
    latest = {k: v for k, v in sources.latest.items() if k != "cold_start"}
    broken = dn.Sources(latest, sources.results_md, sources.themes, sources.demo_output)
    with pytest.raises(dn.DocsNumbersError, match="no 'cold_start'.*re-run the benchmark"):
        dn.render("<!-- generated:cold-start --><!-- /generated -->", broken)


def test_results_md_figures_come_from_its_latest_section(sources):
    later = sources.results_md + (
        "\n## 2099-01-01 — later probe\n\nPeak RSS of the processor (24 reused demo sentences per firm): "
        "100 firms: 700 MB (7 s); 1000 firms: 710 MB (70 s); ratio 1.014.\n"
    )
    moved = dn.Sources(sources.latest, later, sources.themes, sources.demo_output)
    assert dn.peak_rss(moved)["mb"] == (700, 710)


def test_worker_gb_covers_the_recorded_peak_rss_with_a_margin(sources):
    recorded_gb = max(dn.peak_rss(sources)["mb"]) / 1024
    assert jobs.WORKER_GB >= 1.3 * recorded_gb, (jobs.WORKER_GB, recorded_gb)


def test_the_demo_sample_is_a_recorded_run():
    rec = json.loads((dn.BENCH / "demo_output.json").read_text())
    out = "\n".join(rec["stdout"])
    assert re.search(r"firms\s+\d+ \(\d+ with topics rows", out) and "batches" in out and rec["commit"]


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a markdown file's headings (code blocks skipped)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    found = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


@pytest.mark.parametrize("path", dn.documents(), ids=lambda p: p.name)
def test_every_link_to_a_page_or_heading_resolves(path: Path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, fragment = link.partition("#")
        page = (path.parent / target).resolve() if target else path
        if not page.exists():
            broken.append(link)
        elif fragment and page.suffix == ".md" and fragment not in anchors(page.read_text()):
            broken.append(link)
    assert not broken, f"{path.name}: links to nothing: {broken}"


def test_the_contents_lists_every_section_of_the_readme():
    text = (dn.ROOT / "README.md").read_text()
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    sections = [h for h in re.findall(r"^## (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), flags=re.M)]
    missing = [h for h in sections if h != "Contents" and
               "#" + re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") + ")" not in contents]  # fmt: skip
    assert not missing, f"README sections missing from its Contents: {missing}"


def test_a_quiet_runs_spread_and_load_reach_the_docs(sources):
    latest = copy.deepcopy(sources.latest)
    latest["comparisons"][0].update(speedup_vs_naive=2.5, speedup_vs_naive_spread=[2.4, 2.7], repeats=3)
    latest["load"] = {"loaded": False, "max_others_busy_cores": 0.12}
    moved = dn.Sources(latest, sources.results_md, sources.themes, sources.demo_output)
    text = dn.render("<!-- generated:headline --><!-- /generated -->", moved)
    assert "2.50× [2.40-2.70, 3 runs] on" in text and "quiet machine: other processes' CPU at most 0.12 cores" in text
