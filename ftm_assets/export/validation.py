"""A hand-coding kit per theme, and the two coders' scores: does a theme hold what its label says?

``build_kit`` draws, for every theme of the quarters asked, ``MEMBERS`` random sentences the theme took and
``NOT_TAKEN`` random sentences of its highest-exposure firms that it did not take (the contrast a coder needs
to tell a sharp theme from one that takes everything), its top firms and its share per quarter; ``write_kit``
writes them as CSV files plus one static HTML page. The file to code, ``coding.csv``, is blind: its rows are
shuffled within a theme and say nothing of which sample a sentence came from; ``coding_key.csv`` says it.
``score_coders`` reads two coded copies: per theme and overall, each coder's precision (share of the theme's
member sentences coded on-theme), the same share on the not-taken sentences (the null a precision is read
against), and Cohen's kappa between the coders.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ftm_assets.quarters import Quarter, expand_quarters
from ftm_assets.readers.themes import read_sentence_themes, read_theme_exposure, read_themes
from ftm_assets.readers.topics import read_sentences
from ftm_assets.storage import Storage, open_storage

MEMBERS = 20
NOT_TAKEN = 5
TOP_FIRMS = 10
SEED = 0
CODING_COLUMNS = ["item_id", "theme_id", "theme_label", "keywords", "quarter", "firm_id", "firm_name", "text",
                  "coder_label"]
ON_THEME = {"1", "1.0", "y", "yes", "true", "on", "on-theme", "on_theme"}
OFF_THEME = {"0", "0.0", "n", "no", "false", "off", "off-theme", "off_theme"}


@dataclass(frozen=True)
class ValidationKit:
    """The kit's tables: ``themes`` (one row per theme), ``coding`` (blind, ``coder_label`` empty), ``key``
    (item_id -> sample: member | not_taken), ``top_firms`` and ``series`` (the theme's share per quarter)."""

    themes: pd.DataFrame
    coding: pd.DataFrame
    key: pd.DataFrame
    top_firms: pd.DataFrame
    series: pd.DataFrame


def _latest_themes(themes: pd.DataFrame) -> pd.DataFrame:
    """One row per theme id: its label and keywords in the latest quarter it appears in."""
    latest = themes.sort_values("quarter", key=lambda qs: qs.map(Quarter.parse)).groupby("theme_id").tail(1)
    out = latest[["theme_id", "label", "keywords", "n_firms", "first_quarter"]].copy()
    out["keywords"] = [", ".join(k) if k is not None else "" for k in out["keywords"]]
    return out.sort_values("theme_id").reset_index(drop=True)


def _series(assigned: pd.DataFrame, sentences: pd.DataFrame, quarters: list[str]) -> pd.DataFrame:
    """Per (theme, quarter): sentences the theme took / the quarter's non-procedural sentences, and its firms."""
    totals = sentences.groupby("quarter").size()
    per = assigned.groupby(["theme_id", "quarter"]).agg(n_sentences=("sentence_id", "size"),
                                                       n_firms=("firm_id", "nunique")).reset_index()
    grid = pd.MultiIndex.from_product([sorted(assigned["theme_id"].unique()), quarters], names=["theme_id", "quarter"])
    per = per.set_index(["theme_id", "quarter"]).reindex(grid, fill_value=0).reset_index()
    per["share"] = per["n_sentences"] / per["quarter"].map(totals).replace(0, np.nan).to_numpy()
    return per.fillna({"share": 0.0})


def _top_firms(panel: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` firms with the highest mean share on each theme over the quarters that have both (``panel``
    dense: a quarter where the firm said nothing on the theme counts as 0); ``quarters``: those with a sentence."""
    mean = (panel.assign(on=panel["share"] > 0).groupby(["theme_id", "firm_id"])
            .agg(firm_name=("firm_name", "first"), mean_share=("share", "mean"), quarters=("on", "sum"))
            .reset_index().sort_values(["theme_id", "mean_share", "firm_id"], ascending=[True, False, True]))
    top = mean[mean["mean_share"] > 0].groupby("theme_id").head(n).copy()
    top["rank"] = top.groupby("theme_id").cumcount() + 1
    return top[["theme_id", "rank", "firm_id", "firm_name", "mean_share", "quarters"]].reset_index(drop=True)


def _substantive(sentences: pd.DataFrame) -> pd.DataFrame:
    """The sentences the panel can assign (not procedural): the denominator of a share and the pool of
    not-taken sentences, so a contrast is never an operator line no theme could take."""
    keep = ~sentences["procedural"].astype("boolean").fillna(False).to_numpy(dtype=bool)  # null: older files
    return sentences.loc[keep, ["quarter", "firm_id", "sentence_id", "text"]]


def build_kit(root: str | Storage, quarters: str | list[str], *, members: int = MEMBERS, not_taken: int = NOT_TAKEN,
              top_firms: int = TOP_FIRMS, seed: int = SEED) -> ValidationKit:
    """The kit for every theme of ``quarters`` (raises ThemesNotMaterialized if a quarter has none)."""
    store = open_storage(root)
    qs = expand_quarters(quarters)
    themes = _latest_themes(read_themes(store, qs))
    panel = read_theme_exposure(store, qs, dense=True)
    assigned = read_sentence_themes(store, qs)  # the panel's per-sentence assignment
    sentences = _substantive(read_sentences(store, qs))
    names = panel.drop_duplicates("firm_id").set_index("firm_id")["firm_name"]
    top = _top_firms(panel, top_firms)
    rng = np.random.default_rng(seed)
    text_of = sentences.set_index(["quarter", "firm_id", "sentence_id"])["text"]
    rows = []
    for theme in themes.itertuples(index=False):
        took = assigned[assigned["theme_id"] == theme.theme_id]
        took_keys = set(zip(took["quarter"], took["firm_id"], took["sentence_id"]))
        picks = took.iloc[rng.permutation(len(took))[:members]]
        sample = [("member", q, f, int(s)) for q, f, s in zip(picks["quarter"], picks["firm_id"], picks["sentence_id"])]
        firms = set(top.loc[top["theme_id"] == theme.theme_id, "firm_id"])
        pool = sentences[sentences["firm_id"].isin(firms)]
        pool = pool[[k not in took_keys for k in zip(pool["quarter"], pool["firm_id"], pool["sentence_id"])]]
        others = pool.iloc[rng.permutation(len(pool))[:not_taken]]
        sample += [("not_taken", q, f, int(s)) for q, f, s in zip(others["quarter"], others["firm_id"], others["sentence_id"])]
        for i in rng.permutation(len(sample)):  # blind: members and contrasts interleaved
            kind, q, f, s = sample[i]
            rows.append({"theme_id": theme.theme_id, "theme_label": theme.label, "keywords": theme.keywords,
                         "quarter": q, "firm_id": f, "firm_name": names.get(f), "text": text_of.get((q, f, s)),
                         "sentence_id": s, "sample": kind})
    items = pd.DataFrame(rows, columns=["theme_id", "theme_label", "keywords", "quarter", "firm_id", "firm_name",
                                        "text", "sentence_id", "sample"])
    items.insert(0, "item_id", [f"i{n:05d}" for n in range(len(items))])
    items["coder_label"] = ""
    key = items[["item_id", "theme_id", "quarter", "firm_id", "sentence_id", "sample"]]
    return ValidationKit(themes, items[CODING_COLUMNS], key, top, _series(assigned, sentences, qs))


def _table_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("" if value is None else str(value))


def kit_html(kit: ValidationKit, quarters: str) -> str:
    """One static page (no script): per theme its label, series, top firms, member and not-taken sentences."""
    items = kit.coding.merge(kit.key[["item_id", "sample"]], on="item_id")
    parts = [f"<h1>ftm validation kit: {html.escape(quarters)}</h1>",
             f"<p>{len(kit.themes)} themes. Code <code>coding.csv</code> (blind); this page shows the samples.</p>"]
    for theme in kit.themes.itertuples(index=False):
        mine = items[items["theme_id"] == theme.theme_id]
        parts.append(f"<section><h2>{html.escape(theme.theme_id)}: {html.escape(str(theme.label))}</h2>"
                     f"<p>Keywords: {html.escape(theme.keywords)}</p><h3>Share per quarter</h3>"
                     + _table_html(kit.series[kit.series["theme_id"] == theme.theme_id].drop(columns="theme_id"))
                     + "<h3>Top firms</h3>"
                     + _table_html(kit.top_firms[kit.top_firms["theme_id"] == theme.theme_id].drop(columns="theme_id")))
        for kind, title in (("member", "Sentences the theme took"), ("not_taken", "Sentences of its top firms it did not take")):
            texts = mine.loc[mine["sample"] == kind, ["firm_id", "quarter", "text"]]
            parts.append(f"<h3>{title} ({len(texts)})</h3><ul>" + "".join(
                f"<li>{html.escape(str(t))} <small>({html.escape(f)}, {html.escape(q)})</small></li>"
                for f, q, t in texts.itertuples(index=False)) + "</ul></section>")
    style = "body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ftm validation kit</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_kit(kit: ValidationKit, out: Path, quarters: str) -> list[Path]:
    """Write the kit's CSV files and ``index.html`` under ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"themes.csv": kit.themes, "coding.csv": kit.coding, "coding_key.csv": kit.key,
             "top_firms.csv": kit.top_firms, "series.csv": kit.series}
    paths = []
    for name, frame in files.items():
        frame.to_csv(out / name, index=False)
        paths.append(out / name)
    (out / "index.html").write_text(kit_html(kit, quarters), encoding="utf-8")
    return paths + [out / "index.html"]


def coded_labels(path: Path) -> pd.Series:
    """A coder's file as item_id -> 1 (on theme) / 0 (not); unlabelled rows dropped, unknown labels refused."""
    frame = pd.read_csv(path, dtype={"item_id": str, "coder_label": str}, keep_default_na=False)
    missing = {"item_id", "coder_label"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} has no {', '.join(sorted(missing))} column: code the kit's coding.csv.")
    labels = frame["coder_label"].str.strip().str.lower()
    bad = sorted(set(labels[(labels != "") & ~labels.isin(ON_THEME | OFF_THEME)]))
    if bad:
        raise ValueError(f"{path}: coder_label values {bad[:5]} are neither on-theme (1, yes) nor off-theme (0, no).")
    coded = labels != ""
    return pd.Series(labels[coded].isin(ON_THEME).astype(int).to_numpy(), index=frame.loc[coded, "item_id"])


def score_coders(coder_a: Path, coder_b: Path, key: Path) -> pd.DataFrame:
    """Per theme and ``all``: items both coded, each coder's precision on the members and on-theme share of
    the not-taken sentences, and Cohen's kappa between the coders (NaN where it is undefined)."""
    from sklearn.metrics import cohen_kappa_score

    a, b = coded_labels(coder_a), coded_labels(coder_b)
    keys = pd.read_csv(key, dtype={"item_id": str})
    both = keys.set_index("item_id").join(a.rename("a"), how="inner").join(b.rename("b"), how="inner")
    if both.empty:
        raise ValueError(f"{coder_a} and {coder_b} share no coded item of {key}: code the same coding.csv.")
    rows = []
    for theme, group in [*both.groupby("theme_id"), ("all", both)]:
        mem, other = group[group["sample"] == "member"], group[group["sample"] == "not_taken"]
        agree_defined = len(group) > 1 and len(set(group["a"]) | set(group["b"])) > 1
        rows.append({"theme_id": theme, "n_items": len(group),
                     "precision_a": mem["a"].mean() if len(mem) else np.nan,
                     "precision_b": mem["b"].mean() if len(mem) else np.nan,
                     "not_taken_on_theme_a": other["a"].mean() if len(other) else np.nan,
                     "not_taken_on_theme_b": other["b"].mean() if len(other) else np.nan,
                     "kappa": cohen_kappa_score(group["a"], group["b"]) if agree_defined else np.nan})
    return pd.DataFrame(rows)
