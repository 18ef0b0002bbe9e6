"""The supervisor of `stratum up` keeps restarting engines even when a restart fails."""

import asyncio
from pathlib import Path

from adaptive_router.stack.state import PartState, RunDir, StackState
from adaptive_router.stack.up import Engine, _supervise


class FlakyServer:
    """Stands in for LlamaServer: it has exited; its first restart fails like a full disk."""

    def __init__(self) -> None:
        self.starts = 0
        self.pid: int | None = None
        self.log_path = Path("tier_low.log")

    def exited(self) -> int | None:
        return 1 if self.pid is None else None

    def start(self) -> None:
        self.starts += 1
        if self.starts == 1:
            raise OSError(28, "No space left on device")
        self.pid = 4242


async def test_a_failed_restart_is_reported_and_tried_again(tmp_path: Path) -> None:
    server = FlakyServer()
    engines = [Engine("tier_low", server)]  # type: ignore[arg-type]
    state = StackState(1, "http://127.0.0.1:9000", [PartState("tier_low", "http://x/v1", None)])
    said: list[str] = []
    task = asyncio.create_task(_supervise(engines, RunDir(tmp_path), state, said.append))
    for _ in range(50):
        await asyncio.sleep(0.1)
        if server.starts >= 2:
            break
    task.cancel()
    assert server.starts == 2
    assert any("restart failed: [Errno 28] No space left on device" in line for line in said)
    assert state.parts[0].pid == 4242
    assert RunDir(tmp_path).read() is not None  # the state file was written after all
