"""research/peers.py: peers by the cosine of square-root theme shares, per quarter; a smaller shared theme
outweighs a large one everybody has, silent firms get no peers, and bad input says what it needs."""

import pandas as pd
import pytest

from ftm_assets.research.peers import nearest_peers, peer_similarity, peer_vectors


def _rows(quarter: str, shares: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"quarter": quarter, "firm_id": f, "theme_id": t, "share": s}
                         for f, by_theme in shares.items() for t, s in by_theme.items()])


# A and B share only the big theme G; A and C share the smaller theme X
SHARES = {"A": {"G": 0.8, "X": 0.2}, "B": {"G": 0.8, "Y": 0.2}, "C": {"G": 0.4, "X": 0.6}}


def test_square_roots_pick_the_firm_sharing_the_smaller_theme():
    sims = peer_similarity(_rows("2024Q1", SHARES), "2024Q1")
    assert sims.loc["A", "C"] > sims.loc["A", "B"]
    assert sims.loc["A", "A"] == pytest.approx(1.0) and sims.loc["A", "B"] == pytest.approx(0.8)
    plain = pd.DataFrame(SHARES).T.fillna(0.0)  # plain cosine of shares would pick B
    unit = plain.div((plain**2).sum(axis=1) ** 0.5, axis=0)
    assert (unit @ unit.T).loc["A", "B"] > (unit @ unit.T).loc["A", "C"]


def test_nearest_peers_are_ranked_within_each_quarter_and_silent_firms_have_none():
    rows = pd.concat([_rows("2024Q1", SHARES), _rows("2024Q2", {"A": {"G": 1.0}, "B": {"G": 1.0}}),
                      _rows("2024Q2", {"D": {"G": 0.0}})])  # D said nothing on any theme (a dense zero row)
    peers = nearest_peers(rows, k=4)
    assert list(peers.columns) == ["quarter", "firm_id", "rank", "peer_firm_id", "similarity"]
    a = peers[(peers.quarter == "2024Q1") & (peers.firm_id == "A")]
    assert a["peer_firm_id"].tolist() == ["C", "B"] and a["rank"].tolist() == [1, 2]  # k=4, only 2 others
    q2 = peers[peers.quarter == "2024Q2"]
    assert set(q2["firm_id"]) == {"A", "B"} and "D" not in set(q2["peer_firm_id"])
    assert q2["similarity"].tolist() == pytest.approx([1.0, 1.0])


def test_peer_vectors_sum_a_firms_rows_and_refuse_rows_without_share():
    vectors = peer_vectors(_rows("2024Q1", SHARES))
    assert vectors.loc[("2024Q1", "C"), "X"] == pytest.approx(0.6**0.5) and vectors.loc[("2024Q1", "B"), "X"] == 0
    with pytest.raises(ValueError, match="share"):
        peer_vectors(pd.DataFrame({"quarter": ["2024Q1"], "firm_id": ["A"], "theme_id": ["G"]}))
    with pytest.raises(ValueError, match="at least 1"):
        nearest_peers(_rows("2024Q1", SHARES), k=0)
    assert nearest_peers(_rows("2024Q1", SHARES).iloc[0:0]).empty


def test_peers_from_a_stored_panel_are_the_firms_planted_on_the_same_themes(tmp_path):
    """Planted firm f talks about themes f..f+3 (mod 6) of 6: its one twin among 12 firms is f+6."""
    from ftm_assets.readers import read_theme_exposure
    from ftm_assets.storage import LocalStorage
    from ftm_assets_tests.themes.synthetic import two_themed_quarters

    two_themed_quarters(LocalStorage(tmp_path))
    exposure = read_theme_exposure(str(tmp_path), "2023Q1", dense=True)
    first = nearest_peers(exposure, k=1)
    twins = {f"F-{f:03d}": f"F-{(f + 6) % 12:03d}" for f in range(12)}
    assert dict(zip(first["firm_id"], first["peer_firm_id"])) == twins
    assert (first["similarity"] > 0.9).all()
