"""The VRAM tables of docs/VRAM-REALITY-CHECK.md and docs/HARDWARE-RECOMMENDATIONS.md, made
by running ``stratum fit`` on the model configs in deploy/models/ (no number is typed in).

    python benchmarks/fit_tables.py            # both documents' tables, as Markdown
    python benchmarks/fit_tables.py seed       # only the seed's table, regenerated

Each row is one ``stratum fit ... --json`` run through the command itself (click's test
runner, in-process); the command is printed under each table so a reader can rerun it.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from click.testing import CliRunner  # noqa: E402

from adaptive_router.fit.cli import fit_command  # noqa: E402

GiB = 1024**3
B26 = "deploy/models/gemma-4-26B-A4B-it.json"
E4B = "deploy/models/gemma-4-E4B-it.json"
VLLM_8K = "--engine vllm --ctx 8192 --kv-dtype bf16"
FP8 = "--quant fp8 --engine vllm --ctx 8192 --kv-dtype fp8"  # an FP8 checkpoint, FP8 cache
LLAMA_8K = "--engine llama.cpp --ctx 8192 --parallel 1"


@dataclass(frozen=True)
class Row:
    model: str
    quant: str
    args: str  # stratum fit arguments after the model path

    def command(self, gpu_gb: float) -> str:
        return f"stratum fit {self.args} --gpu-gb {gpu_gb:g}"


SEED_ROWS = [
    Row("Gemma 4 26B-A4B", "BF16", f"{B26} {VLLM_8K}"),
    Row("Gemma 4 26B-A4B", "AWQ INT4", f"{B26} --quant awq-int4 {VLLM_8K}"),
    Row("Gemma 4 26B-A4B", "Q4_K_M (GGUF)", f"{B26} --quant q4_k_m {LLAMA_8K}"),
    Row("Gemma 4 E4B", "BF16", f"{E4B} {VLLM_8K}"),
    Row("Gemma 4 E4B", "BF16 + FP8 KV", f"{E4B} --engine vllm --ctx 8192 --kv-dtype fp8"),
]
TIER_ROWS = [
    Row("E4B (tier_low)", "BF16, FP8 KV", f"{E4B} --engine vllm --ctx 8192 --kv-dtype fp8"),
    Row("E4B (tier_low)", "FP8 weights + KV", f"{E4B} {FP8}"),
    Row("26B-A4B (tier_high)", "Q4_K_M", f"{B26} --quant q4_k_m {LLAMA_8K}"),
    Row("26B-A4B (tier_high)", "AWQ INT4", f"{B26} --quant awq-int4 {VLLM_8K}"),
]


def fit_json(args: str) -> dict[str, Any]:
    """One ``stratum fit --json`` run."""
    result = CliRunner().invoke(fit_command, [*shlex.split(args), "--json"])
    if result.exit_code != 0:
        raise SystemExit(f"stratum fit {args}: {result.output}")
    data: dict[str, Any] = json.loads(result.output)
    return data


def gib(n: int | None) -> str:
    return "-" if n is None else f"{n / GiB:.2f}"


def verdict(d: dict[str, Any]) -> str:
    if d["engine"] == "llama.cpp":
        ctx = f"{d['max_ctx']:,}" if d["max_ctx"] else "none"
        return f"{'fits' if d['fits'] else 'does not fit'}; largest -c: {ctx}"
    seqs = d.get("concurrent_seqs", 0)
    budget = gib(d.get("kv_budget_bytes"))
    return f"{'fits' if d['fits'] else 'does not fit'}; KV budget {budget} GiB, {seqs} x 8K seqs"


def table(rows: list[Row], gpu_gb: float) -> str:
    head = (
        f"| Model | Weights | Engine | Weights GiB | KV, one 8K seq | Overhead | Needs | "
        f"On {gpu_gb:g} GiB |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in rows:
        d = fit_json(f"{row.args} --gpu-gb {gpu_gb:g}")
        kv = f"{d['kv_bytes'] / 2**20:,.0f} MiB"
        lines.append(
            f"| {row.model} | {row.quant} | {d['engine']} | {gib(d['weights_bytes'])} | {kv} | "
            f"{gib(d['overhead_bytes'])} | {gib(d['total_bytes'])} | {verdict(d)} |"
        )
    commands = "\n".join(f"    {row.command(gpu_gb)}" for row in rows)
    return "\n".join(lines) + "\n\nCommands:\n\n" + commands + "\n"


LOW_PAIRS = [
    Row("E4B", "BF16, FP8 KV", f"{E4B} --engine vllm --ctx 8192 --parallel 8 --kv-dtype fp8"),
    Row("E4B", "FP8 weights + KV", f"{E4B} {FP8} --parallel 8"),
]
HIGH_PAIRS = [Row("26B-A4B", "Q4_K_M", f"{B26} --quant q4_k_m {LLAMA_8K}")]


def together(gpu_gb: float) -> str:
    """Both tiers on one card: vLLM's reservation (weights, cache for 8 sequences of 8K,
    overhead) plus llama-server's total must stay under the card."""
    lines = [
        "| tier_low (vLLM, 8 x 8K seqs) | tier_high (llama.cpp, -c 8192) | Needs GiB | "
        f"On {gpu_gb:g} GiB | vLLM --gpu-memory-utilization |",
        "|---|---|---|---|---|",
    ]
    for low in LOW_PAIRS:
        for high in HIGH_PAIRS:
            need_low = fit_json(f"{low.args} --gpu-gb {gpu_gb:g}")["total_bytes"]
            need_high = fit_json(f"{high.args} --gpu-gb {gpu_gb:g}")["total_bytes"]
            need = need_low + need_high
            share = f"{need_low / (gpu_gb * GiB):.2f}" if need <= gpu_gb * GiB else "-"
            lines.append(
                f"| {low.model} {low.quant} ({gib(need_low)}) | {high.model} {high.quant} "
                f"({gib(need_high)}) | {gib(need)} | "
                f"{'fits' if need <= gpu_gb * GiB else 'does not fit'} | {share} |"
            )
    return "\n".join(lines) + "\n"


def dual() -> str:
    """One tier per card: each must fit its own card (free memory, every byte on the GPU)."""
    lines = [
        "| Cards (tier_low + tier_high) | tier_low on its card | tier_high on its card |",
        "|---|---|---|",
    ]
    for low_gb, high_gb in ((16, 16), (16, 24), (24, 24)):
        for low in LOW_PAIRS:
            for high in HIGH_PAIRS:
                d_low = fit_json(f"{low.args} --gpu-gb {low_gb}")
                d_high = fit_json(f"{high.args} --gpu-gb {high_gb}")
                lines.append(
                    f"| {low_gb} + {high_gb} GiB | {low.model} {low.quant}: {verdict(d_low)} | "
                    f"{high.model} {high.quant}: {verdict(d_high)} |"
                )
    return "\n".join(lines) + "\n"


def main(which: str = "all") -> None:
    print(f"## The seed's table on a 16 GiB card\n\n{table(SEED_ROWS, 16)}")
    if which == "seed":
        return
    for gpu_gb in (16, 24, 48):
        print(f"## Tiers on a {gpu_gb} GiB card\n\n{table(TIER_ROWS, gpu_gb)}")
        print(f"Both tiers on the one {gpu_gb} GiB card:\n\n{together(gpu_gb)}")
    print(f"## Two cards, one tier each\n\n{dual()}")


if __name__ == "__main__":
    main(*sys.argv[1:])
