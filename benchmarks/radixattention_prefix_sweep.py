"""Prefix-cache sweep: time to first token and cached tokens vs shared-prefix overlap.

Run it with the project's virtualenv; by default it starts its own llama-server (the
embedded Gemma 3 270M) on 127.0.0.1:19500, once per engine configuration, and stops it:

    .venv/bin/python benchmarks/radixattention_prefix_sweep.py              # about 5 minutes
    .venv/bin/python benchmarks/radixattention_prefix_sweep.py --configs swa-full  # 2 minutes
    .venv/bin/python benchmarks/radixattention_prefix_sweep.py --configs slots4 --skip-rag
    # any OpenAI-compatible server (SGLang, vLLM, llama.cpp) instead:
    .venv/bin/python benchmarks/radixattention_prefix_sweep.py --url http://gpu-box:30000/v1

Two experiments, each request sent alone (concurrency 1, temperature 0, ``--max-tokens`` new
tokens with ``ignore_eos``) to ``/v1/completions`` with ``stream: true``:

1. **Overlap sweep.** At each overlap level X% (``--levels``) the script sends one uncounted
   warm-up request and then ``--requests`` requests whose prompts (about ``--total-tokens``
   tokens, built from common one-token English words) share their first X% and differ
   after. Each level and round uses a shared prefix of its own, so a block starts cold.
2. **Prompt structure (RAG).** The same retrieval-augmented request built two ways: RIGHT
   (``examples/rag_prompting.py``'s ``build_rag_prompt``: fixed system prompt, then documents,
   then the query) and WRONG (documents, then system prompt, then query), over three
   traffic shapes: ``fresh-docs`` (new documents every request), ``same-docs`` (the same
   three documents, new questions) and ``rotating-docs`` (three document sets taking turns,
   like three interleaved conversations). Each cell: one uncounted warm-up request, then
   ``--rag-requests``; no document is shared between cells.

Cells run ``--rounds`` times, forwards then backwards (ABBA), so that drift in the machine's
load hits every cell alike; the tables give medians over all rounds. Measured per request:

- TTFT: from sending the request to receiving the first SSE event whose
  ``choices[0].text`` is non-empty (llmperf's definition; client side, loopback);
- cached prompt tokens as the engine reports them: ``usage.prompt_tokens_details.
  cached_tokens`` (vLLM with ``--enable-prompt-tokens-details``, SGLang with
  ``--enable-cache-report``, llama.cpp always) or llama.cpp's ``timings.cache_n``; "not
  reported" when the engine gives neither. Per level, the server's own counters
  (``llamacpp:prompt_tokens_cached_total``/``prompt_tokens_total``, vLLM's
  ``vllm:prefix_cache_hits_total``/``queries_total``) are read from ``/metrics`` when present.

Engine configurations (``--configs``; llama-server only): ``default`` (``-np 1``),
``swa-full`` (``-np 1 --swa-full``), ``slots4`` (``-np 4 --swa-full``, the slot is picked by
prompt similarity) and ``slots4-lru`` (the same with ``--slot-prompt-similarity 0``: least
recently used slot). Gemma 3 uses sliding-window attention (512-token window on 5 of every 6
layers); by default llama.cpp keeps only about the window's KV for those layers, so a prompt
can resume from a cached prefix only where the window before the divergence is still cached
or at a saved checkpoint: ``--swa-full`` keeps it all. The client opens one connection per
request (llama-server may close a kept-alive connection after a streamed answer).

Output: Markdown tables on stdout, raw samples as JSON in ``--out``. Everything listens on
127.0.0.1; every process started is stopped on exit, Ctrl-C included. On a small shared
machine read the numbers as medians with noise: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from _common import abba, environment
from _engine import Engine, add_deltas, check_port, connect
from _prefix_cells import Cell, Sample, cell_json, rag_table, sweep_table
from _prefix_prompts import SYSTEM_PROMPT, overlap_prompts, rag_requests, wrong_order_prompt
from adaptive_router.proxy.server import sigterm_as_interrupt
from adaptive_router.stack import LlamaServer, LlamaServerSpec, default_model, llama_server_binary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from rag_prompting import build_rag_prompt  # the example the docs point to

DEFAULT_OUT = Path(tempfile.gettempdir()) / "stratum-prefix-sweep.json"
TTFT_DEFINITION = (
    "TTFT = time from sending the request to the first SSE event with non-empty "
    "choices[0].text (llmperf's definition), client side, loopback"
)
# (parallel slots, extra llama-server arguments)
CONFIGS: dict[str, tuple[int, tuple[str, ...]]] = {
    "default": (1, ()),
    "swa-full": (1, ("--swa-full",)),
    "slots4": (4, ("--swa-full",)),
    "slots4-lru": (4, ("--swa-full", "--slot-prompt-similarity", "0")),
}
# /metrics counters of the prefix cache: llama.cpp counts processed (uncached) prompt tokens,
# vLLM queried (all) tokens
COUNTERS = {
    "llamacpp:prompt_tokens_cached_total": "cached",
    "llamacpp:prompt_tokens_total": "processed",
    "vllm:prefix_cache_hits_total": "cached",
    "vllm:prefix_cache_queries_total": "queried",
}


async def measure(engine: Engine, cell: Cell, prompts: Sequence[str], max_tokens: int) -> None:
    """One uncounted warm-up request (prompts[0]), then the rest, one at a time."""
    await engine.complete(prompts[0], max_tokens)
    before = await engine.counters(COUNTERS.get)
    for prompt in prompts[1:]:
        cell.samples.append(Sample.of(await engine.complete(prompt, max_tokens)))
    add_deltas(cell.counters, before, await engine.counters(COUNTERS.get))


# -- the two experiments ------------------------------------------------------------------------


async def sweep(engine: Engine, opts: Options) -> list[Cell]:
    cells = {f"{level}%": Cell(f"{level}%") for level in opts.levels}
    for r, name in abba(list(cells), opts.rounds):
        level = int(name[:-1])
        # a new shared prefix each round, so every block starts cold
        prompts = overlap_prompts(level, opts.total_tokens, opts.requests + 1, opts.seed + r)
        await measure(engine, cells[name], prompts, opts.max_tokens)
        print(f"  round {r + 1} overlap {name:>4}: TTFT p50 so far "
              f"{cells[name].ttft_ms():7.0f} ms", flush=True)  # fmt: skip
    return list(cells.values())


async def rag(engine: Engine, opts: Options) -> list[Cell]:
    builders = {"right": build_rag_prompt, "wrong": wrong_order_prompt}
    variants = ("fresh-docs", "same-docs", "rotating-docs")
    cells = {f"{v}/{o}": Cell(f"{v}/{o}") for v in variants for o in builders}
    for block, (r, name) in enumerate(abba(list(cells), opts.rounds)):
        variant, order = name.split("/")
        # no document is shared between blocks
        requests = rag_requests(variant, opts.rag_requests + 1, 1000 * (block + 1), opts.seed)
        prompts = [builders[order](SYSTEM_PROMPT, docs, query) for docs, query in requests]
        await measure(engine, cells[name], prompts, opts.max_tokens)
        print(f"  round {r + 1} {name:<20} TTFT p50 so far {cells[name].ttft_ms():7.0f} ms",
              flush=True)  # fmt: skip
    return list(cells.values())


# -- reporting ----------------------------------------------------------------------------------


# -- engines and main ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What one run measures; built from the command line by :func:`parse_args`."""

    url: str | None
    model: str | None
    configs: tuple[str, ...]
    levels: tuple[int, ...]
    requests: int
    rag_requests: int
    rounds: int
    total_tokens: int
    max_tokens: int
    skip_rag: bool
    port: int
    slot_ctx: int
    extra_server_args: tuple[str, ...]
    timeout_s: float
    seed: int
    out: Path


def engine_version() -> str:
    result = subprocess.run(
        [str(llama_server_binary()), "--version"], capture_output=True, text=True, timeout=30
    )
    return " ".join((result.stdout + result.stderr).split())[:200]


async def run_target(url: str, opts: Options) -> dict[str, Any]:
    async with connect(url, opts.model, opts.timeout_s) as engine:
        load_before = os.getloadavg()
        sweep_cells = await sweep(engine, opts)
        rag_cells = [] if opts.skip_rag else await rag(engine, opts)
        return {
            "model": engine.model,
            "load_average_before_after": [load_before, os.getloadavg()],
            "sweep": sweep_cells,
            "rag": rag_cells,
        }


def run_config(name: str, opts: Options, logs: Path) -> dict[str, Any]:
    parallel, args = CONFIGS[name]
    spec = LlamaServerSpec(
        model=default_model(), port=opts.port, parallel=parallel,
        ctx_size=parallel * opts.slot_ctx, chat_template=None,
        extra_args=(*args, *opts.extra_server_args),
    )  # fmt: skip
    check_port(opts.port)
    server = LlamaServer(spec, log_path=logs / f"llama-server-{name}.log")
    print(f"\n== {name}: {' '.join(spec.command(Path('llama-server'))[1:])}", flush=True)
    try:
        server.start()
        server.wait_ready(120)
        result = asyncio.run(run_target(spec.base_url, opts))
    finally:
        server.stop()
    result["server_command"] = spec.command(llama_server_binary())
    return result


def report(name: str, result: dict[str, Any]) -> None:
    before, after = result["load_average_before_after"]
    print(f"\n### {name} (model {result['model']}; 1-min load average {before[0]:.2f} -> "
          f"{after[0]:.2f} on {os.cpu_count()} CPUs)\n")  # fmt: skip
    print(sweep_table(result["sweep"]))
    if result["rag"]:
        print()
        print(rag_table(result["rag"]))


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        description="TTFT and cached prompt tokens vs shared-prefix overlap, and the RAG "
        "prompt-order rule, against llama-server (started here) or any OpenAI-compatible URL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--url", help="an OpenAI-compatible base URL (…/v1); no server is started")
    p.add_argument("--model", help="model name to send; unset: the first of /v1/models")
    p.add_argument(
        "--configs",
        default="default,swa-full",
        help=f"llama-server configurations to run, of: {', '.join(CONFIGS)}",
    )
    p.add_argument("--levels", default="0,25,50,75,90", help="shared-prefix overlaps in %%")
    p.add_argument(
        "--requests", type=int, default=6, help="measured requests per overlap level and round"
    )
    p.add_argument(
        "--rag-requests", type=int, default=4, help="measured requests per RAG cell and round"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="passes over all cells, alternating their order (ABBA)",
    )
    p.add_argument("--total-tokens", type=int, default=600, help="prompt length (words≈tokens)")
    p.add_argument("--max-tokens", type=int, default=4, help="tokens generated per request")
    p.add_argument("--skip-rag", action="store_true", help="run the overlap sweep only")
    p.add_argument("--port", type=int, default=19500, help="port for the llama-server started")
    p.add_argument("--slot-ctx", type=int, default=2048, help="context per llama-server slot")
    p.add_argument("--extra-server-args", default="", help="more llama-server arguments")
    p.add_argument("--timeout-s", type=float, default=120.0, help="per-request time limit")
    p.add_argument("--seed", type=int, default=7, help="seed of the generated prompts")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    a = p.parse_args(argv)  # fmt: skip
    configs = tuple(c.strip() for c in a.configs.split(",") if c.strip())
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown --configs {unknown}; choose from {', '.join(CONFIGS)}")
    levels = tuple(int(x) for x in a.levels.split(","))
    if any(not 0 <= x < 100 for x in levels) or not levels:
        p.error("--levels must be percentages in [0, 100)")
    if not all(1 <= n <= 1000 for n in (a.requests, a.rag_requests, a.rounds)):
        p.error("--requests, --rag-requests and --rounds must be in [1, 1000]")
    if a.total_tokens < 20 or (not a.url and a.total_tokens > a.slot_ctx - a.max_tokens - 8):
        p.error("--total-tokens must be at least 20 and fit in --slot-ctx")
    return Options(
        url=a.url, model=a.model, configs=configs, levels=levels, requests=a.requests,
        rag_requests=a.rag_requests, rounds=a.rounds, total_tokens=a.total_tokens,
        max_tokens=a.max_tokens, skip_rag=a.skip_rag, port=a.port, slot_ctx=a.slot_ctx,
        extra_server_args=tuple(a.extra_server_args.split()), timeout_s=a.timeout_s,
        seed=a.seed, out=a.out,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    print(f"{TTFT_DEFINITION}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    env = environment(opts)
    env.update(ttft_definition=TTFT_DEFINITION, note="n/r = not reported by the engine")
    results: dict[str, Any] = {"environment": env, "runs": {}}
    try:
        with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C: `finally` stops the engine
            results["runs"] = run_all(opts, env)
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None
    for name, result in results["runs"].items():
        report(name, result)
    opts.out.write_bytes(orjson.dumps(results, default=cell_json, option=orjson.OPT_INDENT_2))
    print(f"\nraw samples: {opts.out}")


def run_all(opts: Options, env: dict[str, Any]) -> dict[str, Any]:
    if opts.url:
        return {"external": asyncio.run(run_target(opts.url, opts))}
    env["engine"] = engine_version()
    with tempfile.TemporaryDirectory(prefix="stratum-sweep-") as logs:
        return {name: run_config(name, opts, Path(logs)) for name in opts.configs}


if __name__ == "__main__":
    main()
