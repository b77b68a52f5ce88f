"""What the notifier's integration tests share (no tests here): seed-like enriched articles,
publishing them the way the extractor does, real HTTP receivers on 127.0.0.1, the notifier
as a process, and the CLI's alert/subscription commands as a process.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
from faststream.redis import RedisBroker
from pactwatch.contracts import (
    ALERTS_STREAM,
    ARTICLES_ENRICHED,
    AgreementRecord,
    Article,
    ArticleEnriched,
    Evidence,
    Kind,
    Signatory,
    Status,
)
from pactwatch.streams import connect
from pactwatch_notifier.alerting import process
from pactwatch_notifier.channels import AlertChannels
from pactwatch_notifier.registry import Registry

from tests.support import ROOT, Service, services

SEED_TITLE = "memorandum of understanding on cooperation in the defence industry"
SEED_EVIDENCE = (
    "On 15 June, Azerbaijan and Türkiye signed a memorandum of understanding on cooperation "
    "in the defence industry."
)


def enriched(
    article_id: str = "a-seed-report-az",
    *,
    source: str = "Report.az",
    published: date = date(2024, 10, 27),
    parties: tuple[str, str] = ("AZE", "TUR"),
    kind: Kind = "memorandum",
    title: str = SEED_TITLE,
    signed_on: str | None = "2024-06-15",
    status: Status = "signed",
    confidence: float = 0.9,
) -> ArticleEnriched:
    """A seed-like enriched article: a 27 October report of a memorandum signed on 15 June."""
    text = SEED_EVIDENCE
    return ArticleEnriched(
        article=Article(
            id=article_id,
            url=f"https://example.org/news/{article_id}",
            source=source,
            published=published,
            title="Azerbaijan and Türkiye deepen defence ties",
            text=text,
            language="en",
        ),
        ingested_at=datetime.now(UTC),
        countries=tuple(sorted(parties)),
        agreements=(
            AgreementRecord(
                parties=tuple(sorted(parties)),
                kind=kind,
                title=title,
                signatories=(Signatory(name="Zakir Hasanov", office="defence minister"),),
                signed_on=signed_on,
                status=status,
                bilateral=True,
                evidence=(Evidence(sentence=text, start=0, end=len(text)),),
                confidence=confidence,
            ),
        ),
    )


FRESH_TITLE = "treaty on energy transit"


def fresh_treaty(article_id: str = "a-fresh") -> ArticleEnriched:
    """A signing reported as it happens (the day after): freshness 'signed'."""
    return enriched(
        article_id,
        parties=("DEU", "FRA"),
        kind="treaty",
        title=FRESH_TITLE,
        signed_on="2024-10-26",
        confidence=0.8,
    )


def on_topic(topic: str) -> ArticleEnriched:
    """Another AZE-TUR agreement of the seed's date, distinct by its subject."""
    return enriched(f"a-{topic}", title=f"agreement on cooperation in {topic}")


def alert_entries(client: redis.Redis) -> list[tuple[str, bytes]]:
    """The alerts stream as (entry id, alert JSON)."""
    entries: Any = client.xrange(ALERTS_STREAM)
    return [(i.decode(), fields[b"alert"]) for i, fields in entries]


def listen(client: redis.Redis, pattern: str = "pactwatch.*") -> Any:
    """A plain redis-py pub/sub client on ``pattern``, its subscription confirmed."""
    pubsub: Any = client.pubsub()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
    pubsub.psubscribe(pattern)
    assert pubsub.get_message(timeout=2)["type"] == "psubscribe"
    return pubsub


def published(pubsub: Any) -> list[tuple[str, Any]]:
    """(channel, JSON body) of each message received so far."""
    got = []
    while (message := pubsub.get_message(timeout=0.3)) is not None:
        got.append((message["channel"].decode(), json.loads(message["data"])))
    return got


def drive_notifier(redis_url: str, *messages: ArticleEnriched) -> None:
    """What the notifier's handler does with each message (registry, then the public
    channels), run in this process: alerts without a notifier process."""

    async def run() -> None:
        client = connect(redis_url)
        try:
            registry = Registry(client)
            channels = AlertChannels(client, retention_days=90)
            for message in messages:
                outcome = await process(registry, message, lookback_days=365)
                await channels.publish(outcome.alerts, outcome.updates)
        finally:
            await client.aclose()

    asyncio.run(run())


def publish_enriched(redis_url: str, messages: Sequence[ArticleEnriched]) -> None:
    """Publish to ``articles.enriched`` exactly as the extractor does (FastStream envelope)."""

    async def publish() -> None:
        async with RedisBroker(redis_url) as broker:
            for message in messages:
                await broker.publish(message, stream=ARTICLES_ENRICHED)

    asyncio.run(publish())


# --- webhook receivers -----------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records every POST.

    ``script`` says how to answer the n-th request: a status code, or ``"hang"`` (hold the
    request open until :meth:`release`); past its end every request gets 200.
    """

    script: list[int | str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    open_requests: int = 0
    connections: int = 0
    """TCP connections accepted (the server keeps HTTP/1.1 connections alive)."""
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def accepted(self) -> list[Received]:
        """The requests answered with a 2xx."""
        with self.lock:
            return [r for r in self.requests if r.headers.get("x-test-answer", "200") == "200"]

    def release(self) -> None:
        self.released.set()

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as any real receiver

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self) -> None:  # the stdlib's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    n = len(receiver.requests)
                    answer = receiver.script[n] if n < len(receiver.script) else 200
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    headers["x-test-answer"] = str(answer)
                    receiver.requests.append(Received(self.path, headers, body, time.monotonic()))
                    if answer == "hang":
                        receiver.open_requests += 1
                if answer == "hang":
                    receiver.released.wait(60)
                    with receiver.lock:
                        receiver.open_requests -= 1
                    answer = 200
                self.send_response(int(answer))
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "11")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the notifier opens many connections at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def receivers(*scripts: list[int | str]) -> Iterator[list[Receiver]]:
    started = [Receiver(script=list(s)).start() for s in scripts]
    try:
        yield started
    finally:
        for receiver in started:
            receiver.stop()


# --- the notifier and the CLI as processes ------------------------------------------------


FAST_WEBHOOKS = {
    "PACTWATCH_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    "PACTWATCH_WEBHOOK_BACKOFF_S": "0.05",
    "PACTWATCH_WEBHOOK_BACKOFF_MAX_S": "0.2",
    "PACTWATCH_WEBHOOK_MAX_ATTEMPTS": "5",
    "PACTWATCH_WEBHOOK_TIMEOUT_S": "30",
    "PACTWATCH_POLL_MS": "20",
    "PACTWATCH_SSE_HEARTBEAT_S": "0.2",  # SSE readers in the tests see a line at least this often
}


@contextmanager
def notifiers(
    redis_url: str, logs: Path, replicas: int = 1, env: Mapping[str, str] | None = None
) -> Iterator[list[Service]]:
    """Notifier processes on ``redis_url``: webhooks to 127.0.0.1 allowed, quick retries."""
    full = {"REDIS_URL": redis_url, **FAST_WEBHOOKS, **(env or {})}
    with services(["notifier"], full, logs, {"notifier": replicas}) as started:
        yield started["notifier"]


_CLI = """
import argparse, sys
from pactwatch_cli import alerts, subscriptions
parser = argparse.ArgumentParser(prog="pactwatch")
sub = parser.add_subparsers(dest="command", required=True)
alerts.register(sub)
subscriptions.register(sub)
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def cli_command(*args: str) -> list[str]:
    """The ``pactwatch`` command line with this task's command modules, as a process."""
    return [sys.executable, "-c", _CLI, *args]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    import os

    return subprocess.run(
        cli_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def blocked_stream_readers(client: Any) -> int:
    """Clients blocked in XREAD right now: a reader that started is waiting for alerts."""
    return sum(
        1 for c in client.client_list() if c.get("cmd") == "xread" and "b" in c.get("flags", "")
    )


@dataclass
class Event:
    id: str | None
    event: str | None
    data: str


class SSEClient:
    """Reads a server-sent event stream in a thread, keeping events and comments."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.events: list[Event] = []
        self.comments: list[str] = []
        self.last_id: str | None = None
        """The last event id the stream set, as a browser keeps it (with or without data)."""
        self.status: int | None = None
        self.error: Exception | None = None
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> SSEClient:
        self._thread.start()
        assert self.connected.wait(20), "no answer from the SSE endpoint"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _read(self) -> None:
        import httpx

        try:
            self._follow()
        except httpx.HTTPError as exc:
            self.error = exc
            self.connected.set()

    def _follow(self) -> None:
        import httpx

        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client,
            client.stream("GET", self.url, headers=self.headers) as response,
        ):
            self.status = response.status_code
            self.connected.set()
            if response.status_code != 200:
                return
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(":"):
                    self.comments.append(line)
                elif not line:
                    if "data" in fields:
                        self.events.append(
                            Event(fields.get("id"), fields.get("event"), fields["data"])
                        )
                    fields = {}
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                    if name == "id":
                        self.last_id = fields[name]
