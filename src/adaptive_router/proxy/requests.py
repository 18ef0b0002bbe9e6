"""Reading and checking client requests: body size, JSON, and the fields routing needs.

Only what the proxy itself relies on is checked (the body is a JSON object; ``messages`` or
``prompt`` has the right shape; ``model``, ``stream``, ``max_tokens`` and
``max_completion_tokens`` have the right types). Everything
else is the upstream's to judge: its 4xx answers reach the client unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from adaptive_router.errors import BadRequest, PayloadTooLarge
from adaptive_router.proxy.asgi import Receive
from adaptive_router.proxy.limits import MAX_TOKENS_NAMES
from adaptive_router.scoring.text import Prompt

MAX_MESSAGES = 10_000  # far beyond any context window; bounds the work spent on one request


class ClientDisconnected(Exception):
    """The client went away before its request body arrived."""


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A parsed chat or text completion request."""

    payload: dict[str, Any]
    model: str | None
    stream: bool
    prompt: Prompt
    max_tokens: int | None = None  # asked for: max_completion_tokens, else max_tokens


async def read_body(receive: Receive, limit: int, content_length: str | None) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes with a 413."""
    too_large = f"request body is larger than the {limit:,}-byte limit"
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge(too_large, code="body_too_large")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large, code="body_too_large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong."""
    if not body.strip():
        raise BadRequest("request body is empty: expected a JSON object")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"request body must be a JSON object, not {type(payload).__name__}")
    return payload


def parse_chat(body: bytes) -> CompletionRequest:
    """A /v1/chat/completions request."""
    payload = parse_json_object(body)
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list of messages", param="messages")
    if len(messages) > MAX_MESSAGES:
        raise BadRequest(
            f"too many messages ({len(messages):,}): at most {MAX_MESSAGES:,}", param="messages"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(
                f"messages[{i}] must be an object with a string 'role'", param=f"messages[{i}]"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise BadRequest(
                f"messages[{i}].content must be a string, a list of parts or null",
                param=f"messages[{i}].content",
            )
    return CompletionRequest(
        payload, _model(payload), _stream(payload), messages, _max_tokens(payload)
    )


def parse_completion(body: bytes) -> CompletionRequest:
    """A /v1/completions request."""
    payload = parse_json_object(body)
    prompt = payload.get("prompt")
    if isinstance(prompt, str):
        text = prompt
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        text = "\n".join(prompt)
    elif isinstance(prompt, list) and prompt and all(_is_tokens(p) for p in prompt):
        text = ""  # token ids: nothing to score, route on the other signals
    else:
        raise BadRequest(
            "'prompt' must be a string, a list of strings or a list of token ids",
            param="prompt",
        )
    return CompletionRequest(payload, _model(payload), _stream(payload), text, _max_tokens(payload))


def _is_tokens(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, list) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in value
    )


def _model(payload: dict[str, Any]) -> str | None:
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("'model' must be a string", param="model")
    return model


MAX_SESSION_KEY = 256


def session_key(headers: dict[str, str], header: str) -> str | None:
    """The session named by request header ``header``, or None; a 400 if it is too long."""
    key = headers.get(header, "").strip()
    if len(key) > MAX_SESSION_KEY:
        raise BadRequest(f"{header} is longer than {MAX_SESSION_KEY} characters", param=header)
    return key or None


def _max_tokens(payload: dict[str, Any]) -> int | None:
    """The answer length asked for: ``max_completion_tokens`` (OpenAI's newer name) when
    given, else ``max_tokens``, as the engines read them (llama-server and vLLM let the newer
    name win when both are sent); None when neither is."""
    asked = None
    for name in MAX_TOKENS_NAMES:
        value = payload.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadRequest(f"'{name}' must be a whole number >= 0", param=name)
        asked = value
    return asked


def _stream(payload: dict[str, Any]) -> bool:
    stream = payload.get("stream", False)
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false", param="stream")
    return stream
