"""The run directory of a local stack: its lock, its state file and its logs.

``stratum up`` holds an exclusive lock on ``stack.lock`` for as long as it runs, so a second
``up`` is refused however the first one ended, and writes ``stack.json`` (process ids, URLs,
logs) for ``stratum status`` and ``stratum down``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from adaptive_router.errors import StackError


@dataclass
class PartState:
    """One process of the stack (the router, an engine, or a service such as LiteLLM)."""

    name: str
    url: str
    pid: int | None = None  # None: not started by the stack (an external server)
    log: str | None = None
    health: str = ""  # its health URL; "" = /health at the server root
    program: str = ""  # a word of its command line ("" = llama-server), for `stratum down`


@dataclass
class StackState:
    """What ``stack.json`` holds."""

    pid: int
    router_url: str
    parts: list[PartState] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> StackState:
        data: dict[str, Any] = json.loads(text)
        parts = [PartState(**part) for part in data.pop("parts", [])]
        return cls(parts=parts, **data)


class RunDir:
    """The stack's directory: lock, state file, logs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    @property
    def state_file(self) -> Path:
        return self.path / "stack.json"

    def log(self, name: str) -> Path:
        return self.path / f"{name}.log"

    def acquire(self) -> None:
        """Take the lock, or raise StackError saying which stack already runs."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = open(self.path / "stack.lock", "a+")  # noqa: SIM115 - held while up runs
        except OSError as exc:
            raise StackError(f"cannot use run directory {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            state = self.read()
            where = f" (pid {state.pid}, {state.router_url})" if state else ""
            raise StackError(
                f"a stack is already running{where}: see `stratum status`, "
                f"stop it with `stratum down`"
            ) from None
        self._lock = lock

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def write(self, state: StackState) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        os.replace(tmp, self.state_file)

    def read(self) -> StackState | None:
        try:
            return StackState.from_json(self.state_file.read_text())
        except (OSError, ValueError, TypeError):
            return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_runs(pid: int, needle: str) -> bool:
    """True if process ``pid`` is alive and its command line contains ``needle``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return needle.encode() in cmdline


def kept_secret(path: Path, prefix: str = "", create: bool = True) -> str | None:
    """The secret kept in ``path``, generated (mode 600) on first use; None when it does not
    exist yet and ``create`` is false (``stratum up --dry-run`` writes nothing)."""
    if path.is_file():
        return path.read_text().strip()
    if not create:
        return None
    secret = prefix + secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret
