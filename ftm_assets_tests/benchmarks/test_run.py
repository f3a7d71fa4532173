"""`make bench`'s bookkeeping (benchmarks/run.py), with the measurement replaced by a recorded-looking result:
a quiet run merges into latest.json and appends to RESULTS.md; a loaded one writes only the side file, says
so and exits 3; keys another script recorded survive."""

from __future__ import annotations

import json

import pytest

from benchmarks import load, run


def fake_measure(args, skip) -> dict:
    comparison = {
        "corpus": "demo (synthetic)", "firms": 2, "repeats": 3, "sentences": 500, "naive_firms_per_s": 0.2,
        "worker_firms_per_s": 0.5, "speedup_vs_naive": 2.5, "speedup_vs_naive_spread": [2.4, 2.7],
        "embed_sentences_per_s": 200.0, "bare_fp32_sentences_per_s": 100.0, "embed_speedup_vs_fp32": 2.0,
        "embed_speedup_vs_fp32_spread": [1.9, 2.1], "cosine_mean_vs_fp32": 0.9999, "cosine_min_vs_fp32": 0.999,
        "ari_vs_reference": 0.99, "ari_seed_floor": 1.0, "ari_seed_floor_umap": float("nan"),
    }  # fmt: skip
    return {
        "date": "2026-12-07T00:00:00+00:00", "notes": [], "versions": {"torch": "x"}, "comparisons": [comparison],
        "machine": {"cpu": "test CPU", "cores": 2, "torch_threads": 2, "gpu": "none", "load_avg_1m_at_start": 0.0},
        "worker": {"backend": "onnx", "precision": "fp32", "pipeline_depth": 1}, "embedders": [],
        "speedup_vs_naive": 2.5,
    }  # fmt: skip


@pytest.fixture
def bench_dir(tmp_path, monkeypatch):
    latest = tmp_path / "latest.json"
    latest.write_text(json.dumps({"validity_r2": 0.3, "speedup_vs_naive": 9.9, "quality_date": "2026-01-01"}))
    (tmp_path / "RESULTS.md").write_text("# Benchmark results\n")
    for name, value in (("LATEST", latest), ("RESULTS", tmp_path / "RESULTS.md"),
                        ("LOADED", tmp_path / "latest_loaded.json")):  # fmt: skip
        monkeypatch.setattr(run, name, value)
    monkeypatch.setattr(run, "measure", fake_measure)
    return tmp_path


REAL_SAMPLER = load.LoadSampler


def sampler_with(others: float, load_at_start: float = 0.1):
    return lambda: REAL_SAMPLER(
        interval_s=0.01, cores=2, read_load=lambda: load_at_start,
        read_times=iter_times(others),
    )  # fmt: skip


def iter_times(others: float):
    tick = [0]

    def read():
        tick[0] += 100
        return load.CpuTimes(busy=int(tick[0] * others / 2), total=tick[0], own=0)

    return read


def test_a_quiet_run_merges_into_latest_and_appends_its_section(bench_dir, monkeypatch, capsys):
    monkeypatch.setattr(run.load, "LoadSampler", sampler_with(others=0.2))
    assert run.main(["--skip", "rss,quality"]) == 0
    latest = json.loads((bench_dir / "latest.json").read_text())
    assert latest["validity_r2"] == 0.3  # another script's key survives
    assert latest["speedup_vs_naive"] == 2.5 and latest["loaded"] is False
    assert latest["load"]["samples"] and latest["targets"]["speedup_vs_naive_ge_2"] is True
    assert any("not measured in this run (quality, rss)" in n for n in latest["notes"])
    section = (bench_dir / "RESULTS.md").read_text()
    assert "**quiet machine**" in section and "**2.50x** [2.40-2.70]" in section
    assert not (bench_dir / "latest_loaded.json").exists()


def test_a_loaded_run_writes_only_the_side_file_and_says_so(bench_dir, monkeypatch, capsys):
    monkeypatch.setattr(run.load, "LoadSampler", sampler_with(others=1.5))
    assert run.main([]) == run.EXIT_LOADED
    assert json.loads((bench_dir / "latest.json").read_text())["speedup_vs_naive"] == 9.9  # untouched
    assert (bench_dir / "RESULTS.md").read_text() == "# Benchmark results\n"
    side = json.loads((bench_dir / "latest_loaded.json").read_text())
    assert side["loaded"] is True and side["load"]["max_others_busy_cores"] == pytest.approx(1.5)
    assert "BENCH RUN UNDER LOAD" in capsys.readouterr().err


def test_fewer_than_three_repeats_is_refused(bench_dir):
    with pytest.raises(SystemExit):
        run.main(["--repeats", "2"])


def test_a_second_quiet_run_says_how_far_it_is_from_the_first(bench_dir, monkeypatch):
    monkeypatch.setattr(run.load, "LoadSampler", sampler_with(others=0.2))
    assert run.main(["--skip", "rss,quality"]) == 0
    assert "previous_quiet_run" not in json.loads((bench_dir / "latest.json").read_text())  # the file's was unsampled
    assert run.main(["--skip", "rss,quality"]) == 0
    latest = json.loads((bench_dir / "latest.json").read_text())
    assert latest["previous_quiet_run"]["relative_change"] == 0.0
    assert "Against the previous quiet run" in (bench_dir / "RESULTS.md").read_text()
