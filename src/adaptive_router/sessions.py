"""SessionStore: which tier each conversation is pinned to, bounded in size and in time.

A conversation keeps the tier its first turn was routed to by complexity (the ``session``
rule reads the pin), so a "thanks!" after a hard question stays with the model, and the
prefix cache, that holds the conversation. The store is a plain LRU map with a time-to-live:
at most ``max_size`` sessions, each forgotten ``ttl_s`` seconds after its last use, so memory
stays bounded under any traffic. It belongs to one process; several router replicas keep
affinity when their load balancer hashes the session header consistently.

    >>> store = SessionStore(max_size=2, ttl_s=60.0, clock=lambda: 0.0)
    >>> store.pin("s1", "tier_high")
    >>> store.get("s1"), store.get("nobody")
    ('tier_high', None)
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from adaptive_router.scoring.text import Prompt, content_text
from adaptive_router.tiers import Tier


class SessionStore:
    """Session key -> pinned tier; LRU-bounded, with a time-to-live. Thread-safe.

    ``max_size == 0`` turns sessions off: nothing is kept.
    """

    def __init__(
        self, max_size: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_size = max_size
        self.ttl_s = ttl_s
        self._clock = clock
        self._pins: OrderedDict[str, tuple[Tier, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Tier | None:
        """The tier ``key`` is pinned to, or None (unknown or expired). Refreshes its TTL."""
        now = self._clock()
        with self._lock:
            entry = self._pins.get(key)
            if entry is None:
                return None
            if now - entry[1] > self.ttl_s:
                del self._pins[key]
                return None
            self._pins[key] = (entry[0], now)
            self._pins.move_to_end(key)
            return entry[0]

    def pin(self, key: str, tier: Tier) -> None:
        """Pin ``key`` to ``tier``, evicting the least recently used beyond ``max_size`` and
        the oldest if it has expired."""
        if self.max_size <= 0:
            return
        now = self._clock()
        with self._lock:
            pins = self._pins
            pins[key] = (tier, now)
            pins.move_to_end(key)
            while len(pins) > self.max_size:
                pins.popitem(last=False)
            while pins:  # expired ones leave, oldest first
                oldest, (_, used) = next(iter(pins.items()))
                if now - used <= self.ttl_s:
                    break
                del pins[oldest]

    def __len__(self) -> int:
        return len(self._pins)


def conversation_key(prompt: Prompt) -> str | None:
    """A key for a conversation without a session header: a hash of its system prompt and
    first user message (None for a plain string or a conversation without a user turn).

    Two users who open with the same words under the same system prompt share the key,
    which is why this is off unless ``session_from_conversation`` is set.

        >>> a = conversation_key([{"role": "user", "content": "Hi"}])
        >>> b = conversation_key([{"role": "user", "content": "Hi"},
        ...                       {"role": "assistant", "content": "Hello!"},
        ...                       {"role": "user", "content": "thanks!"}])
        >>> a == b
        True
    """
    if isinstance(prompt, str):
        return None
    system, first = "", None
    for message in prompt:
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role in ("system", "developer") and not system:
            system = content_text(message.get("content"))
        elif role == "user":
            first = content_text(message.get("content"))
            break
    if first is None:
        return None
    digest = hashlib.blake2b(digest_size=16)
    for text in (system, first):
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little") + data)
    return "conv:" + digest.hexdigest()
