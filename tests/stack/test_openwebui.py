"""The person's path: OpenWebUI in a real headless chromium, chatting through LiteLLM and
Stratum with the real llama-servers (`stratum up --with litellm,openwebui`).

OpenWebUI is about 7 GB installed, so this test runs only when asked:
`bash scripts/test-services.sh` (STRATUM_TEST_OPENWEBUI=1; the first run installs it)."""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from adaptive_router.bench.fake_engine import free_port
from tests.stack.conftest import RunningStack, shut_down, start_stack, wait_up
from tests.stack.test_status_page import browser  # noqa: F401 - the chromium fixture

pytestmark = [
    pytest.mark.engine,
    pytest.mark.services,
    pytest.mark.skipif(
        os.environ.get("STRATUM_TEST_OPENWEBUI") != "1",
        reason="OpenWebUI (7 GB) is tested by bash scripts/test-services.sh",
    ),
]


@pytest.fixture(scope="module")
def webui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, str]]:
    """The stack with LiteLLM and OpenWebUI on free ports; short answers on both tiers."""
    port = free_port()
    running = start_stack(
        tmp_path_factory.mktemp("openwebui"), "--with", "litellm,openwebui",
        "--services-litellm-port", str(free_port()), "--services-openwebui-port", str(port),
        "--tier-low-max-tokens", "24", "--tier-high-max-tokens", "24",
    )  # fmt: skip
    try:
        wait_up(running, 1800)  # the first run installs OpenWebUI
        yield running, f"http://127.0.0.1:{port}"
    finally:
        shut_down(running)


def decisions(stack: RunningStack, rule: str, tier: str) -> float:
    with urllib.request.urlopen(stack.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    series = f'stratum_decisions_total{{rule="{rule}",tier="{tier}"}} '
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(series))


def chat(page: Any, model: str, question: str) -> str:
    """Choose ``model``, send ``question``; the answer's text once it has streamed in."""
    page.locator("#model-selector-model-button").click()
    page.locator(f"[aria-label='Select {model} model']").click()
    assert page.locator("#model-selector-model-button").inner_text().strip() == model
    answers = page.locator(".chat-assistant").count()
    page.locator("#chat-input").click()
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    # done: a new answer with text below the model's name, and no Stop button any more
    page.wait_for_function(
        """([count, name]) => {
            const all = document.querySelectorAll('.chat-assistant');
            const text = all.length > count ? all[all.length - 1].innerText : '';
            return text.replace(name, '').trim().length > 0
                && !document.querySelector("button[aria-label='Stop']");
        }""",
        arg=[answers, model],
        timeout=120_000,
    )
    text: str = page.locator(".chat-assistant").last.inner_text()
    assert "Error" not in text, text  # OpenWebUI shows a failed chat as an error box
    return text


def test_a_chat_in_openwebui_is_answered_through_litellm_and_stratum(
    browser: Any,  # noqa: F811
    webui: tuple[RunningStack, str],
) -> None:
    stack, url = webui
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(url + "/")
    page.wait_for_selector("#chat-input", timeout=60_000)
    time.sleep(1)  # a fresh user gets the release notes once
    if page.get_by_text("Okay, Let's Go!").count():
        page.get_by_text("Okay, Let's Go!").click()
    high, lite = decisions(stack, "override", "tier_high"), decisions(stack, "override", "tier_low")

    chat(page, "gemma4-fast", "What is the capital of France?")
    time.sleep(5)  # OpenWebUI's background tasks (title, follow-ups) come after the answer
    # ... and go to gemma4-lite, the small tier, never to tier_high
    assert decisions(stack, "override", "tier_high") == high
    assert decisions(stack, "override", "tier_low") > lite

    chat(page, "gemma4-smart", "Prove that the square root of 2 is irrational.")
    assert decisions(stack, "override", "tier_high") == high + 1
    page.screenshot(path=str(stack.run_dir / "openwebui.png"))
    page.close()
