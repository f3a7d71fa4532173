"""Issue 15's bar on real Earnings-22 calls through Dagster and the real worker: three quarters (the calls as
they are, 15% of components dropped, an exact copy), materialized in order, then themes and the panel.

A handful of calls keeps this within a few minutes; ``make bench-themes`` measures all 125 calls. The worker
embeds each distinct sentence once (support/cached_embedding_worker.py): the later quarters repeat the first's.
"""

import dagster as dg
import pytest

from ftm_assets.quarters import Quarter
from ftm_assets.readers import read_theme_exposure, read_themes
from ftm_assets.themes import quality
from ftm_assets_tests.support.cached_embedding_worker import CACHE_ENV, CACHED_EMBEDDING_WORKER_MODULE
from ftm_assets_tests.support.earnings22 import requires_earnings22
from ftm_assets_tests.support.pipeline import build_test_definitions, run_quarter
from ftm_assets_tests.support.theme_quarters import QUARTERS, write_three_quarters

pytestmark = [pytest.mark.slow, requires_earnings22]
N_CALLS = 16
THEMES = [dg.AssetKey("quarter_themes"), dg.AssetKey("theme_exposure")]


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    folder = write_three_quarters(tmp_path_factory.mktemp("calls"), limit=N_CALLS)
    env = {"FTM_STORAGE_ROOT": str(root), "FTM_TRANSCRIPT_SOURCE": "files", "FTM_TRANSCRIPTS_DIR": str(folder),
           "FTM_FIRST_QUARTER": QUARTERS[0], "FTM_LAST_QUARTER": QUARTERS[-1], "FTM_BATCH_COUNT": "1",
           "FTM_WORKER_MODULE": CACHED_EMBEDDING_WORKER_MODULE}
    defs, settings = build_test_definitions(env)
    job = defs.resolve_implicit_global_asset_job_def()
    with pytest.MonkeyPatch.context() as mp, dg.DagsterInstance.ephemeral() as instance:
        mp.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("sentence_vectors")))  # inherited by the workers
        for quarter in QUARTERS:
            run_quarter(defs, settings, quarter, instance)
            job.execute_in_process(instance=instance, partition_key=quarter, asset_selection=THEMES)
    return {"root": str(root), "themes": {q: read_themes(str(root), q) for q in QUARTERS},
            "panel": read_theme_exposure(str(root), f"{QUARTERS[0]}:{QUARTERS[-1]}")}


def test_themes_span_firms_and_shares_sum_to_at_most_one(panel):
    for themes in panel["themes"].values():
        assert (themes["n_firms"] >= 3).all()
    sums = panel["panel"].groupby(["firm_id", "quarter"])["share"].sum()
    assert sums.max() <= 1.0 + 1e-9
    assert panel["panel"]["gvkey"].notna().all() and panel["panel"]["permno"].notna().all()
    assert panel["panel"]["share_qa"].notna().any()  # component types of real calls reach the panel


def test_themes_are_informative_and_cover_the_firms(panel):
    p = panel["panel"]
    for quarter, themes in panel["themes"].items():
        assert len(themes) >= 15, quarter
        assert quality.largest_theme_share(themes) <= 0.15, quarter
        firms = sorted(p.loc[p["quarter"] == quarter, "firm_id"].unique())
        # per-sentence shares at the default threshold 0.6: the median firm has about a quarter of its
        # non-procedural sentences on themes (0.233 on 64 calls, RESULTS.md's threshold sweep), not issue 15's
        # whole-topic 0.6
        assert quality.coverage(p[p["quarter"] == quarter], firms).median() >= 0.1, quarter


def test_ids_are_stable_across_a_copy_and_a_perturbed_quarter(panel):
    p = panel["panel"]
    first, dropped, copy = (p[p["quarter"] == q] for q in QUARTERS)
    assert quality.exposure_cosines(first, copy).median() >= 0.99
    assert quality.exposure_cosines(first, dropped).median() >= 0.93
    assert (panel["themes"][QUARTERS[2]]["first_quarter"].map(Quarter.parse) <= Quarter.parse(QUARTERS[2])).all()
