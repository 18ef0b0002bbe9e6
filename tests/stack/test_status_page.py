"""The status page in a real headless browser (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import openai
import pytest

from tests.stack.conftest import RunningStack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            raise AssertionError("chromium is missing: scripts/test.sh installs it")
        pytest.skip("needs chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


def test_page_shows_both_tiers_and_updates_after_a_request(
    browser: object, stack: RunningStack
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(stack.url + "/")
    page.wait_for_selector("[data-tier=tier_low]")
    assert page.locator("[data-tier=tier_high] h2").inner_text().startswith("tier_high")
    assert "ready" in page.locator("[data-tier=tier_low] .pill").inner_text()
    before = int(page.locator("[data-tier=tier_low] .answered").inner_text())
    with openai.OpenAI(base_url=stack.url + "/v1", api_key="unused", max_retries=0) as client:
        client.chat.completions.create(
            model="gemma4-lite", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    page.wait_for_function(
        f"Number(document.querySelector('[data-tier=tier_low] .answered').textContent) > {before}",
        timeout=10_000,
    )
    assert "override" in page.locator("#recent").inner_text()
    page.screenshot(path=str(stack.run_dir / "status-page.png"), full_page=True)
    page.close()
