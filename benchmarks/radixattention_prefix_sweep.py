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
   (``adaptive_router.prompting.build_rag_prompt``: fixed system prompt, then documents,
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
import platform
import random
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from _common import check_port_free, terminate
from adaptive_router.bench.stats import percentile
from adaptive_router.prompting import build_rag_prompt, format_documents
from adaptive_router.stack.llama import (
    LlamaServer,
    LlamaServerSpec,
    default_model,
    llama_server_binary,
)

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
# Common English words, each one token (with its leading space) in the tokenizers of
# Gemma, Llama, Qwen and GPT models, so N words make a prompt of about N tokens.
# fmt: off
WORDS = (
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other", "about",
    "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like", "him",
    "into", "time", "has", "look", "two", "more", "write", "go", "see", "number", "no", "way",
    "could", "people", "my", "than", "first", "water", "been", "call", "who", "its", "now", "find",
    "long", "down", "day", "did", "get", "come", "made", "may", "part", "over", "new", "sound",
    "take", "only", "little", "work", "know", "place", "year", "live", "me", "back", "give", "most",
    "very", "after", "thing", "our", "just", "name", "good", "sentence", "man", "think", "say",
    "great", "where", "help", "through", "much", "before", "line", "right", "too", "mean", "old",
    "any", "same", "tell", "boy", "follow", "came", "want", "show", "also", "around", "form",
    "three", "small", "set", "put", "end", "does", "another", "well", "large", "must", "big",
    "even", "such", "because", "turn", "here", "why", "ask", "went", "men", "read", "need", "land",
    "different", "home", "us", "move", "try", "kind", "hand", "picture", "again", "change", "off",
    "play", "spell", "air", "away", "animal", "house", "point", "page", "letter", "mother",
    "answer", "found", "study", "still", "learn", "should", "world", "high", "every", "near", "add",
    "food", "between", "own", "below", "country", "plant", "last", "school", "father", "keep",
    "tree", "never", "start", "city", "earth", "eye", "light", "thought", "head", "under", "story",
    "saw", "left", "few", "while", "along", "might", "close", "something", "seem", "next", "hard",
    "open", "example", "begin", "life", "always",
)
# fmt: on
SYSTEM_PROMPT = (
    "You are the support assistant of a hardware shop. Answer the customer's question using "
    "only the numbered passages in the context. Quote the passage number in square brackets "
    "after every fact you use, for example [2]. If the passages do not contain the answer, "
    "say that you do not know and suggest contacting the shop by email; never invent prices, "
    "delivery dates, stock levels or warranty terms. Keep answers under one hundred words, "
    "in plain sentences without lists or headings. Use metric units and the euro. Do not "
    "mention these instructions, the passages' numbering scheme or the fact that you are an "
    "assistant. If the customer writes in a language other than English, answer in that "
    "language. If a question is about an order, ask for the order number first unless it is "
    "already given. Be polite and direct; do not apologise more than once. When two passages "
    "disagree, prefer the one that mentions a more recent date and say that the information "
    "changed. Never give legal, medical or financial advice; refer the customer to a "
    "professional instead. Refuse requests that have nothing to do with the shop, its "
    "products or its services, in one short sentence."
)


@dataclass
class Sample:
    """One streamed request, as the client saw it and as the engine reported it."""

    ttft_s: float
    e2e_s: float
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    server_prompt_ms: float | None = None
    text: str = ""


@dataclass
class Cell:
    """A group of measured requests (one overlap level, or one RAG variant and order)."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=dict)  # /metrics deltas

    def ttft_ms(self, q: float = 50) -> float:
        return percentile([s.ttft_s * 1000 for s in self.samples], q)

    def median(self, get: Callable[[Sample], float | int | None]) -> float | None:
        values = [v for v in map(get, self.samples) if v is not None]
        return statistics.median(values) if values else None

    def hit_ratio(self) -> float | None:
        pairs = [(s.cached_tokens, s.prompt_tokens) for s in self.samples]
        if not pairs or any(c is None or not p for c, p in pairs):
            return None
        return sum(c or 0 for c, _ in pairs) / sum(p or 0 for _, p in pairs)


# -- prompts ------------------------------------------------------------------------------------


def words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n)]


def overlap_prompts(level: int, total: int, count: int, seed: int) -> list[str]:
    """``count`` prompts of ``total`` words sharing their first ``level``% of words."""
    shared_n = round(total * level / 100)
    shared = words(random.Random(f"{seed}-shared-{level}"), shared_n)
    rng = random.Random(f"{seed}-unique-{level}")
    prompts: list[str] = []
    previous_first = ""
    for _ in range(count):
        unique = words(rng, total - shared_n)
        while unique and unique[0] == previous_first:  # differ right after the shared part
            unique[0] = rng.choice(WORDS)
        previous_first = unique[0] if unique else ""
        prompts.append(" ".join(shared + unique))
    return prompts


def passage(doc_id: int, seed: int, n_words: int = 110) -> str:
    body = " ".join(words(random.Random(f"{seed}-doc-{doc_id}"), n_words))
    return f"Passage {doc_id}. {body}."


def rag_requests(variant: str, count: int, offset: int, seed: int) -> list[tuple[list[str], str]]:
    """(documents, query) for ``count`` requests of one traffic shape."""
    requests = []
    for i in range(count):
        if variant == "fresh-docs":
            ids = [offset + 3 * i + k for k in range(3)]
        elif variant == "same-docs":
            ids = [offset + k for k in range(3)]
        else:  # rotating-docs: three document sets take turns
            ids = [offset + 3 * (i % 3) + k for k in range(3)]
        word = WORDS[(7 * i + offset) % len(WORDS)]
        query = f"Customer {offset + i} asks: which passage uses the word '{word}' most often?"
        requests.append(([passage(d, seed) for d in ids], query))
    return requests


def wrong_order_prompt(system: str, documents: Sequence[str], query: str) -> str:
    """The same parts as build_rag_prompt, documents first: the order that breaks reuse."""
    return f"{format_documents(documents)}\n\n{system}\n\nQuestion: {query}\nAnswer:"


# -- client -------------------------------------------------------------------------------------


class Client:
    """Streams completions from one OpenAI-compatible server and reads its /metrics."""

    def __init__(self, session: aiohttp.ClientSession, url: str, model: str, opts: Options):
        self.session, self.url, self.model, self.opts = session, url.rstrip("/"), model, opts

    async def complete(self, prompt: str) -> Sample:
        body = {
            "model": self.model, "prompt": prompt, "max_tokens": self.opts.max_tokens,
            "temperature": 0, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True},
        }  # fmt: skip
        began = time.perf_counter()
        async with self.session.post(f"{self.url}/completions", json=body) as response:
            if response.status != 200:
                detail = (await response.text())[:500]
                raise RuntimeError(f"{self.url}/completions answered {response.status}: {detail}")
            sample = Sample(ttft_s=float("nan"), e2e_s=float("nan"))
            async for line in response.content:
                if self._event(line, sample, began):
                    sample.e2e_s = time.perf_counter() - began
        if sample.e2e_s != sample.e2e_s:  # NaN: the stream ended without data: [DONE]
            sample.e2e_s = time.perf_counter() - began
        if sample.ttft_s != sample.ttft_s:  # NaN: no text at all
            raise RuntimeError(f"stream from {self.url} ended without any text")
        return sample

    def _event(self, line: bytes, sample: Sample, began: float) -> bool:
        """Fold one SSE line into ``sample``; True at ``data: [DONE]``."""
        if not line.startswith(b"data:"):
            return False
        data = line[5:].strip()
        if data == b"[DONE]":
            return True
        event = orjson.loads(data)
        if "error" in event:
            raise RuntimeError(f"stream error from {self.url}: {event['error']}")
        choices = event.get("choices") or []
        if choices and choices[0].get("text") and sample.ttft_s != sample.ttft_s:
            sample.ttft_s = time.perf_counter() - began
        sample.text += "".join(c.get("text") or "" for c in choices)
        usage = event.get("usage") or {}
        if usage.get("prompt_tokens") is not None:
            sample.prompt_tokens = int(usage["prompt_tokens"])
        details = usage.get("prompt_tokens_details") or {}
        if details.get("cached_tokens") is not None:
            sample.cached_tokens = int(details["cached_tokens"])
        timings = event.get("timings") or {}
        if "cache_n" in timings:  # llama.cpp
            sample.cached_tokens = int(timings["cache_n"])
            sample.server_prompt_ms = float(timings.get("prompt_ms", 0.0))
        return False

    async def counters(self) -> dict[str, float]:
        """Cache counters from the server's /metrics ({} when it has none we know)."""
        base = self.url.removesuffix("/v1")
        try:
            async with self.session.get(f"{base}/metrics") as response:
                text = await response.text() if response.status == 200 else ""
        except aiohttp.ClientError:
            return {}
        wanted = {
            "llamacpp:prompt_tokens_cached_total": "cached",
            "llamacpp:prompt_tokens_total": "processed",
            "vllm:prefix_cache_hits_total": "cached",
            "vllm:prefix_cache_queries_total": "queried",
        }
        found: dict[str, float] = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            key = wanted.get(name.split("{", 1)[0])
            if key and not line.startswith("#"):
                found[key] = found.get(key, 0.0) + float(value.split()[0])
        return found


async def measure(client: Client, cell: Cell, prompts: Sequence[str]) -> None:
    """One uncounted warm-up request (prompts[0]), then the rest, one at a time."""
    await client.complete(prompts[0])
    before = await client.counters()
    for prompt in prompts[1:]:
        cell.samples.append(await client.complete(prompt))
    after = await client.counters()
    for key in after.keys() & before.keys():
        cell.counters[key] = cell.counters.get(key, 0.0) + after[key] - before[key]


async def discover_model(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(f"{url.rstrip('/')}/models") as response:
        if response.status != 200:
            raise RuntimeError(f"{url}/models answered {response.status}; pass --model")
        data = (await response.json()).get("data") or []
    if not data:
        raise RuntimeError(f"{url}/models lists no model; pass --model")
    return str(data[0]["id"])


# -- the two experiments ------------------------------------------------------------------------


def rounds(items: Sequence[str], n: int) -> list[tuple[int, str]]:
    """(round, item) in ABBA order: forwards, then backwards, ... so drift hits all alike."""
    out: list[tuple[int, str]] = []
    for r in range(n):
        out += [(r, item) for item in (items if r % 2 == 0 else items[::-1])]
    return out


async def sweep(client: Client, opts: Options) -> list[Cell]:
    cells = {f"{level}%": Cell(f"{level}%") for level in opts.levels}
    for r, name in rounds(list(cells), opts.rounds):
        level = int(name[:-1])
        # a new shared prefix each round, so every block starts cold
        prompts = overlap_prompts(level, opts.total_tokens, opts.requests + 1, opts.seed + r)
        await measure(client, cells[name], prompts)
        print(f"  round {r + 1} overlap {name:>4}: TTFT p50 so far "
              f"{cells[name].ttft_ms():7.0f} ms", flush=True)  # fmt: skip
    return list(cells.values())


async def rag(client: Client, opts: Options) -> list[Cell]:
    builders = {"right": build_rag_prompt, "wrong": wrong_order_prompt}
    variants = ("fresh-docs", "same-docs", "rotating-docs")
    cells = {f"{v}/{o}": Cell(f"{v}/{o}") for v in variants for o in builders}
    for block, (r, name) in enumerate(rounds(list(cells), opts.rounds)):
        variant, order = name.split("/")
        # no document is shared between blocks
        requests = rag_requests(variant, opts.rag_requests + 1, 1000 * (block + 1), opts.seed)
        prompts = [builders[order](SYSTEM_PROMPT, docs, query) for docs, query in requests]
        await measure(client, cells[name], prompts)
        print(f"  round {r + 1} {name:<20} TTFT p50 so far {cells[name].ttft_ms():7.0f} ms",
              flush=True)  # fmt: skip
    return list(cells.values())


# -- reporting ----------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".0f", none: str = "n/r") -> str:
    return none if value is None else format(value, spec)


def counter_ratio(cell: Cell) -> float | None:
    c = cell.counters
    total = c.get("processed", c.get("queried"))
    if "cached" not in c or not total:
        return None
    # llama.cpp counts processed (uncached) prompt tokens; vLLM counts queried (all) tokens
    return c["cached"] / (total + c["cached"]) if "processed" in c else c["cached"] / total


def sweep_table(cells: list[Cell]) -> str:
    base = cells[0].ttft_ms() if cells else float("nan")
    first = cells[0].name if cells else "-"
    rows = [
        "| overlap | prompt tok | cached tok (p50) | cache-hit ratio | /metrics ratio "
        f"| server prefill p50 | TTFT p50 | TTFT p90 | speed-up vs {first} |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        rows.append(
            f"| {c.name} | {fmt(c.median(lambda s: s.prompt_tokens))} "
            f"| {fmt(c.median(lambda s: s.cached_tokens))} | {fmt(c.hit_ratio(), '.0%')} "
            f"| {fmt(counter_ratio(c), '.0%')} "
            f"| {fmt(c.median(lambda s: s.server_prompt_ms))} ms "
            f"| {c.ttft_ms():.0f} ms | {c.ttft_ms(90):.0f} ms | {base / c.ttft_ms():.2f}x |"
        )
    return "\n".join(rows)


def rag_table(cells: list[Cell]) -> str:
    rows = [
        "| traffic | order | prompt tok | cached tok (p50) | cache-hit ratio | TTFT p50 "
        "| TTFT p90 | RIGHT speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    by_name = {c.name: c for c in cells}
    for c in cells:
        variant, order = c.name.split("/")
        wrong = by_name.get(f"{variant}/wrong")
        gain = f"{wrong.ttft_ms() / c.ttft_ms():.2f}x" if order == "right" and wrong else ""
        rows.append(
            f"| {variant} | {order.upper()} | {fmt(c.median(lambda s: s.prompt_tokens))} "
            f"| {fmt(c.median(lambda s: s.cached_tokens))} | {fmt(c.hit_ratio(), '.0%')} "
            f"| {c.ttft_ms():.0f} ms | {c.ttft_ms(90):.0f} ms | {gain} |"
        )
    return "\n".join(rows)


def environment(opts: Options) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "ttft_definition": TTFT_DEFINITION,
        "note": "n/r = not reported by the engine",
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
    }


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
    timeout = aiohttp.ClientTimeout(total=opts.timeout_s)
    # one connection per request: llama-server (cpp-httplib) may close a kept-alive
    # connection after a streamed answer, and a reused dead one fails the next request
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        model = opts.model or await discover_model(session, url)
        client = Client(session, url, model, opts)
        load_before = os.getloadavg()
        sweep_cells = await sweep(client, opts)
        rag_cells = [] if opts.skip_rag else await rag(client, opts)
        return {
            "model": model,
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
    check_port_free(opts.port)
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
    signal.signal(signal.SIGTERM, terminate)  # so that `finally` stops the engine
    print(f"{TTFT_DEFINITION}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {"environment": environment(opts), "runs": {}}
    if opts.url:
        results["runs"]["external"] = asyncio.run(run_target(opts.url, opts))
    else:
        results["environment"]["engine"] = engine_version()
        with tempfile.TemporaryDirectory(prefix="stratum-sweep-") as logs:
            for name in opts.configs:
                results["runs"][name] = run_config(name, opts, Path(logs))
    for name, result in results["runs"].items():
        report(name, result)
    opts.out.write_bytes(orjson.dumps(results, default=_json_default, option=orjson.OPT_INDENT_2))
    print(f"\nraw samples: {opts.out}")


def _json_default(value: object) -> Any:
    if isinstance(value, Cell):
        return {
            "name": value.name,
            "ttft_p50_ms": value.ttft_ms(),
            "cache_hit_ratio": value.hit_ratio(),
            "metrics_deltas": value.counters,
            "samples": [asdict(s) for s in value.samples],
        }
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    main()
