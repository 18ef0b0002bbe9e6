"""What an engine can take: its context window, whether it sees images, whether it takes tools.

These facts change only when an engine restarts, so the engine monitor reads them rarely
(:func:`read_facts`, on the first round an engine answers and once a minute after), from:

===============  ===========================================  ============================
fact             llama.cpp                                    vLLM, SGLang
===============  ===========================================  ============================
context window   ``GET /props``                               ``GET /v1/models``
                 ``default_generation_settings.n_ctx``        ``max_model_len``
                 (per slot: ``-c`` divided by ``-np``)
vision           ``GET /props`` ``modalities.vision``         not reported: unknown
tools            ``POST /apply-template`` with a tool:        not reported: unknown
                 200 with ``--jinja``, 500 "tools param
                 requires --jinja flag" without
===============  ===========================================  ============================

llama-server's ``/props`` also has ``chat_template_caps.supports_tools``, but it describes
the template alone: it reads the same with or without ``--jinja``, and with ``--jinja`` a
template without native tool support still takes tools (llama.cpp's generic tool format).
Whether Jinja is on is what decides, and only rendering a template with a tool shows it
(``/apply-template`` renders; it generates nothing). Each was checked on the llama-server
build here. ``None`` is unknown; nothing is made up.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

Fetch = Callable[..., tuple[int, bytes]]
"""``fetch(url, timeout_s, body=None) -> (status, body)``: a GET, or a JSON POST of ``body``;
raises OSError when there is no answer."""

TOOLS_PROBE = json.dumps(
    {
        "messages": [{"role": "user", "content": "ping"}],
        "tools": [{"type": "function", "function": {"name": "ping", "parameters": {}}}],
    }
).encode()


@dataclass(frozen=True, slots=True)
class EngineFacts:
    """What an engine can take; ``None`` where it does not say.

    ``context_tokens``: the most tokens (prompt plus answer) one request may use.
    """

    context_tokens: int | None = None
    vision: bool | None = None
    tools: bool | None = None


def parse_props(props: object) -> EngineFacts:
    """Context window and vision from llama-server's ``GET /props`` JSON; never raises.

    >>> parse_props({"default_generation_settings": {"n_ctx": 4096},
    ...              "modalities": {"vision": True}})
    EngineFacts(context_tokens=4096, vision=True, tools=None)
    >>> parse_props("not found")
    EngineFacts(context_tokens=None, vision=None, tools=None)
    """
    if not isinstance(props, dict):
        return EngineFacts()
    settings = props.get("default_generation_settings")
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    modalities = props.get("modalities")
    vision = modalities.get("vision") if isinstance(modalities, dict) else None
    return EngineFacts(_positive_int(n_ctx), vision if isinstance(vision, bool) else None)


def parse_models(models: object) -> int | None:
    """The smallest ``max_model_len`` of the models in an OpenAI ``/v1/models`` JSON (vLLM and
    SGLang list it), or None.

        >>> parse_models({"object": "list", "data": [{"id": "m", "max_model_len": 32768}]})
        32768
    """
    data = models.get("data") if isinstance(models, dict) else None
    if not isinstance(data, list):
        return None
    lengths = [
        n
        for model in data
        if isinstance(model, dict) and (n := _positive_int(model.get("max_model_len")))
    ]
    return min(lengths, default=None)


def jinja_from_probe(status: int, body: bytes) -> bool | None:
    """Whether llama-server renders tools, from its answer to :data:`TOOLS_PROBE` posted to
    ``/apply-template``: True (200), False (the ``--jinja`` error), else unknown.

        >>> jinja_from_probe(500, b'{"error":{"message":"tools param requires --jinja flag"}}')
        False
    """
    if status == 200:
        return True
    return False if b"--jinja" in body else None


def read_facts(
    fetch: Fetch, root: str, base_url: str, timeout_s: float, llama: bool | None
) -> EngineFacts:
    """Read an engine's facts; ``llama`` True/False when its kind is known, None if not.

    ``root`` is the server root, ``base_url`` its OpenAI base (``.../v1``).
    """
    facts = EngineFacts()
    if llama is not False:
        facts = parse_props(_json(fetch, root + "/props", timeout_s))
        if facts.context_tokens is not None:  # a llama-server: ask whether Jinja is on
            got = _answer(fetch, root + "/apply-template", timeout_s, TOOLS_PROBE)
            tools = jinja_from_probe(*got) if got else None
            facts = EngineFacts(facts.context_tokens, facts.vision, tools)
    if facts.context_tokens is None and llama is not True:
        context = parse_models(_json(fetch, base_url.rstrip("/") + "/models", timeout_s))
        facts = EngineFacts(context, facts.vision, facts.tools)
    return facts


def common_facts(facts: Sequence[EngineFacts]) -> EngineFacts:
    """What every one of a tier's upstreams can take: the smallest context window (unknown if
    any is), a capability only if all have it (none if any lacks it).

        >>> common_facts([EngineFacts(8192, True, True), EngineFacts(4096, True, False)])
        EngineFacts(context_tokens=4096, vision=True, tools=False)
    """
    contexts = [f.context_tokens for f in facts]
    known = [c for c in contexts if c is not None]
    return EngineFacts(
        context_tokens=min(known) if known and len(known) == len(contexts) else None,
        vision=_all(f.vision for f in facts),
        tools=_all(f.tools for f in facts),
    )


def _all(values: Iterable[bool | None]) -> bool | None:
    """False if any is False; True if all are True; else unknown."""
    seen = set(values)
    return False if False in seen else True if seen == {True} else None


def _answer(
    fetch: Fetch, url: str, timeout_s: float, body: bytes | None = None
) -> tuple[int, bytes] | None:
    try:
        return fetch(url, timeout_s, body) if body is not None else fetch(url, timeout_s)
    except (OSError, http.client.HTTPException, ValueError):
        return None


def _json(fetch: Fetch, url: str, timeout_s: float) -> object:
    """The JSON body of a 200 answer, else None."""
    got = _answer(fetch, url, timeout_s)
    if got is None or got[0] != 200:
        return None
    try:
        return json.loads(got[1])
    except ValueError:
        return None


def _positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None
