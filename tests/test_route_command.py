"""`stratum route` and routing v2: the threshold in force, --max-tokens and the context rule,
a prompt no tier can take."""

import json

from click.testing import CliRunner

from adaptive_router.cli import main

NO_GPU = {"STRATUM_VRAM_POLL_INTERVAL_MS": "0"}
LONG = "Tell me about cats please. " * 520  # about 14,000 characters, an easy prompt


def run(*args: str, stdin: str | None = None) -> object:
    return CliRunner().invoke(main, list(args), env=NO_GPU, input=stdin)


def test_json_shows_the_threshold_and_the_estimate() -> None:
    decision = json.loads(run("route", "--json", "hi").output)  # type: ignore[attr-defined]
    assert decision["threshold"] == 0.65
    assert decision["prompt_tokens"] > 0
    shown = run("route", "--complexity-threshold", "0.5", "hi").output  # type: ignore[attr-defined]
    assert "vs threshold 0.500" in shown


def test_max_tokens_and_context_windows() -> None:
    windows = ("--tier-low-context-tokens", "1024", "--tier-high-context-tokens", "32768")
    fits = run("route", "-q", *windows, "--max-tokens", "512", "thanks!")
    assert fits.output == "tier_low\n"  # type: ignore[attr-defined]
    long = run("route", *windows, "--max-tokens", "512", "-", stdin=LONG)
    assert long.output.splitlines()[0] == "tier_high"  # type: ignore[attr-defined]
    assert "rule:   context: about" in long.output  # type: ignore[attr-defined]
    asked_too_much = run("route", "-q", *windows, "--max-tokens", "2000", "thanks!")
    assert asked_too_much.output == "tier_high\n"  # type: ignore[attr-defined]


def test_a_prompt_no_tier_can_take_is_a_clear_error() -> None:
    small = ("--tier-low-context-tokens", "100", "--tier-high-context-tokens", "200")
    result = run("route", *small, "-", stdin=LONG)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert result.output.startswith("Error: context_length_exceeded: ")  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_bad_max_tokens_is_a_usage_error() -> None:
    result = run("route", "--max-tokens", "-5", "hi")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "--max-tokens" in result.output  # type: ignore[attr-defined]
