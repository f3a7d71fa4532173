"""The Dagster UI of the backfilled instance in headless Chromium: asset graph and firm_topics partitions.

Playwright drives Debian's ``chromium`` (``make ui-tools`` installs both; no browser is downloaded). The
screenshots go to the test's tmp folder; the asset graph is also copied to docs/screenshots/ for the README.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from ftm_assets_tests.support.dagster_dev import (
    BATCH_COUNT,
    QUARTERS,
    REPO,
    Scenario,
    backfilled_instance,  # noqa: F401  (the shared fixture)
)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: run `make ui-tools`")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # the first test also waits for the scenario

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ASSETS = ["raw_transcripts", "firm_manifest", "firm_topics", "firm_topic_failures", "quarter_topic_summary"]
README_SCREENSHOT = REPO / "docs" / "screenshots" / "asset-graph.png"
MAX_README_PNG_BYTES = 300_000


@pytest.fixture(scope="module")
def page(backfilled_instance: Scenario):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make ui-tools` (installs Debian's chromium).")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            _dismiss_welcome(page, backfilled_instance.server.url)
            yield page
        finally:
            browser.close()


def _dismiss_welcome(page, url: str) -> None:
    """A fresh browser gets Dagster's one-off "Join the community" dialog; skip it as a person would."""
    page.goto(f"{url}/overview", wait_until="domcontentloaded", timeout=60_000)
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.click(timeout=15_000)
    except sync_api.TimeoutError:
        pass  # no dialog on this version or browser profile


def _open(page, url: str, wait_for_text: str, timeout_s: float = 60.0) -> str:
    """Go to ``url`` and return the page's text once ``wait_for_text`` is in it.

    The asset graph draws its nodes inside SVG, where Playwright's visibility checks do not apply, so
    this polls the page's text instead.
    """
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_load_state("networkidle", timeout=60_000)
    deadline = time.monotonic() + timeout_s
    text = page.inner_text("body")
    while wait_for_text not in text and time.monotonic() < deadline:
        time.sleep(1.0)
        text = page.inner_text("body")
    assert wait_for_text in text, f"{wait_for_text!r} never appeared on {url}: {text[:1500]}"
    return text


def _shown(name: str, text: str) -> bool:
    """``name`` is on the page in full, or as the graph shortens long names: ``quarter_t…_summary``."""
    if name in text:
        return True
    for line in text.splitlines():
        head, sep, tail = line.strip().partition("…")
        if sep and head and tail and name.startswith(head) and name.endswith(tail):
            return True
    return False


def test_asset_graph_shows_every_asset(backfilled_instance: Scenario, page, tmp_path):
    url = (f"{backfilled_instance.server.url}/assets/quarter_topic_summary"
           "?view=lineage&lineageScope=upstream&lineageDepth=4")
    text = _open(page, url, "raw_transcripts")
    missing = [name for name in ASSETS if not _shown(name, text)]
    assert not missing, f"not on the asset graph page: {missing}\n{text}"
    shot = tmp_path / "asset-graph.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size < MAX_README_PNG_BYTES, f"{shot} is {shot.stat().st_size} bytes"
    README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, README_SCREENSHOT)


def test_firm_topics_partitions_page_shows_every_partition_materialized(backfilled_instance: Scenario, page, tmp_path):
    url = f"{backfilled_instance.server.url}/assets/firm_topics?view=partitions"
    text = _open(page, url, "Materialized (")
    page.screenshot(path=str(tmp_path / "firm-topics-partitions.png"), full_page=True)
    n = len(QUARTERS) * BATCH_COUNT
    for status in (f"Materialized ({n})", "Failed (0)", "Missing (0)"):
        assert status in text, (status, text[:1500])
    assert all(key in text for key in [*QUARTERS, "000", "001"]), text[:1500]


def test_the_quarter_summary_shows_its_picture(backfilled_instance: Scenario, page, tmp_path):
    url = f"{backfilled_instance.server.url}/assets/quarter_topic_summary?view=partitions&partition={QUARTERS[-1]}"
    _open(page, url, "[Show Markdown]")
    page.get_by_text("[Show Markdown]").last.click(timeout=60_000)  # the `picture` entry, last in the table
    picture = page.locator('img[src^="data:image/svg+xml;base64,"]').first
    picture.wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "quarter-summary.png"))
    assert picture.evaluate("img => img.naturalWidth") == 720  # the SVG decoded and drew
