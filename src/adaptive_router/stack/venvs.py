"""Virtual environments of their own for the stack's Python services (LiteLLM, OpenWebUI).

Each service lives in a venv of its own, outside the project's: their dependencies pin
openai, aiohttp and pydantic versions the router does not share, and OpenWebUI alone is
about 7 GB. A venv is made on first use, under ``$XDG_CACHE_HOME/stratum/venvs`` (or
``~/.cache/stratum/venvs``), with pip's progress shown; later runs find it ready.

    >>> python = ensure_venv(VenvSpec("litellm", ("litellm==1.110.2",)), print)  # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adaptive_router.errors import StackError

Echo = Callable[[str], None]
_SHOWN = ("Collecting", "Installing", "Successfully", "ERROR", "error:")
_DONE = ".stratum-installed"


@dataclass(frozen=True, slots=True)
class VenvSpec:
    """A service's venv: its directory name and the exact requirements pip installs."""

    name: str  # e.g. "litellm-1.110.2": a new pin gets a new venv, the old one stays usable
    requirements: tuple[str, ...]
    size_hint: str = ""  # shown before a first install, e.g. "about 7 GB"


def venv_root(configured: str = "") -> Path:
    """Where the services' venvs live: ``configured`` or the user's cache directory."""
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "stratum" / "venvs"


def venv_bin(spec: VenvSpec, root: Path, program: str) -> Path:
    """The path ``program`` has (or will have) in the venv's ``bin``."""
    return root / spec.name / "bin" / program


def is_installed(spec: VenvSpec, root: Path) -> bool:
    marker = root / spec.name / _DONE
    return marker.is_file() and marker.read_text() == "\n".join(spec.requirements)


def ensure_venv(spec: VenvSpec, root: Path, echo: Echo) -> Path:
    """The venv's directory, made and installed first if needed (pip's progress shown, its
    whole output kept in ``install.log`` there). A second ``stratum up`` installing the
    same venv waits for the first. Raises StackError when the install fails."""
    path = root / spec.name
    if is_installed(spec, root):
        return path
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{spec.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not is_installed(spec, root):
                _install(spec, path, echo)
    except OSError as exc:
        raise StackError(f"cannot install {spec.name} into {path}: {exc}") from None
    return path


def _install(spec: VenvSpec, path: Path, echo: Echo) -> None:
    size = f" ({spec.size_hint})" if spec.size_hint else ""
    echo(f"installing {spec.name} into {path}{size}; later starts reuse it")
    began = time.monotonic()
    log = path / "install.log"
    if not (path / "bin" / "python").exists():
        _run([sys.executable, "-m", "venv", str(path)], None, spec.name, echo)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--progress-bar", "off"]
    _run([*pip, *spec.requirements], log, spec.name, echo)
    (path / _DONE).write_text("\n".join(spec.requirements))
    echo(f"{spec.name} installed in {time.monotonic() - began:.0f} s")


def _run(cmd: list[str], log: Path | None, name: str, echo: Echo) -> None:
    """Run ``cmd``, echoing pip's milestones and logging every line."""
    lines: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith(_SHOWN):
                echo(f"  [{name}] {line.rstrip()[:160]}")
    if log is not None:
        log.write_text("".join(lines))
    if process.returncode != 0:
        tail = "".join(lines[-15:])
        where = f" (whole output: {log})" if log is not None else ""
        raise StackError(f"installing {name} failed{where}:\n{tail}")
