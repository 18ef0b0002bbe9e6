"""Server-sent events: spotting the first generated token, and writing an error event.

The proxy forwards upstream bytes untouched; it only reads them until the first event that
carries generated text (``choices[].delta.content``, ``reasoning_content``, ``tool_calls``
or, for /v1/completions, ``choices[].text``). That moment is the time to first token (TTFT),
the same definition llmperf uses; role-only and empty first chunks do not count.
"""

from __future__ import annotations

from typing import Any

import orjson

_MAX_PENDING = 1 << 20  # a client-sized event never gets near this; a broken stream might


class FirstContentDetector:
    """Feed SSE bytes in; :attr:`found` turns True at the first event with content.

    >>> d = FirstContentDetector()
    >>> d.feed(b'data: {"choices":[{"delta":{"role":"assistant"}}]}\\n\\n')
    False
    >>> d.feed(b'data: {"choices":[{"delta":{"content":"Hi"}}]}\\n\\n')
    True
    """

    __slots__ = ("_pending", "found")

    def __init__(self) -> None:
        self._pending = b""
        self.found = False

    def feed(self, chunk: bytes) -> bool:
        """Take the next bytes of the stream; return True once content has been seen."""
        if self.found:
            return True
        pending = (self._pending + chunk).replace(b"\r\n", b"\n")
        *events, self._pending = pending.split(b"\n\n")
        if len(self._pending) > _MAX_PENDING:
            self._pending = b""
        for event in events:
            if _has_content(event):
                self.found = True
                self._pending = b""
                return True
        return False


def _has_content(event: bytes) -> bool:
    for line in event.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if not payload or payload == b"[DONE]":
            continue
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, dict) and choices_have_content(data.get("choices")):
            return True
    return False


def choices_have_content(choices: Any) -> bool:
    """True when a chunk's ``choices`` carry generated output: the TTFT definition, shared
    by the proxy and ``stratum bench``."""
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        if choice.get("text"):
            return True
        delta = choice.get("delta")
        if isinstance(delta, dict) and (
            delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls")
        ):
            return True
    return False


def split_events(data: bytes) -> tuple[bytes, bytes]:
    r"""(the complete events at the start of ``data``, the incomplete rest).

    An event ends with a blank line (``\n\n`` or ``\r\n\r\n``). A rest that grows past
    1 MB without one is no SSE stream worth waiting on: it is handed back as complete.

    >>> split_events(b"data: 1\n\ndata: 2")
    (b'data: 1\n\n', b'data: 2')
    """
    lf, crlf = data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n")
    end = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
    if len(data) - end > _MAX_PENDING:
        end = len(data)
    return data[:end], data[end:]


def error_event(message: str, *, code: int = 502, type_: str = "upstream_error") -> bytes:
    """An SSE event the OpenAI SDKs raise as an APIError, ending a broken stream."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return b"data: " + orjson.dumps(body) + b"\n\n"
