"""``python -m ftm_assets.export panel``: Parquet, CSV and Stata files that read back; Stata's name rules."""

import pandas as pd
import pytest

from ftm_assets.export.__main__ import main
from ftm_assets.export.panel import stata_names
from ftm_assets.readers import read_theme_exposure
from ftm_assets_tests.themes.synthetic import themed_root  # noqa: F401  (a fixture)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".dta"])
def test_panel_export_reads_back(themed_root, tmp_path, suffix, capsys):
    out = tmp_path / f"panel{suffix}"
    assert main(["panel", "--quarters", "2023Q1:2023Q2", "--out", str(out), "--root", str(themed_root)]) == 0
    expected = read_theme_exposure(str(themed_root), "2023Q1:2023Q2")
    back = {".parquet": pd.read_parquet, ".csv": pd.read_csv, ".dta": pd.read_stata}[suffix](out)
    assert len(back) == len(expected) and set(back["quarter"]) == {"2023Q1", "2023Q2"}
    assert back["share"].round(9).tolist() == expected["share"].round(9).tolist()
    assert "Wrote" in capsys.readouterr().out
    if suffix == ".dta":
        assert all(len(c) <= 32 for c in back.columns) and str(back["earnings_call_date"].dtype).startswith("datetime")


def test_missing_quarters_fail_with_their_names(themed_root, tmp_path, capsys):
    assert main(["panel", "--quarters", "2023Q1:2023Q4", "--out", str(tmp_path / "p.csv"), "--root", str(themed_root)]) == 2
    assert "2023Q3, 2023Q4" in capsys.readouterr().err


def test_stata_names_are_short_unique_and_valid():
    names = stata_names(["share_presentation", "a" * 40, "a" * 40, "1st", "share-qa"])
    assert all(len(n) <= 32 for n in names.values()) and len(set(names.values())) == len(names)
    assert names["1st"] == "_1st" and names["share-qa"] == "share_qa"


def test_without_root_the_loaded_settings_name_it(themed_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FTM_STORAGE_ROOT", str(themed_root))
    assert main(["panel", "--quarters", "2023Q1", "--out", str(tmp_path / "p.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(read_theme_exposure(str(themed_root), "2023Q1"))
    monkeypatch.setenv("FTM_ENV", "aws")  # a root the loader refuses is reported, not used
    assert main(["panel", "--quarters", "2023Q1", "--out", str(tmp_path / "q.csv")]) == 2
    assert "FTM_ENV=aws needs FTM_STORAGE_ROOT=s3://" in capsys.readouterr().err
