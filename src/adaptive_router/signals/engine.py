"""EngineMonitor: each upstream engine's health and load, read from its own endpoints.

A :class:`~adaptive_router.signals.poller.Poller` polls every upstream (given as its OpenAI
base URL, ``http://host:8080/v1``) each ``interval_s``: ``GET /health``, ``GET /metrics``
and, on llama.cpp, ``GET /slots``, all at the server root, with short timeouts. Each round
is published as one immutable mapping ``base_url -> UpstreamLoad`` by swapping a reference,
so readers on the request path never lock and never wait on the network. What an engine
does not say stays ``None``: the monitor never makes a number up. :func:`summarise` folds
one tier's upstreams into a :class:`TierLoad`.

Health: 200 is healthy; no connection, a timeout or a 5xx (llama.cpp answers 503 while it
loads the model) is not; any other answer is unknown. A missing ``/metrics`` (llama-server
without ``--metrics``, SGLang without ``--enable-metrics``) leaves ``load`` None and says which
flag turns it on, while health is still reported.

What each engine can take (:class:`~adaptive_router.signals.facts.EngineFacts`: context
window, vision, tools; see :mod:`adaptive_router.signals.facts`) is read on the first round an
engine answers and again every ``FACTS_EVERY_S`` seconds.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar, get_args

from adaptive_router.signals.engine_parse import (
    EngineKind,
    EngineLoad,
    EngineSetting,
    parse_llamacpp_slots,
    parse_metrics,
)
from adaptive_router.signals.facts import EngineFacts, Fetch, common_facts, read_facts
from adaptive_router.signals.poller import Poller

logger = logging.getLogger(__name__)

_Number = TypeVar("_Number", int, float)

FACTS_EVERY_S = 60.0  # an engine restarted with another context size is seen within this
_FACTS_RETRY_S = 5.0  # an engine that said nothing (still loading) is asked again this soon
_MAX_BODY = 8 * 1024 * 1024  # a vLLM page with many histograms is ~100 kB
_METRICS_HINT: dict[EngineKind, str] = {
    "llama.cpp": "start llama-server with --metrics",
    "sglang": "start SGLang with --enable-metrics",
    "vllm": "vLLM serves /metrics at the server root; check the URL",
    "unknown": "llama-server needs --metrics, SGLang --enable-metrics",
}


@dataclass(frozen=True, slots=True)
class UpstreamLoad:
    """One upstream at one moment. ``taken_at`` is on the monitor's monotonic clock.

    ``healthy`` is None when unknown; ``load`` is None when ``/metrics`` could not be read;
    ``slots_busy`` / ``slots_total`` come from llama.cpp's ``/slots`` (None elsewhere);
    ``error`` says what went wrong, if anything; ``facts`` is what the engine can take.
    """

    base_url: str
    engine: EngineKind
    healthy: bool | None
    load: EngineLoad | None
    slots_busy: int | None
    slots_total: int | None
    taken_at: float
    error: str | None = None
    facts: EngineFacts = field(default_factory=EngineFacts)


@dataclass(frozen=True, slots=True)
class TierLoad:
    """One tier's upstreams folded together (see :func:`summarise`)."""

    healthy: bool | None
    running: float | None
    waiting: float | None
    kv_usage: float | None
    slots_busy: int | None
    slots_total: int | None
    upstreams: int
    newest_taken_at: float | None
    engines: tuple[EngineKind, ...] = ()  # the kinds detected, sorted ("unknown" left out)
    facts: EngineFacts = field(
        default_factory=EngineFacts
    )  # what every upstream of the tier can take


def summarise(loads: Iterable[UpstreamLoad]) -> TierLoad:
    """Fold a tier's upstreams: healthy if any is, counts summed, KV usage the fullest, and
    facts that hold for every upstream (the smallest context; a capability one lacks, lacks).

    Sums cover only the upstreams that reported the figure; a figure nobody reported is None.
    Staleness is the caller's call: compare ``newest_taken_at`` with the monitor's clock.

        >>> one = UpstreamLoad("http://a/v1", "vllm", True, EngineLoad("vllm", 3.0, 1.0, 0.5),
        ...                    None, None, taken_at=10.0)
        >>> two = UpstreamLoad("http://b/v1", "vllm", False, None, None, None, taken_at=11.0)
        >>> tier = summarise([one, two])
        >>> tier.healthy, tier.running, tier.kv_usage, tier.newest_taken_at
        (True, 3.0, 0.5, 11.0)
    """
    items = tuple(loads)
    health = {item.healthy for item in items} - {None}
    engine_loads = [item.load for item in items if item.load is not None]
    return TierLoad(
        healthy=True if True in health else (False if health else None),
        running=_sum(load.running for load in engine_loads),
        waiting=_sum(load.waiting for load in engine_loads),
        kv_usage=max((ld.kv_usage for ld in engine_loads if ld.kv_usage is not None), default=None),
        slots_busy=_sum(item.slots_busy for item in items),
        slots_total=_sum(item.slots_total for item in items),
        upstreams=len(items),
        newest_taken_at=max((item.taken_at for item in items), default=None),
        engines=tuple(sorted({item.engine for item in items} - {"unknown"})),
        facts=common_facts([item.facts for item in items]),
    )


def urllib_fetch(url: str, timeout: float, body: bytes | None = None) -> tuple[int, bytes]:
    """GET ``url`` (or POST ``body`` as JSON) with urllib, ignoring proxy settings (engines
    are local); HTTP errors are answers (status, body), no answer raises OSError.

        >>> urllib_fetch("http://127.0.0.1:8080/health", 0.5)  # doctest: +SKIP
        (200, b'{"status":"ok"}')
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Accept": "text/plain, application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, body, headers)
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read(_MAX_BODY))
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.read(_MAX_BODY) if exc.fp is not None else b""
        finally:
            exc.close()


class EngineMonitor(Poller[Mapping[str, UpstreamLoad]]):
    """Polls the upstream engines every ``interval_s`` seconds; ``snapshot()`` is the latest
    round, ``base_url -> UpstreamLoad`` (read-only).

        >>> with EngineMonitor(["http://127.0.0.1:8080/v1"]) as monitor:  # doctest: +SKIP
        ...     monitor.snapshot()["http://127.0.0.1:8080/v1"].load.running
        1.0

    ``engine`` forces the engine kind instead of detecting it from ``/metrics``; ``fetch``
    replaces the HTTP GET (tests feed recorded pages); ``clock`` stamps readings.
    """

    thread_name = "stratum-engine-monitor"

    def __init__(
        self,
        upstreams: Sequence[str],
        interval_s: float = 1.0,
        *,
        engine: EngineSetting = "auto",
        timeout_s: float = 0.5,
        fetch: Fetch = urllib_fetch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if engine not in get_args(EngineSetting):
            raise ValueError(f"engine must be one of {get_args(EngineSetting)}, not {engine!r}")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self.upstreams = tuple(dict.fromkeys(upstreams))
        initial = MappingProxyType({url: _not_polled(url) for url in self.upstreams})
        super().__init__(interval_s, initial=initial, clock=clock)
        self.engine: EngineSetting = engine
        self.timeout_s = timeout_s
        self._fetch = fetch
        self._detected: dict[str, EngineKind] = {}
        self._facts: dict[str, tuple[EngineFacts, float]] = {}
        self._states: dict[str, tuple[object, ...]] = {}

    def _take(self) -> Mapping[str, UpstreamLoad]:
        return MappingProxyType({url: self._poll_one(url) for url in self.upstreams})

    def _join_timeout_s(self) -> float:
        return 5.0 + 3 * self.timeout_s * len(self.upstreams)

    def _poll_one(self, base_url: str) -> UpstreamLoad:
        root = server_root(base_url)
        healthy, errors, reachable = self._health(root)
        load, engine = None, self._engine_for(base_url)
        slots: tuple[int, int] | None = None
        facts = self._facts.get(base_url, (EngineFacts(), 0.0))[0]
        if reachable:
            load, engine, metrics_error = self._metrics(root, engine)
            errors += [metrics_error] if metrics_error else []
            slots = self._slots(root) if engine == "llama.cpp" else None
            facts = self._engine_facts(base_url, root, engine)
        if engine != "unknown":
            self._detected[base_url] = engine
        result = UpstreamLoad(
            base_url=base_url,
            engine=engine,
            healthy=healthy,
            load=load,
            slots_busy=slots[0] if slots else None,
            slots_total=slots[1] if slots else None,
            taken_at=self._clock(),
            error="; ".join(errors) or None,
            facts=facts,
        )
        self._log_change(result)
        return result

    def _engine_for(self, base_url: str) -> EngineKind:
        return self._detected.get(base_url, "unknown") if self.engine == "auto" else self.engine

    def _get(self, url: str) -> tuple[int, bytes] | str:
        """``(status, body)``, or why there was no answer."""
        try:
            return self._fetch(url, self.timeout_s)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return _describe(exc)

    def _health(self, root: str) -> tuple[bool | None, list[str], bool]:
        """(healthy, errors, reachable)."""
        got = self._get(root + "/health")
        if isinstance(got, str):
            return False, [f"/health: {got}"], False
        status, body = got
        if status == 200:
            return True, [], True
        if status >= 500:
            loading = " (loading the model)" if b"loading" in body.lower() else ""
            return False, [f"/health answered {status}{loading}"], True
        return None, [f"/health answered {status}"], True

    def _metrics(self, root: str, known: EngineKind) -> tuple[EngineLoad | None, EngineKind, str]:
        """(load, engine, error or "")."""
        got = self._get(root + "/metrics")
        if isinstance(got, str):
            return None, known, f"/metrics: {got}"
        status, body = got
        if status != 200:
            kind = known if known != "unknown" else _engine_from_error(status, body)
            hint = f": {_METRICS_HINT[kind]}" if status in (404, 501) else ""
            return None, kind, f"/metrics answered {status}{hint}"
        forced = None if self.engine == "auto" else self.engine
        load = parse_metrics(body.decode("utf-8", errors="replace"), forced)
        if load.engine == "unknown":
            return None, known, "/metrics has no llama.cpp, vLLM or SGLang metrics"
        return load, load.engine, ""

    def _engine_facts(self, base_url: str, root: str, engine: EngineKind) -> EngineFacts:
        """What the engine can take: read now if unknown or old, else as read before."""
        now = self._clock()
        cached = self._facts.get(base_url)
        if cached is not None:
            every = FACTS_EVERY_S if cached[0] != EngineFacts() else _FACTS_RETRY_S
            if now - cached[1] < every:
                return cached[0]
        llama = None if engine == "unknown" else engine == "llama.cpp"
        facts = read_facts(self._fetch, root, base_url, self.timeout_s, llama)
        self._facts[base_url] = (facts, now)
        return facts

    def _slots(self, root: str) -> tuple[int, int] | None:
        got = self._get(root + "/slots")
        if isinstance(got, str) or got[0] != 200:
            return None  # optional: llama-server --no-slots, or busy
        try:
            return parse_llamacpp_slots(json.loads(got[1]))
        except ValueError:
            return None

    def _log_change(self, result: UpstreamLoad) -> None:
        state = (result.healthy, result.engine, result.load is None, result.error)
        previous = self._states.get(result.base_url)
        if previous == state:
            return
        self._states[result.base_url] = state
        if result.error or result.healthy is False:
            logger.warning("engine %s: %s", result.base_url, result.error or "not healthy")
        elif previous is not None:
            logger.info("engine %s: %s, healthy, load readable", result.base_url, result.engine)


def server_root(base_url: str) -> str:
    """The engine's server root from its OpenAI base URL (a trailing ``/v1`` dropped).

    >>> server_root("http://127.0.0.1:8080/v1/")
    'http://127.0.0.1:8080'
    """
    url = base_url.rstrip("/")
    return url.removesuffix("/v1") if url.endswith("/v1") else url


def _not_polled(base_url: str) -> UpstreamLoad:
    return UpstreamLoad(base_url, "unknown", None, None, None, None, 0.0, "not polled yet")


def _engine_from_error(status: int, body: bytes) -> EngineKind:
    # llama-server answers 501 not_supported_error "... Start it with `--metrics`"
    return "llama.cpp" if status == 501 or b"--metrics" in body else "unknown"


def _describe(exc: BaseException) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    return str(reason) or type(reason).__name__


def _sum(values: Iterable[_Number | None]) -> _Number | None:
    known = [value for value in values if value is not None]
    return sum(known[1:], start=known[0]) if known else None
