"""TTFT / ITL / token extraction from crafted SSE byte streams, and one request for real."""

from __future__ import annotations

import pytest

from adaptive_router.bench.client import (
    Job,
    RequestOptions,
    StreamRecorder,
    request_body,
    send_request,
)
from adaptive_router.bench.config import Target
from adaptive_router.bench.fake_engine import DONE, FakeEngine
from adaptive_router.bench.workloads import Prompt
from tests.bench.conftest import chat_event, usage_event

PROMPT = Prompt("p:1", "Hello there", "easy")


def feed_all(parts: list[tuple[bytes, float]]) -> StreamRecorder:
    rec = StreamRecorder(started=0.0)
    for chunk, now in parts:
        rec.feed(chunk, now)
    return rec


def test_role_only_and_empty_first_events_do_not_count() -> None:
    rec = feed_all([
        (chat_event(role="assistant"), 0.1),
        (chat_event(content=""), 0.2),
        (chat_event(content="Hi"), 0.5),
        (chat_event(content=" you"), 0.7),
        (DONE, 0.8),
    ])  # fmt: skip
    assert rec.ttft_s == 0.5
    assert rec.itl_s == pytest.approx((0.2,))
    assert rec.output_tokens == 2
    assert rec.problem() is None


def test_events_split_anywhere_across_reads() -> None:
    stream = chat_event(role="assistant") + chat_event(content="A") + chat_event(content="B")
    stream += usage_event(7) + DONE
    for cut in range(1, len(stream)):
        rec = feed_all([(stream[:cut], 1.0), (stream[cut:], 2.0)])
        assert rec.done, cut
        assert rec.output_tokens == 7, cut
        assert len(rec.content_times) == 2, cut


def test_split_inside_first_content_event_times_it_on_completion() -> None:
    event = chat_event(content="Hi")
    rec = feed_all([(event[:10], 0.3), (event[10:], 0.9), (DONE, 1.0)])
    assert rec.ttft_s == 0.9


def test_crlf_line_endings() -> None:
    stream = (chat_event(content="x") + DONE).replace(b"\n", b"\r\n")
    rec = feed_all([(stream[:7], 0.1), (stream[7:], 0.2)])
    assert rec.ttft_s == 0.2
    assert rec.done


def test_usage_chunk_gives_token_counts() -> None:
    rec = feed_all([
        (chat_event(content="one") + chat_event(content="two"), 0.4),
        (usage_event(completion_tokens=9, prompt_tokens=31), 0.5),
        (DONE, 0.5),
    ])  # fmt: skip
    assert (rec.output_tokens, rec.prompt_tokens) == (9, 31)
    assert rec.itl_s == (0.0,)  # two events in one read arrive together


def test_without_usage_counts_content_events() -> None:
    rec = feed_all([(chat_event(content="a"), 0.1), (chat_event(content="b"), 0.2), (DONE, 0.3)])
    assert rec.completion_tokens is None
    assert rec.output_tokens == 2


def test_completions_text_and_reasoning_content_count() -> None:
    text = b'data: {"choices":[{"text":"Hi","index":0}]}\n\n'
    reasoning = b'data: {"choices":[{"delta":{"reasoning_content":"hmm"}}]}\n\n'
    assert feed_all([(text, 0.2)]).ttft_s == 0.2
    assert feed_all([(reasoning, 0.3)]).ttft_s == 0.3


def test_problems_are_named() -> None:
    assert "without data: [DONE]" in (feed_all([(chat_event(content="a"), 0.1)]).problem() or "")
    assert feed_all([(DONE, 0.1)]).problem() == "empty answer: no content events"
    error = b'data: {"error": {"message": "tier_high failed mid-answer"}}\n\n'
    assert feed_all([(chat_event(content="a") + error, 0.1)]).problem() == (
        "stream error: tier_high failed mid-answer"
    )


def test_comments_and_junk_are_ignored() -> None:
    rec = feed_all([(b": keep-alive\n\ndata: not json\n\n" + chat_event(content="a") + DONE, 1.0)])
    assert rec.ttft_s == 1.0


def test_request_body() -> None:
    target = Target("t", "http://x/v1", "gemma4-smart")
    one = Job(target, PROMPT, 1.0, 0, False)
    body = request_body(one, RequestOptions(max_tokens=7, ignore_eos=True))
    assert body["model"] == "gemma4-smart"
    assert body["stream_options"] == {"include_usage": True}
    assert body["ignore_eos"] is True
    assert body["messages"] == [{"role": "user", "content": "Hello there"}]
    plain = request_body(one, RequestOptions(api="completions"))
    assert plain["prompt"] == "Hello there"
    assert "ignore_eos" not in plain


def test_unique_prefix_tags_every_request_apart() -> None:
    target = Target("t", "http://x/v1")
    jobs = [Job(target, PROMPT, level, i, warm) for level in (1.0, 8.0) for i in range(3)
            for warm in (False, True)]  # fmt: skip
    chat = [request_body(j, RequestOptions(run_tag="ab12"))["messages"] for j in jobs]
    assert all(m[1] == {"role": "user", "content": "Hello there"} for m in chat)
    tags = [m[0]["content"] for m in chat if m[0]["role"] == "system"]
    assert len(set(tags)) == len(jobs)
    assert all("ab12" in t for t in tags)
    prompts = [request_body(j, RequestOptions(api="completions", run_tag="ab12"))["prompt"]
               for j in jobs]  # fmt: skip
    assert len(set(prompts)) == len(jobs)
    assert all(p.endswith("\nHello there") for p in prompts)


def job(server: FakeEngine) -> Job:
    return Job(Target("fake", server.url, "auto"), PROMPT, 1.0, 0, False)


async def test_send_request_times_a_real_stream(server: FakeEngine) -> None:
    import aiohttp

    server.headers = {"x-stratum-tier": "tier_high", "x-stratum-rule": "default"}
    server.script = [
        (0.0, chat_event(role="assistant")),
        (0.15, chat_event(content="Hi")),
        (0.05, chat_event(content="!")),
        (0.0, usage_event(2) + DONE),
    ]
    async with aiohttp.ClientSession() as session:
        rec = await send_request(session, job(server), RequestOptions(), t0=0.0)
    assert rec.error is None
    assert rec.ttft_s is not None
    assert 0.14 <= rec.ttft_s < 1.0
    assert rec.e2e_s is not None
    assert rec.e2e_s >= rec.ttft_s
    assert (rec.tier, rec.rule, rec.output_tokens, rec.token_source) == (
        "tier_high", "default", 2, "usage",
    )  # fmt: skip
    assert server.seen[0].json()["stream"] is True


@pytest.mark.parametrize(
    ("status", "content_type", "expected"),
    [
        (404, "text/event-stream", "HTTP 404: no such model"),
        (200, "application/json", "not a stream: the server answered application/json"),
    ],
)
async def test_send_request_errors(
    server: FakeEngine, status: int, content_type: str, expected: str
) -> None:
    import aiohttp

    server.status, server.content_type = status, content_type
    async with aiohttp.ClientSession() as session:
        rec = await send_request(session, job(server), RequestOptions(), t0=0.0)
    assert rec.error == expected


async def test_send_request_timeout_and_refused(server: FakeEngine) -> None:
    import aiohttp

    from adaptive_router.bench.fake_engine import free_port

    server.script = [(1.0, chat_event(content="late"))]
    async with aiohttp.ClientSession() as session:
        slow = await send_request(session, job(server), RequestOptions(timeout_s=0.1), t0=0.0)
        closed = Job(Target("gone", f"http://127.0.0.1:{free_port()}/v1"), PROMPT, 1.0, 0, False)
        refused = await send_request(session, closed, RequestOptions(), t0=0.0)
    assert slow.error == "timeout: no complete answer within 0.1 s"
    assert (refused.error or "").startswith("connect: ")
