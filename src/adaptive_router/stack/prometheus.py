"""The local stack's Prometheus: find (or install) the binary, write its configuration, build
its command line. ``stratum up --with prometheus`` supervises the process like an engine.

The alert rules are one file, shipped in this package (:data:`RULES_FILE`); the GPU compose
stack (deploy/compose.yaml) mounts the same file. Scrape jobs are ``stratum`` (the router)
and ``engine`` (each engine, labelled with its ``tier``): the rules and the Grafana dashboards
under deploy/grafana/ select on them.

    >>> engines = {"tier_low": ["http://127.0.0.1:8081/v1"],
    ...            "tier_high": ["http://127.0.0.1:8082/v1"]}
    >>> text = config_text("http://127.0.0.1:9000", engines)  # the YAML, for --dry-run
    >>> config = write_config(run_dir, "http://127.0.0.1:9000", engines)  # doctest: +SKIP
    >>> binary = prometheus_binary()  # doctest: +SKIP
    >>> prometheus_command(binary, config, run_dir / "prometheus", 9090)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from adaptive_router.errors import StackError

RULES_FILE = Path(__file__).with_name("prometheus-alerts.yml")
INSTALL_HINT = "apt-get install prometheus (Debian/Ubuntu), or see https://prometheus.io/download/"


def prometheus_binary(install: bool = True) -> Path:
    """The ``prometheus`` executable on PATH. When it is missing and ``install`` is true and we
    run as root where apt-get exists, install Debian's package first (apt's progress shows on
    the terminal); otherwise raise :class:`StackError` saying how to install it."""
    found = shutil.which("prometheus")
    if found:
        return Path(found)
    if install and _can_apt():
        print("Prometheus is missing: installing it with apt-get...", file=sys.stderr)
        for step in (["apt-get", "update", "-q"], [*_APT_INSTALL, "prometheus"]):
            if subprocess.run(step, env=_APT_ENV, check=False).returncode != 0:
                raise StackError(f"'{' '.join(step)}' failed; install Prometheus: {INSTALL_HINT}")
        found = shutil.which("prometheus")
        if found:
            return Path(found)
    raise StackError(f"prometheus is not installed: {INSTALL_HINT}")


_APT_INSTALL = ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
_APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def _can_apt() -> bool:
    return sys.platform == "linux" and os.geteuid() == 0 and shutil.which("apt-get") is not None


def scrape_config(
    router: str,
    engines: Mapping[str, Sequence[str]],
    rules: str,
    interval_s: float = 5.0,
) -> dict[str, Any]:
    """Prometheus' configuration as data: the router as job ``stratum``, engines as job
    ``engine`` labelled by tier, each scraped at ``/metrics`` on its host. Addresses are URLs
    (``https://gpu-box/v1``) or ``host:port`` (plain HTTP); ``rules`` is the rule file's path as
    Prometheus will see it."""
    interval = f"{interval_s:g}s"
    scheme, target = _split(router)
    jobs: list[dict[str, Any]] = [
        {"job_name": "stratum", "scheme": scheme, "static_configs": [{"targets": [target]}]}
    ]
    groups = [group for tier, urls in engines.items() for group in _engine_groups(tier, urls)]
    if groups:
        jobs.append({"job_name": "engine", "scheme": "http", "static_configs": groups})
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [rules],
        "scrape_configs": jobs,
    }


def _engine_groups(tier: str, urls: Sequence[str]) -> list[dict[str, Any]]:
    """One target group per scheme: an HTTPS engine carries ``__scheme__`` in its labels."""
    by_scheme: dict[str, list[str]] = {}
    for url in urls:
        scheme, target = _split(url)
        by_scheme.setdefault(scheme, []).append(target)
    return [
        {"targets": targets, "labels": {"tier": tier} | ({"__scheme__": s} if s != "http" else {})}
        for s, targets in by_scheme.items()
    ]


def config_text(
    router_url: str, engine_urls: Mapping[str, Sequence[str]], interval_s: float = 5.0
) -> str:
    """``prometheus.yml`` for the router and engines at these URLs (tier -> base URLs, as the
    stack knows them: ``http://127.0.0.1:8081/v1``), loading :data:`RULES_FILE`."""
    config = scrape_config(router_url, engine_urls, str(RULES_FILE), interval_s)
    return yaml.safe_dump(config, sort_keys=False)


def write_config(
    run_dir: Path,
    router_url: str,
    engine_urls: Mapping[str, Sequence[str]],
    interval_s: float = 5.0,
) -> Path:
    """Write :func:`config_text` to ``run_dir/prometheus.yml`` and return its path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "prometheus.yml"
    path.write_text(config_text(router_url, engine_urls, interval_s))
    return path


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(url: str) -> tuple[str, str]:
    """``(scheme, "host:port")`` of a URL or a bare ``host:port``."""
    parts = urlsplit(url if "//" in url else f"http://{url}")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except (KeyError, ValueError):
        port = None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        raise StackError(f"cannot scrape {url!r}: an http(s) URL with a host is needed")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return parts.scheme, f"{host}:{port}"


def prometheus_command(
    binary: Path, config: Path, data_dir: Path, port: int, host: str = "127.0.0.1"
) -> list[str]:
    """The command line that serves Prometheus on ``host:port`` with its data in
    ``data_dir`` (kept 7 days; ``/-/ready`` answers once it is up)."""
    return [
        str(binary),
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        "--storage.tsdb.retention.time=7d",
        f"--web.listen-address={host}:{port}",
    ]
