from pathlib import Path

import pytest

from adaptive_router.errors import StackError
from adaptive_router.stack.config import StackConfig
from adaptive_router.stack.control import down, health_url, status
from adaptive_router.stack.state import PartState, RunDir, StackState


def test_state_round_trips_and_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    first = RunDir(tmp_path)
    first.acquire()
    state = StackState(123, "http://127.0.0.1:9000", [PartState("router", "http://x", 123)])
    first.write(state)
    assert first.read() == state
    with pytest.raises(StackError, match=r"already running \(pid 123, http://127.0.0.1:9000\)"):
        RunDir(tmp_path).acquire()
    first.release()
    assert not first.state_file.exists()
    second = RunDir(tmp_path)
    second.acquire()  # free again
    second.release()


def test_status_and_down_without_a_stack_say_so(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="no stack is running"):
        status(tmp_path)
    with pytest.raises(StackError, match="no stack is running"):
        down(tmp_path)
    (tmp_path / "stack.json").write_text("{broken")
    with pytest.raises(StackError, match="no stack is running"):
        status(tmp_path)


def test_health_urls_and_default_run_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    assert health_url(PartState("tier_low", "http://h:8081/v1")) == "http://h:8081/health"
    assert health_url(PartState("router", "http://h:9000")) == "http://h:9000/health"
    monkeypatch.setenv("XDG_STATE_HOME", "/srv/state")
    assert StackConfig().state_dir() == Path("/srv/state/stratum")
    assert StackConfig(run_dir="~/r").state_dir() == Path.home() / "r"
