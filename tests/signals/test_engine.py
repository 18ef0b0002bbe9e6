"""Engine load signals: parsing recorded /metrics pages and polling upstreams.

The samples under samples/ are real llama-server recordings and vLLM / SGLang pages rebuilt
from the engines' own docs and issues (each file says where its format comes from).
"""

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_router.signals.engine import (
    EngineMonitor,
    UpstreamLoad,
    server_root,
    summarise,
)
from adaptive_router.signals.engine_parse import (
    EngineKind,
    EngineLoad,
    detect_engine,
    parse_llamacpp_slots,
    parse_metrics,
)
from tests.conftest import Clock

SAMPLES = Path(__file__).parent / "samples"
BASE = "http://10.0.0.5:8080/v1"
ROOT = "http://10.0.0.5:8080"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "engine", "running", "waiting", "kv_usage"),
    [
        ("llamacpp_idle.txt", "llama.cpp", 0.0, 0.0, None),
        ("llamacpp_busy1.txt", "llama.cpp", 1.0, 0.0, None),
        ("llamacpp_busy3.txt", "llama.cpp", 2.0, 1.0, None),
        ("llamacpp_legacy_kv.txt", "llama.cpp", 1.0, 0.0, 0.125),
        ("vllm_v0_10_dp2.txt", "vllm", 12.0, 2.0, 0.4375),  # two engines summed, fullest KV
        ("vllm_v0_7_legacy.txt", "vllm", 3.0, 1.0, 0.25),  # only vllm:gpu_cache_usage_perc
        ("sglang_docs.txt", "sglang", 162.0, 2826.0, 0.28),
        ("sglang_tp2.txt", "sglang", 24.0, 3.0, 0.6875),  # TP ranks repeat, not add up
    ],
)
def test_recorded_samples_parse_exactly(
    name: str, engine: EngineKind, running: float, waiting: float, kv_usage: float | None
) -> None:
    text = sample(name)
    assert detect_engine(text) == engine
    assert parse_metrics(text) == EngineLoad(engine, running, waiting, kv_usage)


def test_in_flight_is_running_plus_waiting_only_when_both_are_known() -> None:
    assert parse_metrics(sample("llamacpp_busy3.txt")).in_flight == 3.0
    assert EngineLoad("vllm", running=2.0).in_flight is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "<html><body><h1>404 Not Found</h1></body></html>",
        '{"error":{"code":501,"message":"This server does not support metrics endpoint."}}',
        '{"detail":"Not Found"}',
        "\x00\xff\ufffd binary junk",
        'vllm:num_requests_running{model_name="m" 3\n',
        "# HELP only comments\n# TYPE x gauge\n",
        'python_gc_objects_collected_total{generation="0"} 7.0\nprocess_open_fds 12\n',
    ],
)
def test_garbage_is_unknown_and_never_raises(text: str) -> None:
    assert detect_engine(text) == "unknown"
    assert parse_metrics(text) == EngineLoad("unknown", None, None, None)


@given(st.text())
def test_no_text_makes_the_parser_raise(text: str) -> None:
    parse_metrics(text)  # returns, whatever the text: the monitor must never crash on a page


_OTHER_METRIC = st.builds(
    "{} {}".format,
    st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True).filter(
        lambda name: not name.startswith(("vllm", "sglang", "llamacpp"))
    ),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(st.lists(_OTHER_METRIC, max_size=8), st.integers(0, 8))
def test_other_metrics_around_a_real_page_leave_its_figures_alone(
    others: list[str], at: int
) -> None:
    page = sample("vllm_v0_10_dp2.txt").splitlines()
    at = next((i for i in range(at, len(page)) if page[i].startswith("# HELP")), len(page))
    mixed = [*page[:at], *others, *page[at:]]  # between two metric families
    assert parse_metrics("\n".join(mixed) + "\n") == EngineLoad("vllm", 12.0, 2.0, 0.4375)


def test_a_figure_the_page_lacks_is_none_not_zero() -> None:
    load = parse_metrics('vllm:num_requests_running{model_name="m"} 2.0\n')
    assert load == EngineLoad("vllm", running=2.0, waiting=None, kv_usage=None)


def test_non_finite_values_are_unknown() -> None:
    text = "vllm:num_requests_running 1\nvllm:kv_cache_usage_perc NaN\n"
    text += "vllm:num_requests_waiting +Inf\n"
    assert parse_metrics(text) == EngineLoad("vllm", 1.0, None, None)


def test_one_bad_line_costs_only_that_line() -> None:
    text = (
        "# TYPE llamacpp:requests_processing gauge\n"
        "llamacpp:requests_processing 3\n"
        "llamacpp:something broken here\n"
        "llamacpp:requests_deferred 2\n"
    )
    assert parse_metrics(text) == EngineLoad("llama.cpp", 3.0, 2.0, None)


def test_llamacpp_metrics_served_as_a_json_string_are_read() -> None:
    # llama.cpp issue #17384: some Nov 2025 builds JSON-escaped the whole /metrics body
    quoted = json.dumps(sample("llamacpp_busy3.txt"))
    assert parse_metrics(quoted) == EngineLoad("llama.cpp", 2.0, 1.0, None)


def test_vllm_new_kv_name_wins_over_the_deprecated_one() -> None:
    text = "vllm:gpu_cache_usage_perc 0.9\nvllm:kv_cache_usage_perc 0.5\n"
    assert parse_metrics(text).kv_usage == 0.5
    assert parse_metrics("vllm:gpu_cache_usage_perc 0.9\n").kv_usage == 0.9


def test_counters_read_with_or_without_total_suffix() -> None:
    # prometheus_client's parser renames a counter's samples to ..._total; both spellings match
    typed = "# TYPE vllm:num_requests_running counter\nvllm:num_requests_running 4\n"
    assert parse_metrics(typed).running == 4.0
    assert parse_metrics("vllm:num_requests_running_total 5\n").running == 5.0


def test_data_parallel_ranks_add_up_and_shard_ranks_do_not() -> None:
    text = "".join(
        f'sglang:num_running_reqs{{dp_rank="{dp}",model_name="m",tp_rank="{tp}"}} {4 + dp}\n'
        for dp in (0, 1)
        for tp in (0, 1)
    )
    assert parse_metrics(text).running == 9.0  # 4 + 5, not 18


def test_forced_engine_reads_only_its_own_names() -> None:
    assert parse_metrics(sample("vllm_v0_10_dp2.txt"), "llama.cpp") == EngineLoad("llama.cpp")
    assert parse_metrics(sample("vllm_v0_10_dp2.txt"), "vllm").running == 12.0


def test_detection_prefers_the_engine_whose_load_gauges_are_there() -> None:
    text = "sglang:func_latency_seconds_count 3\nvllm:num_requests_running 1\n"
    assert detect_engine(text) == "vllm"
    assert detect_engine("sglang:prompt_tokens_total 3\n") == "sglang"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("llamacpp_slots_idle.json", (0, 2)),
        ("llamacpp_slots_busy1.json", (1, 2)),
        ("llamacpp_slots_busy3.json", (2, 2)),
    ],
)
def test_recorded_slots(name: str, expected: tuple[int, int]) -> None:
    assert parse_llamacpp_slots(json.loads(sample(name))) == expected


def test_slots_from_builds_that_reported_state() -> None:
    assert parse_llamacpp_slots([{"id": 0, "state": 1}, {"id": 1, "state": 0}]) == (1, 2)
    assert parse_llamacpp_slots([]) == (0, 0)


@pytest.mark.parametrize(
    "value",
    [None, "slots", 3, {"error": {"code": 501}}, [1, 2], [{"id": 0}], [{"is_processing": "yes"}]],
)
def test_slots_garbage_is_none(value: object) -> None:
    assert parse_llamacpp_slots(value) is None


# --- the monitor, on a fake network ---------------------------------------------------------

Route = tuple[int, str | bytes] | BaseException


class FakeNetwork:
    """Answers GETs (and POSTs) from a table of url -> (status, body) or an exception."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.calls: list[tuple[str, float]] = []
        self.bodies: list[bytes | None] = []  # None for a GET

    def __call__(self, url: str, timeout: float, body: bytes | None = None) -> tuple[int, bytes]:
        self.calls.append((url, timeout))
        self.bodies.append(body)
        route = self.routes.get(url, (404, b'{"detail":"Not Found"}'))
        if isinstance(route, BaseException):
            raise route
        status, body = route
        return status, body.encode() if isinstance(body, str) else body

    @property
    def urls(self) -> list[str]:
        return [url for url, _ in self.calls]


def llama_routes(
    metrics: str = "llamacpp_busy1.txt", slots: str = "llamacpp_slots_busy1.json"
) -> dict[str, Route]:
    return {
        f"{ROOT}/health": (200, '{"status":"ok"}'),
        f"{ROOT}/metrics": (200, sample(metrics)),
        f"{ROOT}/slots": (200, sample(slots)),
    }


@pytest.fixture
def make_monitor(clock: Clock) -> Iterator[Callable[..., EngineMonitor]]:
    monitors: list[EngineMonitor] = []

    def make(network: FakeNetwork, **kwargs: object) -> EngineMonitor:
        kwargs.setdefault("interval_s", 0)
        monitor = EngineMonitor([BASE], fetch=network, clock=clock, **kwargs)  # type: ignore[arg-type]
        monitors.append(monitor)
        return monitor

    yield make
    for monitor in monitors:
        monitor.close()


def test_healthy_llamacpp_upstream(
    make_monitor: Callable[..., EngineMonitor], clock: Clock
) -> None:
    network = FakeNetwork(llama_routes())
    load = make_monitor(network, timeout_s=0.25).poll()[BASE]
    assert load == UpstreamLoad(
        base_url=BASE,
        engine="llama.cpp",
        healthy=True,
        load=EngineLoad("llama.cpp", 1.0, 0.0, None),
        slots_busy=1,
        slots_total=2,
        taken_at=clock.now,
        error=None,
    )
    assert network.urls == [f"{ROOT}/health", f"{ROOT}/metrics", f"{ROOT}/slots", f"{ROOT}/props"]
    assert {timeout for _, timeout in network.calls} == {0.25}


def test_llamacpp_loading_the_model_is_not_healthy(
    make_monitor: Callable[..., EngineMonitor],
) -> None:
    loading = (503, sample("llamacpp_health_loading.json"))  # recorded while loading
    network = FakeNetwork({f"{ROOT}/health": loading, f"{ROOT}/metrics": loading})
    load = make_monitor(network).poll()[BASE]
    assert load.healthy is False
    assert load.load is None
    assert load.error is not None
    assert "/health answered 503 (loading the model)" in load.error


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), "refused"),
        (ConnectionRefusedError(111, "Connection refused"), "refused"),
        (urllib.error.URLError(TimeoutError("timed out")), "no answer in time"),
        (TimeoutError("timed out"), "no answer in time"),
    ],
)
def test_no_connection_is_not_healthy_and_skips_the_rest(
    make_monitor: Callable[..., EngineMonitor], exc: BaseException, said: str
) -> None:
    network = FakeNetwork({f"{ROOT}/health": exc})
    load = make_monitor(network).poll()[BASE]
    assert (load.healthy, load.load, load.engine) == (False, None, "unknown")
    assert load.slots_total is None
    assert load.error is not None
    assert said in load.error
    assert network.urls == [f"{ROOT}/health"]


def test_sglang_without_enable_metrics(make_monitor: Callable[..., EngineMonitor]) -> None:
    network = FakeNetwork({f"{ROOT}/health": (200, "")})  # everything else 404
    load = make_monitor(network, engine="sglang").poll()[BASE]
    assert (load.healthy, load.load, load.engine) == (True, None, "sglang")
    assert load.error == "/metrics answered 404: start SGLang with --enable-metrics"


def test_unknown_engine_without_metrics_names_both_flags(
    make_monitor: Callable[..., EngineMonitor],
) -> None:
    network = FakeNetwork({f"{ROOT}/health": (200, "")})
    load = make_monitor(network).poll()[BASE]
    assert load.healthy is True
    assert load.error is not None
    assert "--metrics" in load.error
    assert "--enable-metrics" in load.error


def test_llamacpp_without_metrics_still_reports_slots(
    make_monitor: Callable[..., EngineMonitor],
) -> None:
    routes = llama_routes(slots="llamacpp_slots_idle.json")
    routes[f"{ROOT}/metrics"] = (501, sample("llamacpp_metrics_disabled.json"))  # recorded
    load = make_monitor(FakeNetwork(routes)).poll()[BASE]
    assert (load.engine, load.healthy, load.load) == ("llama.cpp", True, None)
    assert (load.slots_busy, load.slots_total) == (0, 2)
    assert load.error == "/metrics answered 501: start llama-server with --metrics"


def test_a_page_of_no_known_engine(make_monitor: Callable[..., EngineMonitor]) -> None:
    network = FakeNetwork({f"{ROOT}/health": (200, ""), f"{ROOT}/metrics": (200, "up 1\n")})
    load = make_monitor(network).poll()[BASE]
    assert (load.engine, load.load) == ("unknown", None)
    assert load.error == "/metrics has no llama.cpp, vLLM or SGLang metrics"


def test_other_health_answers_are_unknown(make_monitor: Callable[..., EngineMonitor]) -> None:
    routes: dict[str, Route] = {
        f"{ROOT}/health": (401, "unauthorised"),
        f"{ROOT}/metrics": (200, sample("vllm_v0_10_dp2.txt")),
    }
    load = make_monitor(FakeNetwork(routes)).poll()[BASE]
    assert load.healthy is None
    assert load.load == EngineLoad("vllm", 12.0, 2.0, 0.4375)


def test_detected_engine_is_remembered(make_monitor: Callable[..., EngineMonitor]) -> None:
    routes: dict[str, Route] = {
        f"{ROOT}/health": (200, ""),
        f"{ROOT}/metrics": (200, sample("vllm_v0_7_legacy.txt")),
    }
    monitor = make_monitor(FakeNetwork(routes))
    assert monitor.poll()[BASE].engine == "vllm"
    routes[f"{ROOT}/metrics"] = urllib.error.URLError(TimeoutError("timed out"))
    again = monitor.poll()[BASE]
    assert (again.engine, again.healthy, again.load) == ("vllm", True, None)
    assert again.error == "/metrics: no answer in time"


def test_snapshot_is_read_only_and_swapped_per_round(
    make_monitor: Callable[..., EngineMonitor], clock: Clock
) -> None:
    monitor = make_monitor(FakeNetwork(llama_routes()))
    before = monitor.snapshot()
    assert before[BASE].error == "not polled yet"
    first = monitor.poll()
    assert monitor.snapshot() is first
    with pytest.raises(TypeError):
        first[BASE] = before[BASE]  # type: ignore[index]
    clock.advance(1.0)
    second = monitor.poll()
    assert second is not first
    assert second[BASE].taken_at == first[BASE].taken_at + 1.0


def test_warns_once_per_state_change(
    make_monitor: Callable[..., EngineMonitor], caplog: pytest.LogCaptureFixture
) -> None:
    routes: dict[str, Route] = {f"{ROOT}/health": ConnectionRefusedError(111, "refused")}
    monitor = make_monitor(FakeNetwork(routes))
    logger = "adaptive_router.signals.engine"
    with caplog.at_level(logging.INFO, logger=logger):
        for _ in range(3):
            monitor.poll()
        routes.update(llama_routes())
        for _ in range(3):
            monitor.poll()
        routes[f"{ROOT}/health"] = ConnectionRefusedError(111, "refused")
        monitor.poll()
    levels = [r.levelno for r in caplog.records if r.name == logger]
    assert levels == [logging.WARNING, logging.INFO, logging.WARNING]


def test_every_upstream_is_polled_at_its_root(clock: Clock) -> None:
    network = FakeNetwork({})
    monitor = EngineMonitor(
        ["http://a:1/v1", "http://b:2/v1/", "http://c:3", "http://a:1/v1"], fetch=network
    )
    assert list(monitor.poll()) == ["http://a:1/v1", "http://b:2/v1/", "http://c:3"]
    assert [u for u in network.urls if u.endswith("/health")] == [
        "http://a:1/health",
        "http://b:2/health",
        "http://c:3/health",
    ]


def test_server_root() -> None:
    assert server_root("http://h:8080/v1") == "http://h:8080"
    assert server_root("http://h:8080/v1/") == "http://h:8080"
    assert server_root("http://h:8080/") == "http://h:8080"
    assert server_root("http://h/proxy/v1") == "http://h/proxy"


@pytest.mark.parametrize("kwargs", [{"engine": "tgi"}, {"interval_s": -1.0}, {"timeout_s": 0.0}])
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        EngineMonitor([BASE], **kwargs)  # type: ignore[arg-type]


# --- the thread -----------------------------------------------------------------------------


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "stratum-engine-monitor"]


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_thread_polls_and_close_leaves_no_thread() -> None:
    network = FakeNetwork(llama_routes())
    monitor = EngineMonitor([BASE], interval_s=0.01, fetch=network)
    monitor.start()
    monitor.start()  # idempotent
    assert len(monitor_threads()) == 1
    wait_for(lambda: len(network.calls) >= 6)  # two rounds
    assert monitor.snapshot()[BASE].load == EngineLoad("llama.cpp", 1.0, 0.0, None)
    monitor.close()
    monitor.close()  # safe twice
    assert monitor_threads() == []


def test_context_manager_starts_and_stops() -> None:
    network = FakeNetwork(llama_routes())
    with EngineMonitor([BASE], interval_s=0.01, fetch=network) as monitor:
        wait_for(lambda: monitor.snapshot()[BASE].healthy is True)
    assert monitor_threads() == []


def test_zero_interval_starts_no_thread() -> None:
    with EngineMonitor([BASE], interval_s=0, fetch=FakeNetwork({})):
        assert monitor_threads() == []


def test_thread_outlives_a_broken_fetch(caplog: pytest.LogCaptureFixture) -> None:
    network = FakeNetwork({f"{ROOT}/health": RuntimeError("bug in a fetch function")})
    with (
        caplog.at_level(logging.ERROR, logger="adaptive_router.signals.engine"),
        EngineMonitor([BASE], interval_s=0.01, fetch=network),
    ):
        wait_for(lambda: len(network.calls) >= 3)
    assert "poll failed" in caplog.text
    assert monitor_threads() == []


# --- tier summary ---------------------------------------------------------------------------


def upstream(
    url: str,
    healthy: bool | None,
    load: EngineLoad | None = None,
    slots: tuple[int, int] | None = None,
    taken_at: float = 1.0,
) -> UpstreamLoad:
    busy, total = slots if slots else (None, None)
    return UpstreamLoad(url, "vllm", healthy, load, busy, total, taken_at)


def test_summarise_sums_counts_and_takes_the_fullest_cache() -> None:
    tier = summarise(
        [
            upstream("a", True, EngineLoad("vllm", 3.0, 1.0, 0.25), taken_at=5.0),
            upstream("b", True, EngineLoad("llama.cpp", 2.0, 0.0, None), (2, 4), taken_at=7.0),
            upstream("c", False, None, taken_at=6.0),
            upstream("d", None, EngineLoad("sglang", 1.0, None, 0.75)),
        ]
    )
    assert tier.healthy is True
    assert (tier.running, tier.waiting, tier.kv_usage) == (6.0, 1.0, 0.75)
    assert (tier.slots_busy, tier.slots_total) == (2, 4)
    assert (tier.upstreams, tier.newest_taken_at) == (4, 7.0)


def test_summarise_health_is_false_only_when_none_is_healthy() -> None:
    assert summarise([upstream("a", False), upstream("b", None)]).healthy is False
    assert summarise([upstream("a", None), upstream("b", None)]).healthy is None


def test_summarise_without_data_is_all_unknown() -> None:
    tier = summarise([upstream("a", None)])
    assert (tier.running, tier.waiting, tier.kv_usage, tier.slots_total) == (None,) * 4
    empty = summarise([])
    assert (empty.healthy, empty.upstreams, empty.newest_taken_at) == (None, 0, None)


# --- a real llama-server --------------------------------------------------------------------


def complete(base_url: str, max_tokens: int) -> None:
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": max_tokens}).encode()
    request = urllib.request.Request(
        base_url + "/completions", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def test_polls_a_real_llama_server(llama_server: str) -> None:
    monitor = EngineMonitor([llama_server], timeout_s=5.0)  # the real urllib fetch
    idle = monitor.poll()[llama_server]
    assert (idle.engine, idle.healthy, idle.error) == ("llama.cpp", True, None)
    assert (idle.slots_busy, idle.slots_total) == (0, 4)  # the fixture runs -np 4
    assert idle.load is not None
    assert (idle.load.running, idle.load.waiting) == (0.0, 0.0)
    assert idle.facts.context_tokens is not None  # from /props
    assert idle.facts.vision is False
    assert idle.facts.tools is True  # the stack runs llama-server with --jinja

    def one_in_flight() -> bool:
        now = monitor.poll()[llama_server]
        return now.slots_busy == 1 and now.load is not None and now.load.running == 1.0

    request = threading.Thread(target=complete, args=(llama_server, 200), daemon=True)
    request.start()
    try:
        wait_for(one_in_flight, timeout_s=30)  # /slots and /metrics both see it
    finally:
        request.join(timeout=120)
