"""The 125 real Earnings-22 calls, converted to the files format in tmp_path and read back by quarter."""

from __future__ import annotations

from collections import Counter

from ftm_assets.transcripts.files import read_transcript_files
from ftm_assets_tests.support.earnings22_calls import N_CALLS, read_calls, write_earnings22_files
from ftm_assets_tests.support.earnings22 import requires_earnings22

pytestmark = requires_earnings22
QUARTER = "2021Q2"


def test_all_calls_read_back_as_one_firm_each(tmp_path):
    folder = write_earnings22_files(tmp_path, QUARTER)
    table = read_transcript_files(folder, QUARTER)
    rows = table.to_pylist()

    calls = read_calls()
    assert len(calls) == N_CALLS
    assert table.num_rows == sum(len(c["turns"]) for c in calls)
    assert len({r["firm_id"] for r in rows}) == len({r["call_id"] for r in rows}) == N_CALLS
    assert all(r["text"].strip() for r in rows)
    assert {r["source"] for r in rows} == {"files"} and {r["quarter"] for r in rows} == {QUARTER}
    # verbatim markers stay in the data: the pipeline must cope with them, not the reader drop them
    assert sum("<unk>" in r["text"] for r in rows) > 100
    roles = Counter(r["speaker_type"] for r in rows)
    assert set(roles) == {"Operator", "Executives", "Analysts"} and roles["Analysts"] > N_CALLS
    first_turns = [r for r in rows if r["component_order"] == 0]
    assert Counter(r["speaker_type"] for r in first_turns)["Operator"] > N_CALLS // 2


def test_other_quarters_and_limit(tmp_path):
    folder = write_earnings22_files(tmp_path, QUARTER, limit=4)
    assert read_transcript_files(folder, "2021Q3").num_rows == 0
    firms = read_transcript_files(folder, QUARTER).column("firm_id").unique().to_pylist()
    assert len(firms) == 4 and all(f.startswith("E22-") for f in firms)
