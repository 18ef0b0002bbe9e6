"""One streamed request in, one RequestRecord out; TTFT and ITL read from the SSE bytes.

:class:`StreamRecorder` is the pure part: feed it the raw bytes of an SSE stream with the
time each read arrived; it finds the content events (see ``records`` for the definitions),
the final usage event, ``data: [DONE]`` and error events, whatever way the bytes are cut.

    >>> rec = StreamRecorder(started=0.0)
    >>> rec.feed(b'data: {"choices":[{"delta":{"role":"assistant"}}]}\\n\\n', 0.1)
    >>> rec.feed(b'data: {"choices":[{"delta":{"content":"Hi"}}]}\\n\\nda', 0.3)
    >>> rec.feed(b'ta: [DONE]\\n\\n', 0.4)
    >>> rec.content_times, rec.done
    ([0.3], True)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import aiohttp
import orjson

from adaptive_router.bench.config import Api, Target
from adaptive_router.bench.records import RequestRecord
from adaptive_router.bench.workloads import Prompt
from adaptive_router.proxy.sse import choices_have_content

_MAX_ERROR_BODY = 4096


class StreamRecorder:
    """Collects content-event times, usage and the end of one SSE stream."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.content_times: list[float] = []
        self.completion_tokens: int | None = None
        self.prompt_tokens: int | None = None
        self.done = False
        self.error: str | None = None
        self._pending = b""

    def feed(self, chunk: bytes, now: float) -> None:
        """Take the next bytes of the stream, read at ``now``."""
        text = (self._pending + chunk).replace(b"\r\n", b"\n")
        *events, self._pending = text.split(b"\n\n")
        for event in events:
            payload = _event_data(event)
            if payload is not None:
                self._take(payload, now)

    def _take(self, payload: bytes, now: float) -> None:
        if payload.strip() == b"[DONE]":
            self.done = True
            return
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(data, dict):
            return
        if data.get("error") is not None:
            self.error = _error_message(data)
        if choices_have_content(data.get("choices")):
            self.content_times.append(now - self.started)
        usage = data.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            self.completion_tokens = usage["completion_tokens"]
            prompt = usage.get("prompt_tokens")
            self.prompt_tokens = prompt if isinstance(prompt, int) else None

    @property
    def ttft_s(self) -> float | None:
        """Seconds to the first content event, or None when there was none."""
        return self.content_times[0] if self.content_times else None

    @property
    def itl_s(self) -> tuple[float, ...]:
        """Gaps between consecutive content events."""
        times = self.content_times
        return tuple(b - a for a, b in pairwise(times))

    @property
    def output_tokens(self) -> int:
        """Usage's completion_tokens when the server sent it, else the content events."""
        if self.completion_tokens is not None:
            return self.completion_tokens
        return len(self.content_times)

    def problem(self) -> str | None:
        """Why the stream does not count as a good answer, or None."""
        if self.error is not None:
            return f"stream error: {self.error}"
        if not self.done:
            return "broken stream: it ended without data: [DONE]"
        if not self.content_times:
            return "empty answer: no content events"
        return None


def _event_data(event: bytes) -> bytes | None:
    """The joined ``data:`` lines of one SSE event, or None when it has none."""
    lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line[:5] == b"data:"]
    return b"\n".join(lines) if lines else None


def _error_message(data: dict[str, Any]) -> str:
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What every request of a run sends, besides its prompt."""

    api: Api = "chat"
    max_tokens: int = 128
    ignore_eos: bool = False
    temperature: float = 0.0
    timeout_s: float = 300.0
    api_key: str = ""
    run_tag: str = ""
    """Non-empty: every request starts with a tag unique to it (see :func:`request_body`)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One request to make: which target, which prompt, where it sits in the run."""

    target: Target
    prompt: Prompt
    level: float
    index: int
    warmup: bool


def request_body(job: Job, options: RequestOptions) -> dict[str, Any]:
    """The JSON body: streamed, usage asked for, ``ignore_eos`` only when set.

    With ``options.run_tag`` the prompt starts with a tag no other request shares (a system
    message in chat, which Stratum does not score; a first line in completions), so no
    engine can answer from a prefix cached by an earlier level, target or run.
    """
    body: dict[str, Any] = {
        "model": job.target.model,
        "max_tokens": options.max_tokens,
        "temperature": options.temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    tag = ""
    if options.run_tag:
        phase = "w" if job.warmup else "m"
        tag = f"Request {options.run_tag}-{job.target.name}-{job.level:g}-{phase}{job.index}."
    if options.api == "chat":
        system = [{"role": "system", "content": tag}] if tag else []
        body["messages"] = [*system, {"role": "user", "content": job.prompt.text}]
    else:
        body["prompt"] = f"{tag}\n{job.prompt.text}" if tag else job.prompt.text
    if options.ignore_eos:
        body["ignore_eos"] = True  # llama.cpp, vLLM and SGLang honour it
    return body


async def send_request(
    session: aiohttp.ClientSession, job: Job, options: RequestOptions, t0: float
) -> RequestRecord:
    """Send one streamed request and time it; never raises for a failed request."""
    path = "/chat/completions" if options.api == "chat" else "/completions"
    headers = {"authorization": f"Bearer {options.api_key}"} if options.api_key else {}
    data = orjson.dumps(request_body(job, options))
    started = time.perf_counter()
    recorder = StreamRecorder(started)
    status: int | None = None
    answer: dict[str, str | None] = {"tier": None, "rule": None, "failover": None}
    error: str | None
    try:
        async with asyncio.timeout(options.timeout_s):
            async with session.post(job.target.url + path, data=data, headers=headers) as resp:
                status = resp.status
                answer = {k: resp.headers.get(f"x-stratum-{k}") for k in answer}
                error = await _read(resp, recorder)
    except TimeoutError:
        error = f"timeout: no complete answer within {options.timeout_s:g} s"
    except aiohttp.ClientConnectorError as exc:
        error = f"connect: {exc}"
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
        error = f"broken stream: {type(exc).__name__}: {exc}"
    except (aiohttp.ClientError, OSError) as exc:
        error = f"client error: {type(exc).__name__}: {exc}"
    ended = time.perf_counter()
    return _record(job, recorder, started - t0, ended - started, status, answer, error)


async def _read(resp: aiohttp.ClientResponse, recorder: StreamRecorder) -> str | None:
    if resp.status != 200:
        body = await resp.read()
        return f"HTTP {resp.status}: {_body_message(body[:_MAX_ERROR_BODY])}"
    if not resp.content_type.startswith("text/event-stream"):
        await resp.read()
        return f"not a stream: the server answered {resp.content_type or 'no content type'}"
    async for chunk in resp.content.iter_any():
        recorder.feed(chunk, time.perf_counter())
    return recorder.problem()


def _body_message(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip()[:200] or "(empty body)"
    return _error_message(data)[:200] if isinstance(data, dict) else str(data)[:200]


def _record(
    job: Job,
    rec: StreamRecorder,
    start_s: float,
    e2e_s: float,
    status: int | None,
    answer: dict[str, str | None],
    error: str | None,
) -> RequestRecord:
    return RequestRecord(
        target=job.target.name,
        level=job.level,
        index=job.index,
        prompt_id=job.prompt.id,
        prompt_kind=job.prompt.kind,
        warmup=job.warmup,
        start_s=start_s,
        ttft_s=rec.ttft_s,
        e2e_s=e2e_s,
        itl_s=rec.itl_s,
        output_tokens=rec.output_tokens,
        token_source="usage" if rec.completion_tokens is not None else "events",
        prompt_tokens=rec.prompt_tokens,
        status=status,
        tier=answer["tier"],
        rule=answer["rule"],
        failover=answer["failover"] is not None,
        error=error,
    )
