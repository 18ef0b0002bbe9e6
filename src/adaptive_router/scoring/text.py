"""Which text of a request is scored.

The scorer sees the **last user turn** only:

- the system prompt is left out: apps send the same long system prompt with every request,
  and it would make every request look complex;
- earlier turns are left out: the question being answered now is what the tier must handle
  ("thanks!" after a hard question is easy);
- of multi-part content (OpenAI ``[{"type": "text", ...}, {"type": "image_url", ...}]``)
  the text parts are joined with newlines; images, audio and unknown part types are skipped.

When no user turn has text, the last turn with any text is scored; with none, "".

:func:`prompt_size` measures the whole prompt instead (every turn, for the context rule) and
counts its images (for the capability rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeGuard

Prompt: TypeAlias = str | Sequence[Mapping[str, Any]]

_TEXT_PART_TYPES = frozenset({"text", "input_text"})
_IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image"})


@dataclass(frozen=True, slots=True)
class PromptSize:
    """The whole prompt: characters of text in every turn, images and turns."""

    chars: int
    images: int
    messages: int


def prompt_text(prompt: Prompt) -> str:
    """The text to score for a prompt string or an OpenAI ``messages`` list.

    >>> prompt_text([{"role": "system", "content": "Be brief."},
    ...              {"role": "user", "content": "Hi"}])
    'Hi'
    """
    if isinstance(prompt, str):
        return prompt
    if not _is_sequence(prompt):
        raise TypeError(
            f"prompt must be a string or a list of messages, not {type(prompt).__name__}"
        )
    messages = [m for m in prompt if _is_mapping(m)]
    for role in ("user", None):
        for message in reversed(messages):
            if role is not None and message.get("role") != role:
                continue
            text = content_text(message.get("content"))
            if text:
                return text
    return ""


def content_text(content: object) -> str:
    """The text of one message's ``content``: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if not _is_sequence(content):
        return ""
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif _is_mapping(part) and part.get("type", "text") in _TEXT_PART_TYPES:
            text = part.get("text")
            if isinstance(text, str):
                texts.append(text)
    return "\n".join(texts)


def prompt_size(prompt: Prompt) -> PromptSize:
    """Characters, images and turns of the whole prompt (system prompt and history included).

    >>> prompt_size([{"role": "user", "content": [
    ...     {"type": "text", "text": "What is this?"},
    ...     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}])
    PromptSize(chars=13, images=1, messages=1)
    """
    if isinstance(prompt, str):
        return PromptSize(len(prompt), 0, 1)
    chars = images = messages = 0
    for message in prompt:
        if not _is_mapping(message):
            continue
        messages += 1
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif _is_sequence(content):
            for part in content:
                if isinstance(part, str):
                    chars += len(part)
                elif _is_mapping(part):
                    kind = part.get("type", "text")
                    if kind in _IMAGE_PART_TYPES:
                        images += 1
                    elif kind in _TEXT_PART_TYPES and isinstance(text := part.get("text"), str):
                        chars += len(text)
    return PromptSize(chars, images, messages)


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    # JSON gives dicts: the exact type check first, the slower ABC check only for others
    return isinstance(value, (dict, Mapping))


def _is_sequence(value: object) -> TypeGuard[Sequence[Any]]:
    return isinstance(value, list) or (isinstance(value, Sequence) and not isinstance(value, str))
