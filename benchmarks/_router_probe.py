"""The router, as ``stratum serve`` runs it, plus a probe: every second it writes the number
of asyncio tasks alive in the router's event loop to a file, so a soak run can tell whether
tasks come back to their baseline. Run by relay_load.py:

    python benchmarks/_router_probe.py PROBE_FILE --tier-low-url URL --tier-high-url URL --port N
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from adaptive_router.bench.fake_engine import new_loop
from adaptive_router.cli import serve_command
from adaptive_router.proxy.config import load_settings
from adaptive_router.proxy.server import make_server, sigterm_as_interrupt


async def probe(path: Path) -> None:
    while True:
        path.write_text(f"{len(asyncio.all_tasks())}\n")
        await asyncio.sleep(1.0)


async def serve(argv: list[str], path: Path) -> None:
    context = serve_command.make_context("probe", argv)
    flags = {k: v for k, v in context.params.items() if k not in ("config_path", "log_level")}
    flags.pop("workers", None)
    server = make_server(load_settings(overrides=flags), log_level="warning")
    task = asyncio.create_task(probe(path))
    try:
        await server.serve()
    finally:
        task.cancel()


def main() -> None:
    path, argv = Path(sys.argv[1]), sys.argv[2:]
    with (
        contextlib.suppress(KeyboardInterrupt),
        sigterm_as_interrupt(),
        asyncio.Runner(loop_factory=new_loop) as runner,
    ):
        runner.run(serve(argv, path))


if __name__ == "__main__":
    main()
