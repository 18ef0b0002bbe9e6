"""BenchConfig: what one ``stratum bench`` run measures, validated once.

A target is written ``name=URL[@MODEL]``: ``URL`` is an OpenAI-compatible base URL (``/v1``
is added when the URL has no path) and ``MODEL`` the ``model`` field sent to it. The model
is whatever follows the first ``@`` after the URL's path, so user:password@host URLs and
model names with ``/`` both work (write the path, ``/v1``, before such a model name):

    >>> parse_target("routed=http://127.0.0.1:9000/v1@auto")
    Target(name='routed', url='http://127.0.0.1:9000/v1', model='auto')
    >>> parse_target("vllm=http://gpu:8000/v1@google/gemma-3-27b-it").model
    'google/gemma-3-27b-it'
    >>> parse_target("low=http://127.0.0.1:8081").url
    'http://127.0.0.1:8081/v1'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from adaptive_router.errors import ConfigError

WorkloadKind = Literal["sharegpt", "synthetic", "mixed"]
Api = Literal["chat", "completions"]
WORKLOADS: tuple[WorkloadKind, ...] = ("sharegpt", "synthetic", "mixed")
DEFAULT_MODEL = "auto"
MAX_USERS = 1000


@dataclass(frozen=True, slots=True)
class Target:
    """One OpenAI-compatible endpoint to load, and the model name sent to it."""

    name: str
    url: str
    model: str = DEFAULT_MODEL


def parse_target(spec: str, default_model: str = DEFAULT_MODEL) -> Target:
    """Parse ``name=URL[@MODEL]``; raise ConfigError with the reason when it is malformed."""
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not name or not rest:
        raise ConfigError(f"--target must look like name=http://host:port/v1[@model], got {spec!r}")
    url, model = _split_model(rest.strip())
    return Target(name, normalize_url(url), model or default_model)


def _split_model(text: str) -> tuple[str, str]:
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text, ""
    slash = rest.find("/")
    at = rest.rfind("@") if slash < 0 else rest.find("@", slash)
    if at < 0:
        return text, ""
    return f"{scheme}://{rest[:at]}", rest[at + 1 :]


def normalize_url(url: str) -> str:
    """``http(s)://host[:port][/path]`` with ``/v1`` as the default path, no trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"target URL must look like http://host:port/v1, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"target URL has a bad port: {url!r}") from None
    path = parts.path.rstrip("/") or "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def apply_models(targets: list[Target], specs: tuple[str, ...]) -> list[Target]:
    """Apply ``--model`` values: ``MODEL`` for every target, ``name=MODEL`` for one."""
    names = {t.name for t in targets}
    for spec in specs:
        name, sep, model = spec.partition("=")
        if not sep:
            targets = [replace(t, model=spec) for t in targets]
        elif name not in names:
            raise ConfigError(f"--model {spec!r}: no target named {name!r}")
        else:
            targets = [replace(t, model=model) if t.name == name else t for t in targets]
    return targets


def parse_levels(text: str, kind: type[int] | type[float], what: str) -> tuple[float, ...]:
    """A comma-separated list of positive numbers (``1,10,50``)."""
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"{what} must be positive numbers, got {text!r}")
    return values


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Everything a run needs. ``rates`` set = open loop (Poisson); else closed loop.

    The run plan :func:`~adaptive_router.bench.settings.bench_config` makes of the user's
    :class:`~adaptive_router.bench.settings.BenchSettings`, which declare and check each
    value's range; this checks what only the plan holds: the targets and the load levels.
    """

    targets: tuple[Target, ...]
    workload: WorkloadKind = "sharegpt"
    data_dir: Path | None = None
    concurrencies: tuple[int, ...] = (1, 10, 50)
    rates: tuple[float, ...] = ()
    requests: int | None = 100
    duration_s: float | None = None
    warmup: int = 2
    seed: int = 0
    input_tokens: int = 256
    output_tokens: int = 128
    ignore_eos: bool = False
    hard_share: float = 0.3
    max_prompt_chars: int = 3000
    api: Api = "chat"
    temperature: float = 0.0
    timeout_s: float = 300.0
    keep_alive: bool = False
    unique_prefix: bool = True
    label: str = ""
    api_key: str = field(default="", repr=False)
    out: Path = Path("stratum-bench")

    def __post_init__(self) -> None:
        names = [t.name for t in self.targets]
        if not names:
            raise ConfigError("give at least one --target name=URL (or --preset)")
        if len(set(names)) != len(names):
            raise ConfigError(f"target names must differ, got {', '.join(names)}")
        if self.workload not in WORKLOADS:
            raise ConfigError(f"workload must be one of {', '.join(WORKLOADS)}")
        if any(not 1 <= c <= MAX_USERS for c in self.concurrencies):
            raise ConfigError(f"concurrency must be between 1 and {MAX_USERS}")
        if self.requests is None and self.duration_s is None:
            raise ConfigError("give --requests or --duration (or both) to bound each level")

    @property
    def open_loop(self) -> bool:
        """True when load is Poisson arrivals at ``rates``, not closed-loop users."""
        return bool(self.rates)

    @property
    def levels(self) -> tuple[float, ...]:
        """The load levels swept: request rates (open loop) or concurrencies."""
        return self.rates if self.rates else tuple(float(c) for c in self.concurrencies)

    @property
    def prompt_count(self) -> int:
        """How many distinct prompts a level may use (warm-up included)."""
        bound = self.requests if self.requests is not None else 2000
        return self.warmup + bound
