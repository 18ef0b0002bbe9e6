"""SessionStore: bounded by size (LRU) and by time (TTL); conversation keys."""

import threading

from adaptive_router.sessions import SessionStore, conversation_key
from tests.conftest import Clock


def test_pin_and_get() -> None:
    store = SessionStore(10, 60.0, Clock())
    assert store.get("a") is None
    store.pin("a", "tier_high")
    store.pin("b", "tier_low")
    assert (store.get("a"), store.get("b"), len(store)) == ("tier_high", "tier_low", 2)
    store.pin("a", "tier_low")  # re-pinning moves it, and adds nothing
    assert (store.get("a"), len(store)) == ("tier_low", 2)


def test_least_recently_used_goes_first() -> None:
    store = SessionStore(2, 60.0, Clock())
    store.pin("a", "tier_high")
    store.pin("b", "tier_high")
    store.get("a")  # a is used again: b is now the least recent
    store.pin("c", "tier_high")
    assert (store.get("a"), store.get("b"), store.get("c")) == ("tier_high", None, "tier_high")
    assert len(store) == 2


def test_a_session_unused_for_the_ttl_is_forgotten() -> None:
    clock = Clock()
    store = SessionStore(10, 60.0, clock)
    store.pin("a", "tier_high")
    clock.advance(59.0)
    assert store.get("a") == "tier_high"  # used: its time starts again
    clock.advance(59.0)
    assert store.get("a") == "tier_high"
    clock.advance(60.5)
    assert store.get("a") is None
    assert len(store) == 0


def test_expired_sessions_go_when_new_ones_come() -> None:
    clock = Clock()
    store = SessionStore(1000, 10.0, clock)
    for i in range(100):
        store.pin(f"old{i}", "tier_low")
    clock.advance(11.0)
    store.pin("new", "tier_high")
    assert len(store) == 1


def test_memory_stays_bounded_under_any_traffic() -> None:
    store = SessionStore(100, 3600.0, Clock())
    for i in range(10_000):
        store.pin(f"s{i}", "tier_low")
    assert len(store) == 100
    assert store.get("s9999") == "tier_low"
    assert store.get("s0") is None


def test_zero_size_keeps_nothing() -> None:
    store = SessionStore(0, 60.0, Clock())
    store.pin("a", "tier_high")
    assert (store.get("a"), len(store)) == (None, 0)


def test_threads_share_one_store() -> None:
    store = SessionStore(50, 60.0, Clock())

    def work(n: int) -> None:
        for i in range(2000):
            store.pin(f"{n}-{i % 80}", "tier_high")
            store.get(f"{n}-{(i * 7) % 80}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 50


def test_conversation_key_is_the_system_prompt_and_first_user_message() -> None:
    first = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    later = [*first, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "ok"}]
    assert conversation_key(first) == conversation_key(later)
    other_system = [{"role": "system", "content": "Be long."}, {"role": "user", "content": "Hi"}]
    assert conversation_key(other_system) != conversation_key(first)
    # the boundary between the two texts is kept: ("ab", "c") is not ("a", "bc")
    a = [{"role": "system", "content": "ab"}, {"role": "user", "content": "c"}]
    b = [{"role": "system", "content": "a"}, {"role": "user", "content": "bc"}]
    assert conversation_key(a) != conversation_key(b)
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert conversation_key(parts) == conversation_key([{"role": "user", "content": "Hi"}])


def test_no_conversation_key_without_a_user_turn() -> None:
    assert conversation_key("a plain prompt") is None
    assert conversation_key([{"role": "system", "content": "x"}]) is None
    assert conversation_key([]) is None
