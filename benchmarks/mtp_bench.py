"""Speculative decoding on llama-server: decode speed with and without it, and acceptance.

Run it with the project's virtualenv; it starts llama-server (the embedded Gemma 3 270M) on
127.0.0.1:19510 once per mode and round, and stops it:

    .venv/bin/python benchmarks/mtp_bench.py                       # all modes, ~4-5 minutes
    .venv/bin/python benchmarks/mtp_bench.py --list-modes          # what this build supports
    .venv/bin/python benchmarks/mtp_bench.py --modes none,ngram-simple --rounds 3
    # servers you started yourself, e.g. vLLM without and with --speculative-config
    # (the first target is the baseline):
    .venv/bin/python benchmarks/mtp_bench.py --target base=http://gpu:8000/v1 \\
        --target ngram=http://gpu:8001/v1

Modes (``--modes``), each a llama-server started with:

- ``none``: no speculation (the baseline);
- ``ngram-simple``, ``ngram-map-k``, ``ngram-mod``, ``ngram-cache``: model-free drafting
  from n-grams already in the context (``--spec-type NAME``, llama.cpp's defaults);
- ``draft-same-model``: a draft model (``--spec-type draft-simple -md MODEL``), here the
  same 270M model as the target: the draft costs as much as the target, so this measures
  the machinery (draft + verify, near-100% greedy acceptance), never a real speed-up;
- ``draft-mtp``: multi-token-prediction heads (``--spec-type draft-mtp``): needs a model
  trained with them, so on Gemma 3 270M the server refuses to start, which is reported.

Every request goes alone (one slot, concurrency 1) to ``/v1/completions``, streamed, with
temperature 0, ``max_tokens`` = ``--max-tokens`` and ``ignore_eos``, so every mode decodes
the same number of tokens from the same prompts. Two kinds of prompt, three each:
``repeat`` (copy a code block, a JSON document, a paragraph: where n-gram lookup shines) and
``free`` (open-ended text). Rounds run the modes forwards, then backwards (ABBA), each with
a fresh server, so machine drift hits all modes alike and no server sees a prompt twice.

Measured per request: decode tokens/s on the client ((completion tokens - 1) / (end of stream
- first text)), the server's own decode rate (``timings.predicted_n / predicted_ms``), drafted
and accepted tokens (``timings.draft_n`` / ``draft_n_accepted``; for other engines the
``*spec_decode_num_draft_tokens_total`` / ``*accepted_tokens_total`` counters in /metrics)
and whether the text equals the baseline's (greedy speculation should not change it).
Output: Markdown tables (medians) on stdout, raw samples as JSON in ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from _common import check_port_free, terminate
from adaptive_router.stack.llama import (
    LlamaServer,
    LlamaServerSpec,
    default_model,
    llama_server_binary,
)

DEFAULT_OUT = Path(tempfile.gettempdir()) / "stratum-mtp-bench.json"
MODES: dict[str, tuple[str, ...]] = {  # "{model}" is replaced by the model's path
    "none": (),
    "ngram-simple": ("--spec-type", "ngram-simple"),
    "ngram-map-k": ("--spec-type", "ngram-map-k"),
    "ngram-mod": ("--spec-type", "ngram-mod"),
    "ngram-cache": ("--spec-type", "ngram-cache"),
    "draft-same-model": ("--spec-type", "draft-simple", "-md", "{model}"),
    "draft-mtp": ("--spec-type", "draft-mtp"),
}
CODE = '''def parse_config(path):
    """Read a configuration file and return a dictionary of settings."""
    settings = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings
'''
JSON_DOC = """{
  "name": "stratum",
  "tiers": {
    "tier_low": {"url": "http://127.0.0.1:8000/v1", "model": "gemma-4-e4b", "timeout_s": 30},
    "tier_high": {"url": "http://127.0.0.1:8080/v1", "model": "gemma-4-26b", "timeout_s": 120}
  },
  "routing": {"complexity_threshold": 0.65, "vram_headroom_gb": 1.5, "latency_sla_ms": 2000},
  "metrics": {"enabled": true, "port": 9100, "path": "/metrics"}
}
"""
PARAGRAPH = (
    "The router sits in front of two model servers and decides, for every request, which of "
    "them answers. Short and simple questions go to the small model, which is fast and can "
    "serve many users at once. Long, technical or multi-step questions go to the large model, "
    "unless it is overloaded or missing its latency target, in which case the small model "
    "answers and the decision is logged with its reason."
)
PROMPTS: dict[str, tuple[str, ...]] = {
    "repeat": (
        f"Original code:\n```python\n{CODE}```\n\nThe same code, copied exactly:\n```python\n"
        + CODE[:40],
        f"Configuration file:\n{JSON_DOC}\nThe same file, copied exactly:\n" + JSON_DOC[:30],
        f"Text: {PARAGRAPH}\n\nThe same text again, word for word: " + PARAGRAPH[:50],
    ),
    "free": (
        "Once upon a time, in a village at the edge of a great forest, there lived",
        "The history of the bicycle begins in the early nineteenth century, when",
        "Dear hiring manager,\n\nI am writing to apply for the position of",
    ),
}


@dataclass
class Sample:
    """One streamed request."""

    kind: str
    prompt: int
    round: int
    ttft_s: float = float("nan")
    decode_s: float = float("nan")  # first text -> end of stream
    completion_tokens: int | None = None
    server_tok_s: float | None = None
    draft_n: int | None = None
    draft_accepted: int | None = None
    text: str = ""

    @property
    def client_tok_s(self) -> float | None:
        n = self.completion_tokens
        return (n - 1) / self.decode_s if n and n > 1 and self.decode_s > 0 else None


@dataclass
class ModeResult:
    """All samples of one mode, or why it could not run."""

    name: str
    args: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=dict)  # /metrics deltas
    error: str | None = None


# -- client -------------------------------------------------------------------------------------


async def complete(
    session: aiohttp.ClientSession, url: str, model: str, prompt: str, max_tokens: int
) -> Sample:
    body = {
        "model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
        "stream": True, "ignore_eos": True, "stream_options": {"include_usage": True},
    }  # fmt: skip
    sample = Sample(kind="", prompt=-1, round=-1)
    began = time.perf_counter()
    first = float("nan")
    async with session.post(f"{url}/completions", json=body) as response:
        if response.status != 200:
            detail = (await response.text())[:500]
            raise RuntimeError(f"{url}/completions answered {response.status}: {detail}")
        async for line in response.content:
            if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
                continue
            event = orjson.loads(line[5:])
            if "error" in event:
                raise RuntimeError(f"stream error from {url}: {event['error']}")
            text = "".join(c.get("text") or "" for c in event.get("choices") or [])
            if text and first != first:
                first = time.perf_counter()
            sample.text += text
            fold_usage(sample, event)
    sample.ttft_s, sample.decode_s = first - began, time.perf_counter() - first
    return sample


def fold_usage(sample: Sample, event: dict[str, Any]) -> None:
    usage = event.get("usage") or {}
    if usage.get("completion_tokens") is not None:
        sample.completion_tokens = int(usage["completion_tokens"])
    timings = event.get("timings") or {}
    if timings.get("predicted_ms"):  # llama.cpp
        sample.server_tok_s = 1000 * timings["predicted_n"] / timings["predicted_ms"]
    if "draft_n" in timings:
        sample.draft_n = int(timings["draft_n"])
        sample.draft_accepted = int(timings.get("draft_n_accepted", 0))


async def spec_counters(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """Drafted/accepted token counters from /metrics (llama.cpp and vLLM names)."""
    try:
        async with session.get(f"{url.removesuffix('/v1')}/metrics") as response:
            text = await response.text() if response.status == 200 else ""
    except aiohttp.ClientError:
        return {}
    found: dict[str, float] = {}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        for key in ("num_draft_tokens_total", "num_accepted_tokens_total", "num_drafts_total"):
            if name.endswith(f"spec_decode_{key}") and not line.startswith("#"):
                found[key] = found.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return found


async def run_prompts(url: str, result: ModeResult, round_: int, opts: Options) -> None:
    timeout = aiohttp.ClientTimeout(total=opts.timeout_s)
    # one connection per request: llama-server may close a kept-alive one after a stream
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        model = opts.model or await first_model(session, url)
        await complete(session, url, model, "Warm-up: the quick brown fox", 8)  # not counted
        before = await spec_counters(session, url)
        for kind in opts.kinds:
            for i, prompt in enumerate(PROMPTS[kind]):
                sample = await complete(session, url, model, prompt, opts.max_tokens)
                sample.kind, sample.prompt, sample.round = kind, i, round_
                result.samples.append(sample)
        after = await spec_counters(session, url)
    for key in after.keys() & before.keys():
        result.counters[key] = result.counters.get(key, 0.0) + after[key] - before[key]


async def first_model(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(f"{url}/models") as response:
        data = (await response.json()).get("data") or [] if response.status == 200 else []
    if not data:
        raise RuntimeError(f"{url}/models lists no model; pass --model")
    return str(data[0]["id"])


# -- engines ------------------------------------------------------------------------------------


def supported_spec_types() -> set[str]:
    """The --spec-type values this llama-server build lists in --help."""
    result = subprocess.run(
        [str(llama_server_binary()), "--help"], capture_output=True, text=True, timeout=60
    )
    match = re.search(r"--spec-type\s+(\S+)", result.stdout + result.stderr)
    return set(match.group(1).split(",")) if match else set()


def mode_args(name: str, model: Path) -> list[str]:
    return [a.replace("{model}", str(model)) for a in MODES[name]]


def run_mode(result: ModeResult, round_: int, opts: Options, logs: Path) -> None:
    """Start llama-server for one mode, send every prompt once, stop it."""
    spec = LlamaServerSpec(
        model=default_model(), port=opts.port, parallel=1, ctx_size=4096,
        chat_template=None, extra_args=tuple(result.args),
    )  # fmt: skip
    check_port_free(opts.port)
    log = logs / f"llama-server-{result.name}-{round_}.log"
    server = LlamaServer(spec, log_path=log)
    try:
        server.start()
        server.wait_ready(120)
        asyncio.run(run_prompts(spec.base_url, result, round_, opts))
    except Exception as error:  # a mode that cannot run is a result, not a crash
        if server.exited() is None:
            raise
        errors = [ln for ln in log.read_text(errors="replace").splitlines() if " E " in ln]
        result.error = (errors[0].split(": ", 1)[-1] if errors else str(error))[:200]
    finally:
        server.stop()


# -- reporting ----------------------------------------------------------------------------------


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/r" if value is None else format(value, spec)


def table(results: list[ModeResult], kind: str) -> str:
    base = results[0]
    base_text = {(s.prompt, s.round): s.text for s in base.samples if s.kind == kind}
    base_rate = median([s.client_tok_s for s in base.samples if s.kind == kind])
    rows = [
        f"| mode | decode tok/s p50 (client) | server tok/s p50 | vs {base.name} "
        "| drafted/request | accepted | same text as baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            rows.append(f"| {r.name} | did not start: {r.error} | | | | | |")
            continue
        samples = [s for s in r.samples if s.kind == kind]
        rate = median([s.client_tok_s for s in samples])
        drafted = sum(s.draft_n or 0 for s in samples)
        accepted = sum(s.draft_accepted or 0 for s in samples)
        has_drafts = any(s.draft_n is not None for s in samples)
        same = sum(s.text == base_text.get((s.prompt, s.round)) for s in samples)
        delta = f"{rate / base_rate - 1:+.0%}" if rate and base_rate else "n/r"
        rows.append(
            f"| {r.name} | {fmt(rate)} | {fmt(median([s.server_tok_s for s in samples]))} "
            f"| {delta} | {fmt(drafted / len(samples) if has_drafts else None, '.0f')} "
            f"| {fmt(accepted / drafted if drafted else None, '.0%')} "
            f"| {same}/{len(samples)} |"
        )
    return "\n".join(rows)


# -- main ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What one run measures; built from the command line by :func:`parse_args`."""

    modes: tuple[str, ...]
    targets: tuple[tuple[str, str], ...]
    model: str | None
    kinds: tuple[str, ...]
    rounds: int
    max_tokens: int
    port: int
    timeout_s: float
    out: Path


def parse_args(argv: list[str] | None = None) -> tuple[Options, bool]:
    p = argparse.ArgumentParser(
        description="Decode tokens/s with and without speculative decoding on llama-server "
        "(started here) or on OpenAI-compatible servers you started, plus acceptance rates.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--modes", default=",".join(MODES), help="llama-server modes, first = base")
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="an OpenAI-compatible base URL (…/v1) instead of starting llama-server; "
        "repeat it, the first is the baseline",
    )
    p.add_argument("--model", help="model name to send; unset: the first of /v1/models")
    p.add_argument("--kinds", default="repeat,free", help="prompt kinds: repeat, free")
    p.add_argument("--rounds", type=int, default=2, help="passes over all modes (ABBA order)")
    p.add_argument("--max-tokens", type=int, default=128, help="tokens decoded per request")
    p.add_argument("--port", type=int, default=19510, help="port for the llama-server started")
    p.add_argument("--timeout-s", type=float, default=300.0, help="per-request time limit")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    p.add_argument("--list-modes", action="store_true", help="print the modes and exit")
    a = p.parse_args(argv)  # fmt: skip
    modes = tuple(m.strip() for m in a.modes.split(",") if m.strip())
    if unknown := [m for m in modes if m not in MODES]:
        p.error(f"unknown --modes {unknown}; choose from {', '.join(MODES)}")
    targets = tuple((name, url) for name, _, url in (t.partition("=") for t in a.target))
    if any(not name or not url.startswith("http") for name, url in targets):
        p.error("--target must be NAME=http://host:port/v1")
    kinds = tuple(k.strip() for k in a.kinds.split(","))
    if not kinds or any(k not in PROMPTS for k in kinds):
        p.error(f"--kinds must be of: {', '.join(PROMPTS)}")
    if not 1 <= a.rounds <= 20 or not 2 <= a.max_tokens <= 4096:
        p.error("--rounds must be in [1, 20] and --max-tokens in [2, 4096]")
    opts = Options(
        modes=modes, targets=targets, model=a.model, kinds=kinds,
        rounds=a.rounds, max_tokens=a.max_tokens, port=a.port, timeout_s=a.timeout_s,
        out=a.out,
    )  # fmt: skip
    return opts, a.list_modes


def list_modes() -> None:
    supported = supported_spec_types()
    print(f"--spec-type values in this llama-server's --help: {', '.join(sorted(supported))}")
    for name, args in MODES.items():
        spec_type = args[1] if args else "none"
        state = "listed" if not args or spec_type in supported else "NOT in this build"
        print(f"  {name:<18} {' '.join(args) or '(no speculation)':<48} {state}")


def run_local(opts: Options) -> list[ModeResult]:
    model = default_model()
    supported = supported_spec_types()
    results = {m: ModeResult(m, mode_args(m, model)) for m in opts.modes}
    with tempfile.TemporaryDirectory(prefix="stratum-mtp-") as logs:
        for round_ in range(opts.rounds):
            order = opts.modes if round_ % 2 == 0 else opts.modes[::-1]
            for name in order:
                result = results[name]
                spec_type = result.args[1] if result.args else "none"
                if result.args and spec_type not in supported:
                    result.error = f"--spec-type {spec_type} is not in this build"
                if result.error:
                    continue
                print(f"  round {round_ + 1}: {name} ({' '.join(result.args) or 'no spec'})",
                      flush=True)  # fmt: skip
                run_mode(result, round_, opts, Path(logs))
    return list(results.values())


def run_targets(opts: Options) -> list[ModeResult]:
    results = {name: ModeResult(name, [url]) for name, url in opts.targets}
    for round_ in range(opts.rounds):
        order = opts.targets if round_ % 2 == 0 else opts.targets[::-1]
        for name, url in order:
            asyncio.run(run_prompts(url.rstrip("/"), results[name], round_, opts))
    return list(results.values())


def main(argv: list[str] | None = None) -> None:
    opts, listing = parse_args(argv)
    if listing:
        list_modes()
        return
    signal.signal(signal.SIGTERM, terminate)  # so that `finally` stops the engine
    load_before = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, 1-min load average {load_before[0]:.2f}", flush=True)
    results = run_targets(opts) if opts.targets else run_local(opts)
    load_after = os.getloadavg()
    print(f"\n1-min load average {load_before[0]:.2f} -> {load_after[0]:.2f}; "
          f"{opts.max_tokens} tokens per request, temperature 0, medians over "
          f"{opts.rounds} rounds x 3 prompts")  # fmt: skip
    for kind in opts.kinds:
        print(f"\n#### {kind} prompts\n\n{table(results, kind)}")
    counters = {r.name: r.counters for r in results if r.counters}
    if counters:
        print(f"\n/metrics deltas (all kinds): {counters}")
    env = {
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "load_average_before_after": [load_before, load_after],
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
    }  # fmt: skip
    payload = {"environment": env, "results": [asdict(r) for r in results]}
    opts.out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    print(f"\nraw samples: {opts.out}")


if __name__ == "__main__":
    main()
