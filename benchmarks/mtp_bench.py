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
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from _common import abba, environment, fmt, median
from _engine import EngineStream, add_deltas, check_port, connect
from adaptive_router.proxy.server import sigterm_as_interrupt
from adaptive_router.stack import LlamaServer, LlamaServerSpec, default_model, llama_server_binary

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

    @classmethod
    def of(cls, stream: EngineStream, kind: str, prompt: int, round_: int) -> Sample:
        timings = stream.timings
        sample = cls(kind, prompt, round_, completion_tokens=stream.completion_tokens)
        sample.ttft_s = stream.ttft_s or float("nan")
        sample.decode_s, sample.text = stream.e2e_s - sample.ttft_s, stream.text
        if timings.get("predicted_ms"):  # llama.cpp
            sample.server_tok_s = 1000 * timings["predicted_n"] / timings["predicted_ms"]
        if "draft_n" in timings:
            sample.draft_n = int(timings["draft_n"])
            sample.draft_accepted = int(timings.get("draft_n_accepted", 0))
        return sample

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


def spec_counter(name: str) -> str | None:
    """Drafted/accepted token counters in /metrics (llama.cpp and vLLM names)."""
    for key in ("num_draft_tokens_total", "num_accepted_tokens_total", "num_drafts_total"):
        if name.endswith(f"spec_decode_{key}"):
            return key
    return None


async def run_prompts(url: str, result: ModeResult, round_: int, opts: Options) -> None:
    async with connect(url, opts.model, opts.timeout_s) as engine:
        await engine.complete("Warm-up: the quick brown fox", 8)  # not counted
        before = await engine.counters(spec_counter)
        for kind in opts.kinds:
            for i, prompt in enumerate(PROMPTS[kind]):
                stream = await engine.complete(prompt, opts.max_tokens)
                result.samples.append(Sample.of(stream, kind, i, round_))
        add_deltas(result.counters, before, await engine.counters(spec_counter))


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
    check_port(opts.port)
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
        server = median(s.server_tok_s for s in samples)
        rows.append(
            f"| {r.name} | {fmt(rate, '.1f')} | {fmt(server, '.1f')} "
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
        for round_, name in abba(opts.modes, opts.rounds):
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
    for round_, (name, url) in abba(opts.targets, opts.rounds):
        asyncio.run(run_prompts(url.rstrip("/"), results[name], round_, opts))
    return list(results.values())


def main(argv: list[str] | None = None) -> None:
    opts, listing = parse_args(argv)
    if listing:
        list_modes()
        return
    load_before = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, 1-min load average {load_before[0]:.2f}", flush=True)
    try:
        with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C: `finally` stops the engine
            results = run_targets(opts) if opts.targets else run_local(opts)
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None
    load_after = os.getloadavg()
    print(f"\n1-min load average {load_before[0]:.2f} -> {load_after[0]:.2f}; "
          f"{opts.max_tokens} tokens per request, temperature 0, medians over "
          f"{opts.rounds} rounds x 3 prompts")  # fmt: skip
    for kind in opts.kinds:
        print(f"\n#### {kind} prompts\n\n{table(results, kind)}")
    counters = {r.name: r.counters for r in results if r.counters}
    if counters:
        print(f"\n/metrics deltas (all kinds): {counters}")
    env = {**environment(opts), "load_average_before_after": [load_before, load_after]}
    payload = {"environment": env, "results": [asdict(r) for r in results]}
    opts.out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    print(f"\nraw samples: {opts.out}")


if __name__ == "__main__":
    main()
