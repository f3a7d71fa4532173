"""``python -m ftm_assets.export peers``: each firm's nearest peers per quarter with both firms' gvkey and permno,
in Parquet, CSV and Stata; planted twins come first; a bad k is refused."""

import pandas as pd
import pytest

from ftm_assets.export.__main__ import main
from ftm_assets.readers import read_theme_exposure
from ftm_assets_tests.themes.synthetic import themed_root  # noqa: F401  (a fixture)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".dta"])
def test_peers_export_reads_back_with_both_firms_identifiers(themed_root, tmp_path, suffix, capsys):
    out = tmp_path / f"peers{suffix}"
    assert main(["peers", "--quarters", "2023Q1:2023Q2", "--out", str(out), "--root", str(themed_root), "--k", "2"]) == 0
    back = {".parquet": pd.read_parquet, ".csv": pd.read_csv, ".dta": pd.read_stata}[suffix](out)
    assert len(back) == 2 * 12 * 2 and set(back["rank"]) == {1, 2}  # 2 quarters x 12 firms x 2 peers
    first = back[(back["quarter"] == "2023Q1") & (back["rank"] == 1)]
    # planted firm f talks about themes f..f+3 of 6: its twin is f+6
    assert dict(zip(first["firm_id"], first["peer_firm_id"])) == {f"F-{f:03d}": f"F-{(f + 6) % 12:03d}"
                                                                  for f in range(12)}
    panel = read_theme_exposure(str(themed_root), "2023Q1").drop_duplicates("firm_id").set_index("firm_id")
    row = first.iloc[0]
    assert float(row["peer_permno"]) == float(panel.loc[row["peer_firm_id"], "permno"])
    assert int(row["gvkey"]) == int(panel.loc[row["firm_id"], "gvkey"])  # CSV reads gvkey back as a number
    assert "Wrote 48 rows" in capsys.readouterr().out


def test_a_k_below_one_is_refused(themed_root, tmp_path, capsys):
    assert main(["peers", "--quarters", "2023Q1", "--out", str(tmp_path / "p.csv"), "--root", str(themed_root), "--k", "0"]) == 2
    assert "k must be at least 1" in capsys.readouterr().err
