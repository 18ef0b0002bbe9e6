"""A real Prometheus (Debian's package) for the deploy tests, scraping the session's local
stack through the configuration :mod:`adaptive_router.stack.prometheus` writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adaptive_router.bench.fake_engine import free_port
from adaptive_router.stack.prometheus import prometheus_command, write_config
from adaptive_router.tiers import TIERS
from tests.stack.conftest import RunningStack

REPO = Path(__file__).resolve().parents[2]


def need(tool: str, install: str) -> str:
    """The tool's path, or skip saying how to get it; in CI, where scripts/test.sh installs
    them all, fail instead."""
    beside = Path(sys.executable).with_name(tool)  # installed into the venv by the dev extra
    found = str(beside) if beside.exists() else shutil.which(tool)
    if not found:
        message = f"{tool} is not installed ({install})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass
class Prometheus:
    url: str
    log: Path

    def api(self, path: str, **params: str) -> Any:
        """The ``data`` of a Prometheus HTTP API answer; fails with Prometheus' own error."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        assert body["status"] == "success", f"{path} {params}: {body.get('error')}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr}: {data['resultType']}"
        return data["result"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def prometheus(
    stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    binary = need("prometheus", "apt-get install prometheus")
    run_dir = tmp_path_factory.mktemp("prometheus")
    engines = {p.name: [p.url] for p in stack.state().parts if p.name in TIERS}
    config = write_config(run_dir, stack.url, engines, interval_s=1)
    port = free_port()
    log = run_dir / "prometheus.log"
    command = prometheus_command(Path(binary), config, run_dir / "data", port)
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = Prometheus(f"http://127.0.0.1:{port}", log)
    try:
        wait_ready(server, process)
        yield server
    finally:
        process.terminate()
        process.wait(30)


def wait_ready(server: Prometheus, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{server.log.read_text()}")
        try:
            with urllib.request.urlopen(server.url + "/-/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"prometheus not ready after {timeout_s} s:\n{server.log.read_text()}")
