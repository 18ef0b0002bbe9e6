"""The stream relay: whole SSE events only, whatever the upstream's TCP reads look like.

A real engine writes one event per write; how they arrive split or packed is up to the
network, which a test cannot steer. The package's fake engine (adaptive_router.bench.
fake_engine) sends an exact script of byte pieces with pauses between them, so each piece
is its own read at the proxy.
"""

from __future__ import annotations

import json

from adaptive_router.bench.fake_engine import DONE, FakeEngine, sse_event
from tests.proxy.asgi import Reply, call
from tests.proxy.conftest import AppFactory

CHAT = "/v1/chat/completions"
STREAM = {"model": "gemma4-lite", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
GAP_S = 0.03  # long enough for each piece to be read on its own


def content(text: str) -> bytes:
    return sse_event({"object": "chat.completion.chunk", "choices": [{"delta": {"content": text}}]})


ROLE = sse_event({"choices": [{"delta": {"role": "assistant"}}]})


def assert_whole_events(reply: Reply) -> list[object]:
    """Every chunk the client got ends an event, and every event is valid JSON or [DONE]."""
    for _, chunk in reply.chunks:
        assert chunk.endswith((b"\n\n", b"\r\n\r\n")), chunk
    events: list[object] = []
    for event in reply.body.replace(b"\r\n", b"\n").split(b"\n\n"):
        if event:
            data = event.removeprefix(b"data: ")
            events.append(data.decode() if data == b"[DONE]" else json.loads(data))
    return events


async def test_events_split_across_reads_and_packed_in_one_arrive_whole(
    make_app: AppFactory, low: FakeEngine
) -> None:
    hello, world, bang = content("Hello"), content(" world"), content("!")
    crlf = content(" again").replace(b"\n", b"\r\n")
    pieces = [
        ROLE,
        hello[:10], hello[10:25], hello[25:],  # one event over three reads
        world + bang + content(" and")[:-1],  # two whole events and one cut before its last \n
        b"\n",
        crlf[:-2], crlf[-2:],  # \r\n\r\n split in its middle
        content(" more") + DONE,
    ]  # fmt: skip
    low.script = [(GAP_S, piece) for piece in pieces]
    app = await make_app()
    reply = await call(app, CHAT, STREAM)
    assert reply.status == 200
    assert reply.body == b"".join(pieces)  # the upstream's bytes, untouched
    events = assert_whole_events(reply)
    texts = [e["choices"][0]["delta"].get("content") for e in events if isinstance(e, dict)]
    assert texts == [None, "Hello", " world", "!", " and", " again", " more"]
    assert events[-1] == "[DONE]"
    assert len(reply.chunks) < len(pieces)  # the partial reads were held back, not sent
    metrics = app.metrics.render().decode()
    assert 'stratum_ttft_seconds_count{tier="tier_low"} 1.0' in metrics


async def test_a_stream_cut_inside_an_event_ends_with_a_clean_error_event(
    make_app: AppFactory, low: FakeEngine
) -> None:
    half = content("never finished")[:-12]
    low.script = [(GAP_S, ROLE), (GAP_S, content("Hi")), (GAP_S, half), (GAP_S, None)]
    reply = await call(await make_app(), CHAT, STREAM)
    events = assert_whole_events(reply)  # the half event never reached the client
    assert b"never" not in reply.body
    last = events[-1]
    assert isinstance(last, dict)
    assert "tier_low upstream failed mid-answer" in last["error"]["message"]
    assert [e for e in events if e == "[DONE]"] == []


async def test_an_upstream_that_ends_inside_an_event_is_passed_on_as_it_is(
    make_app: AppFactory, low: FakeEngine
) -> None:
    tail = b"data: [DONE]"  # no blank line after it: a sloppy upstream, not a broken one
    low.script = [(GAP_S, ROLE), (GAP_S, content("Hi")), (GAP_S, tail)]
    reply = await call(await make_app(), CHAT, STREAM)
    assert reply.body == ROLE + content("Hi") + tail
    assert b"error" not in reply.body
