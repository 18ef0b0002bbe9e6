"""A progress bar on stderr while a run goes: rich's when installed, else a plain line.

Both show one task at a time ("routed  c=10  measured", done/total, elapsed); the plain
line is rewritten in place on a terminal and printed every 10% otherwise (CI logs).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    """What the load loops need of a progress display."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    """Shows nothing (``--no-progress``)."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class LineProgress:
    """``description  done/total  elapsed`` on one stderr line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.description = ""
        self.total: int | None = None
        self.done = 0
        self.began = 0.0
        self._step: int | None = None

    def start(self, description: str, total: int | None) -> None:
        self.close()
        self.description, self.total, self.done = description, total, 0
        self.began = time.monotonic()
        self._step = max(1, total // 10) if total else None
        self._show()

    def advance(self) -> None:
        self.done += 1
        if self.tty or self._step is None or self.done % self._step == 0:
            self._show()

    def note(self, text: str) -> None:
        """A line of its own (a finished level's figures), below the progress line."""
        self.close()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _show(self) -> None:
        of = f"/{self.total}" if self.total else ""
        text = f"{self.description}  {self.done}{of}  {time.monotonic() - self.began:.1f} s"
        self.stream.write(f"\r{text}\x1b[K" if self.tty else text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.description:
            self.stream.write("\n")
            self.stream.flush()
        self.description = ""


class RichProgress:
    """rich's progress bar (spinner, bar, count, elapsed) on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task: Any = None

    def start(self, description: str, total: int | None) -> None:
        if self.task is None:
            self.bar.start()
        else:
            self.bar.stop_task(self.task)
        self.task = self.bar.add_task(description, total=total)

    def advance(self) -> None:
        self.bar.advance(self.task)

    def note(self, text: str) -> None:
        self.bar.console.print(text, highlight=False, markup=False)

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()
            self.task = None


def make_progress(enabled: bool = True) -> Progress:
    """Rich's bar on a terminal when rich is installed, a plain line otherwise."""
    if not enabled:
        return NoProgress()
    if sys.stderr.isatty():
        try:
            return RichProgress()
        except ImportError:
            pass
    return LineProgress()
