"""The run command end to end: refused quarters, a failed quarter that does not stop the next, the source named in
the summary, and a CSV of Capital IQ-named columns (real Earnings-22 calls plus stub transcripts) run over two
quarters by `python -m ftm_assets.run` into one DataFrame."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from ftm_assets import run as run_cmd
from ftm_assets.constants import PROJECT_ROOT
from ftm_assets.quarters import Quarter
from ftm_assets.readers import read_failures, read_firm_topics, read_theme_exposure
from ftm_assets_tests.support.earnings22_calls import call_rows, firm_ids, read_calls
from ftm_assets_tests.support.earnings22 import requires_earnings22

CIQ_HEADER = [
    "companyid", "companyname", "keydevid", "transcriptid", "mostimportantdateutc", "componentorder",
    "transcriptcomponenttypename", "speakertypename", "componenttext", "gvkey", "lpermno",
]  # fmt: skip
QUARTERS = ["2021Q1", "2021Q2"]


def test_quarter_without_calls_in_the_files_is_refused_before_any_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "calls.csv").write_text("companyid,mostimportantdateutc,componentorder,componenttext\n1,2021-02-02,0,Hi.\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("FTM_TRANSCRIPT_SOURCE", "files")
    monkeypatch.setenv("FTM_TRANSCRIPTS_DIR", str(tmp_path))
    assert run_cmd.main(["--quarters", "2021Q1:2021Q2"]) == 2
    assert "FTM_TRANSCRIPTS_DIR holds no calls of 2021Q2 (it holds 2021Q1)" in capsys.readouterr().err
    assert run_cmd.main(["--quarters", "2021Q5"]) == 2
    assert "Unknown quarter key '2021Q5'" in capsys.readouterr().err


def write_capital_iq_csv(dest: Path, calls_per_quarter: int = 2) -> dict[str, list[str]]:
    """Real calls (gvkey as a float, as pandas writes it) and two stubs per quarter, in one CSV.gz file."""
    calls = read_calls(calls_per_quarter * len(QUARTERS))
    ids = firm_ids(calls)
    rows, firms = [], {q: [] for q in QUARTERS}
    for index, (call, firm) in enumerate(zip(calls, ids)):
        quarter = QUARTERS[index % len(QUARTERS)]
        firms[quarter].append(firm)
        for r in call_rows(call, firm, index, Quarter.parse(quarter)):
            rows.append([
                r["firm_id"], r["firm_name"], r["call_id"], r["transcript_id"], r["earnings_call_date"],
                r["component_order"], r["component_type"], r["speaker_type"], r["text"], f"{1690 + index}.0", 14593 + index,
            ])  # fmt: skip
    for quarter in QUARTERS:
        day = Quarter.parse(quarter).start.isoformat()
        stub_empty, stub_short = f"STUB-EMPTY-{quarter}", f"STUB-SHORT-{quarter}"
        rows.append([stub_empty, "Empty Call Corp", "", "", day, 0, "Presenter Speech", "Executives", "", "", ""])
        rows.append([stub_short, "Short Call Inc", "", "", day, 0, "Presenter Speech", "Executives",
                     "Thank you all for joining. Revenue grew in the quarter.", "", ""])  # fmt: skip
        firms[quarter] += [stub_empty, stub_short]
    dest.mkdir(parents=True, exist_ok=True)
    with gzip.open(dest / "ciq_export.csv.gz", "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CIQ_HEADER)
        writer.writerows(rows)
    return firms


@pytest.mark.slow
@requires_earnings22
def test_capital_iq_csv_runs_two_quarters_end_to_end(tmp_path):
    firms = write_capital_iq_csv(tmp_path / "transcripts")
    home, root = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home), "FTM_STORAGE_ROOT": str(root), "FTM_TRANSCRIPT_SOURCE": "files",
        "FTM_TRANSCRIPTS_DIR": str(tmp_path / "transcripts"), "FTM_BATCH_COUNT": "2",
        # The default failure policy: stub transcripts are skipped, so they fail no batch and no check.
        "FTM_THEME_MIN_FIRMS": "2",  # a few calls a quarter: a theme may span two of them
    }  # fmt: skip
    for name in ("FTM_FIRST_QUARTER", "FTM_LAST_QUARTER", "FTM_MAX_BATCH_JOBS_IN_FLIGHT", "MAX_FAILURE_RATE",
                 "ALLOW_FAILURES", *run_cmd.QUIET_LIBRARIES):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "ftm_assets.run", "--quarters", "2021Q1:2021Q2", "--jobs", "2"],
        env=env, capture_output=True, text=True, timeout=900, cwd=PROJECT_ROOT,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    print(out)  # shown with -s or -rP: the progress lines and summaries a user sees
    assert proc.returncode == 0, out
    for quarter in QUARTERS:
        assert f"ftm run: {quarter} (your files in {tmp_path / 'transcripts'})" in out
    assert out.count(" done in ") == 4 and "FAILED" not in out
    assert "2 of 2 quarters ran without a failed step" in out
    assert "Loading weights" not in out and "it/s]" not in out  # our progress only, no library bars

    # The researcher's table: both quarters in one DataFrame, read as a range.
    topics = read_firm_topics(str(root), "2021Q1:2021Q2", strict=True)
    failures = read_failures(str(root), "2021Q1:2021Q2", strict=True)
    assert sorted(topics.quarter.unique()) == QUARTERS
    for quarter in QUARTERS:
        real = [f for f in firms[quarter] if not f.startswith("STUB-")]
        got = topics[(topics.quarter == quarter) & (topics.topic_id >= 0)].groupby("firm_id").size()
        assert sorted(got.index) == sorted(real) and (got >= 2).all()
        stubs = failures[failures.quarter == quarter]
        assert sorted(stubs.firm_id) == [f"STUB-EMPTY-{quarter}", f"STUB-SHORT-{quarter}"]
        assert set(stubs.error_class) <= {"EmptyTranscript", "InsufficientText"} and set(stubs.outcome) == {"skipped"}
    assert topics.gvkey.str.fullmatch(r"\d{6}").all() and topics.permno.dtype == "int64"
    panel = read_theme_exposure(str(root), "2021Q1:2021Q2")  # and the themes panel, keyed by gvkey/permno
    assert sorted(panel.quarter.unique()) == QUARTERS and panel.gvkey.notna().all()
    assert (panel.groupby(["quarter", "firm_id"]).share.sum() <= 1 + 1e-9).all()

    # Recorded on the instance in DAGSTER_HOME, so `make dev` shows the runs and partitions.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        partitions = {r.tags.get("dagster/partition") for r in runs}
        # per quarter: upstream, batches, summary, themes, call_returns (skipped without returns files, still a run)
        assert len(runs) == 2 * (1 + 2 + 1 + 1 + 1) and all(r.is_success for r in runs)
        batch_partition = str(dg.MultiPartitionKey({"quarter": "2021Q2", "batch": "001"}))
        assert {"2021Q1", "2021Q2", batch_partition} <= partitions


def test_failed_quarter_is_reported_and_the_next_one_still_runs(tmp_path, monkeypatch, capsys):
    from ftm_assets_tests.support.pg_server import free_port

    (tmp_path / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    env = {
        "DAGSTER_HOME": str(tmp_path), "FTM_STORAGE_ROOT": str(tmp_path / "data"), "FTM_TRANSCRIPT_SOURCE": "wrds",
        "FTM_WRDS_USERNAME": "researcher", "FTM_WRDS_PASSWORD": "pw", "FTM_WRDS_HOST": "127.0.0.1",
        "FTM_WRDS_PORT": str(free_port()), "FTM_WRDS_SSLMODE": "disable", "FTM_BATCH_COUNT": "2",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run_cmd.main(["--quarters", "2023Q1:2023Q2", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert out.count("raw_transcripts/firm_manifest FAILED: WrdsUnreachableError: Cannot reach") == 2
    assert "Materializing 2023Q2" in out and "0 of 2 quarters ran without a failed step" in out
    assert "source wrds, launcher local" in out and " done in " not in out
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert [r.tags.get("dagster/partition") for r in instance.get_runs()] == ["2023Q2", "2023Q1"]


def test_summary_names_the_real_source():
    from ftm_assets.environment import Settings

    assert run_cmd.describe_source(Settings.from_env({})) == "synthetic demo corpus"
    wrds = Settings.from_env({"FTM_TRANSCRIPT_SOURCE": "wrds", "FTM_WRDS_USERNAME": "alice", "FTM_WRDS_PASSWORD": "s3cret"})
    assert run_cmd.describe_source(wrds) == "WRDS Capital IQ as alice"
