"""Where the tests look for the real Earnings-22 calls: FTM_EARNINGS22 first, else the nearest shared/ above the checkout."""

from __future__ import annotations

from pathlib import Path

from ftm_assets_tests.support.earnings22_calls import SHARED_CALLS, find_earnings22

CHECKOUT = Path(__file__).resolve().parents[2]


def test_the_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("FTM_EARNINGS22", str(tmp_path / "calls.jsonl.gz"))
    assert find_earnings22() == tmp_path / "calls.jsonl.gz"


def test_without_the_variable_the_calls_are_looked_for_above_the_checkout(monkeypatch):
    monkeypatch.delenv("FTM_EARNINGS22", raising=False)
    found = find_earnings22()
    assert found.relative_to(found.parents[3]) == SHARED_CALLS
    assert found.parents[3] in CHECKOUT.parents
    if not found.exists():  # nothing above: the skip reason names the nearest candidate
        assert found.parents[3] == CHECKOUT.parent
