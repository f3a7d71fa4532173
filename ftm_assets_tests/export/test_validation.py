"""The validation kit (``python -m ftm_assets.export validation``) and two coders' scores (``validation-score``)."""

import pandas as pd
import pytest

from ftm_assets.export.__main__ import main
from ftm_assets.export.validation import build_kit, score_coders
from ftm_assets.readers import read_themes
from ftm_assets_tests.themes.synthetic import WORDS, themed_root  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def kit_dir(themed_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("kit")
    assert main(["validation", "--quarters", "2023Q1:2023Q2", "--root", str(themed_root), "--out", str(out)]) == 0
    return out


def test_kit_samples_members_and_contrasts_per_theme(themed_root, kit_dir):
    coding, key = pd.read_csv(kit_dir / "coding.csv"), pd.read_csv(kit_dir / "coding_key.csv")
    themes = read_themes(str(themed_root), "2023Q1:2023Q2")
    assert set(coding["theme_id"]) == set(themes["theme_id"])
    assert coding["coder_label"].isna().all() and "sample" not in coding  # blind and uncoded
    joined = coding.merge(key, on=["item_id", "theme_id", "firm_id", "quarter"])
    counts = joined.groupby(["theme_id", "sample"]).size().unstack(fill_value=0)
    assert (counts["member"] == 20).all() and (counts["not_taken"] == 5).all()
    # a planted theme's members share one planted word; the sentences it did not take are on other words
    for theme_id, group in joined.groupby("theme_id"):
        words = [{w for w in WORDS if f" {w} " in t} for t in group.loc[group["sample"] == "member", "text"]]
        assert len(set.intersection(*words)) == 1, theme_id
        (word,) = set.intersection(*words)
        assert not any(f"Our {word} business" in t for t in group.loc[group["sample"] == "not_taken", "text"])


def test_series_top_firms_and_page(kit_dir):
    series, top = pd.read_csv(kit_dir / "series.csv"), pd.read_csv(kit_dir / "top_firms.csv")
    assert set(series["quarter"]) == {"2023Q1", "2023Q2"} and series["share"].between(0, 1).all()
    assert (series.groupby("quarter")["share"].sum() <= 1 + 1e-9).all()
    assert (top.groupby("theme_id")["mean_share"].apply(lambda s: s.is_monotonic_decreasing)).all()
    page = (kit_dir / "index.html").read_text()
    assert "<script" not in page and page.count("<section>") == series["theme_id"].nunique()


def test_the_same_seed_draws_the_same_kit(themed_root):
    a, b = build_kit(str(themed_root), "2023Q1"), build_kit(str(themed_root), "2023Q1")
    assert a.coding.equals(b.coding)
    assert not build_kit(str(themed_root), "2023Q1", seed=1).coding["text"].equals(a.coding["text"])


def test_text_is_escaped_on_the_page(themed_root, tmp_path, monkeypatch):
    from ftm_assets.export import validation

    kit = build_kit(str(themed_root), "2023Q1")
    kit.coding.loc[0, "text"] = "<b>margins</b> & <script>alert(1)</script>"
    page = validation.kit_html(kit, "2023Q1")
    assert "&lt;script&gt;" in page and "<script>" not in page


def test_two_coders_are_scored(kit_dir, tmp_path, capsys):
    coding, key = pd.read_csv(kit_dir / "coding.csv"), pd.read_csv(kit_dir / "coding_key.csv")
    truth = (key.set_index("item_id")["sample"] == "member").astype(int)
    a = coding.assign(coder_label=coding["item_id"].map(truth))            # codes every member on-theme
    b = a.copy()
    b.loc[b.index[:10], "coder_label"] = 1 - b.loc[b.index[:10], "coder_label"]  # disagrees on ten items
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    scores = score_coders(tmp_path / "a.csv", tmp_path / "b.csv", kit_dir / "coding_key.csv").set_index("theme_id")
    assert scores.loc["all", "precision_a"] == 1.0 and scores.loc["all", "not_taken_on_theme_a"] == 0.0
    assert scores.loc["all", "n_items"] == len(coding) and 0 < scores.loc["all", "kappa"] < 1
    assert scores.loc["all", "precision_b"] < 1.0
    assert main(["validation-score", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
                 "--key", str(kit_dir / "coding_key.csv")]) == 0
    assert "kappa" in capsys.readouterr().out


def test_unknown_labels_are_refused(kit_dir, tmp_path, capsys):
    coding = pd.read_csv(kit_dir / "coding.csv").assign(coder_label="maybe")
    coding.to_csv(tmp_path / "coding.csv", index=False)
    (tmp_path / "coding_key.csv").write_text((kit_dir / "coding_key.csv").read_text())
    assert main(["validation-score", str(tmp_path / "coding.csv"), str(tmp_path / "coding.csv")]) == 2
    assert "neither on-theme" in capsys.readouterr().err


def test_quarters_without_themes_fail_with_their_names(themed_root, tmp_path, capsys):
    assert main(["validation", "--quarters", "2023Q3", "--root", str(themed_root), "--out", str(tmp_path)]) == 2
    assert "2023Q3" in capsys.readouterr().err
