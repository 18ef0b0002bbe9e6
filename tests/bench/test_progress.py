"""The plain progress line (what CI logs show); rich's bar is used on terminals only."""

from __future__ import annotations

import io

from adaptive_router.bench.progress import LineProgress, NoProgress, make_progress


def test_line_progress_prints_every_tenth_when_not_a_terminal() -> None:
    stream = io.StringIO()
    bar = LineProgress(stream)
    bar.start("routed  c=8", 20)
    for _ in range(20):
        bar.advance()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("routed  c=8  0/20")
    assert lines[-1].startswith("routed  c=8  20/20")
    assert len(lines) == 11


def test_no_progress_when_disabled() -> None:
    assert isinstance(make_progress(False), NoProgress)
