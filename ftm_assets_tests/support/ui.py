"""The Dagster UI in headless Chromium: open a page, wait for its text, take the pictures the README shows.

Playwright drives Debian's ``chromium`` (``make ui-tools`` installs both; no browser is downloaded). Tests
save their screenshots under tmp_path; only ``make screenshots`` (``python -m
ftm_assets_tests.support.ui docs/screenshots``) writes the README's pictures, from a fresh ``dagster dev`` that
has run the backfill scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

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
MAX_README_PNG_BYTES = 300_000
README_PICTURE = "asset-graph.png"


class UiUnavailable(RuntimeError):
    """Playwright or Chromium is missing: the message says what installs it."""


def missing_ui_tools() -> str | None:
    """Why the UI cannot be driven here (what to install), or None when Playwright and Chromium are present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: run `make ui-tools`."
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run `make ui-tools` (installs Debian's chromium)."
    return None


@contextlib.contextmanager
def browser_page(base_url: str) -> Iterator:
    """A 1280x800 Chromium page with Dagster's first-visit dialog dismissed; the browser closes on exit."""
    reason = missing_ui_tools()
    if reason:
        raise UiUnavailable(reason)
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            _dismiss_welcome(page, base_url, sync_api.TimeoutError)
            yield page
        finally:
            browser.close()


def _dismiss_welcome(page, url: str, timeout_error: type[Exception]) -> None:
    """A fresh browser gets Dagster's one-off "Join the community" dialog; skip it as a person would."""
    page.goto(f"{url}/overview", wait_until="domcontentloaded", timeout=60_000)
    try:
        page.get_by_role("button", name="Skip").click(timeout=15_000)
    except timeout_error:
        pass  # no dialog on this version or browser profile


def open_page(page, url: str, wait_for_text: str, timeout_s: float = 60.0) -> str:
    """Go to ``url`` and return the page's text once ``wait_for_text`` is in it.

    The asset graph draws its nodes inside SVG, where Playwright's visibility checks do not apply, so this
    polls the page's text instead.
    """
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_load_state("networkidle", timeout=60_000)
    deadline = time.monotonic() + timeout_s
    text = page.inner_text("body")
    while wait_for_text not in text and time.monotonic() < deadline:
        time.sleep(1.0)
        text = page.inner_text("body")
    if wait_for_text not in text:
        raise AssertionError(f"{wait_for_text!r} never appeared on {url}: {text[:1500]}")
    return text


def shown(name: str, text: str) -> bool:
    """``name`` is on the page in full, or as the graph shortens long names: ``quarter_t…_summary``."""
    if name in text:
        return True
    for line in text.splitlines():
        head, sep, tail = line.strip().partition("…")
        if sep and head and tail and name.startswith(head) and name.endswith(tail):
            return True
    return False


def asset_graph_url(base_url: str) -> str:
    return f"{base_url}/assets/quarter_topic_summary?view=lineage&lineageScope=upstream&lineageDepth=4"


def asset_graph_screenshot(page, base_url: str, path: Path) -> str:
    """The lineage of quarter_topic_summary (every asset) as a PNG at ``path``; returns the page's text."""
    text = open_page(page, asset_graph_url(base_url), "raw_transcripts")
    missing = [name for name in ASSETS if not shown(name, text)]
    if missing:
        raise AssertionError(f"not on the asset graph page: {missing}\n{text}")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return text


def refresh_readme_pictures(out_dir: Path) -> Path:
    """Start ``dagster dev`` in a temporary folder, run the backfill scenario, save the README's picture."""
    from ftm_assets_tests.support.dagster_dev import run_scenario, running_dagster_dev

    with tempfile.TemporaryDirectory(prefix="ftm-screenshots-") as workdir:
        with running_dagster_dev(Path(workdir)) as server:
            print(f"dagster dev on {server.url}; running the backfill scenario (a few minutes) ...", flush=True)
            run_scenario(server)
            target = out_dir / README_PICTURE
            with browser_page(server.url) as page:
                asset_graph_screenshot(page, server.url, target)
    size = target.stat().st_size
    if size >= MAX_README_PNG_BYTES:
        raise SystemExit(f"{target} is {size} bytes, over the README's {MAX_README_PNG_BYTES}.")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh the README's screenshots of the Dagster UI.")
    parser.add_argument("out_dir", type=Path, help="where the pictures go, e.g. docs/screenshots")
    args = parser.parse_args(argv)
    try:
        target = refresh_readme_pictures(args.out_dir)
    except UiUnavailable as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
