"""What the ingest and feed integration tests share (no tests here): a real HTTP server on
127.0.0.1 serving feeds and pages, the ingest pipeline wired in this process, the ingest
service as a process, and reading ``articles.ingested`` back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
from faststream.redis import RedisBroker
from faststream.redis.parser.binary import BinaryMessageFormatV1
from pactwatch.contracts import ARTICLES_INGESTED, ArticleIngested
from pactwatch.streams import connect
from pactwatch_ingest.accepting import Intake
from pactwatch_ingest.feedstore import FeedStore
from pactwatch_ingest.fetching import Fetcher
from pactwatch_ingest.polling import Poller
from pactwatch_ingest.publishing import ArticlePublisher
from pactwatch_ingest.settings import IngestSettings

from tests.support import Service, start_service, stop_service, wait_ready

LOCAL_ONLY = "127.0.0.1/32"
"""The allow-list every test uses: feeds and pages are served on 127.0.0.1, nothing else."""


# --- a web server on 127.0.0.1 ----------------------------------------------------------------


@dataclass
class Reply:
    """How a route answers. ``etag``: answer 304 when the request carries it."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    etag: str | None = None
    stream_bytes: int = 0
    """Send this many bytes (in 64 KB chunks) instead of ``body``: a huge page."""


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class LocalWeb:
    """A threaded HTTP server on 127.0.0.1 whose routes the test changes as it goes.

    It records every request and the most requests it ever had in flight per path.
    """

    routes: dict[str, Reply | Callable[[], Reply]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def hits_of(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def start(self) -> LocalWeb:
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # the stdlib's naming
                path = self.path
                route = web.routes.get(path)
                reply = route() if callable(route) else route
                if reply is None:
                    reply = Reply(404, b"not found", "text/plain")
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = reply.status
                if reply.etag and headers.get("if-none-match") == reply.etag:
                    status = 304
                with web.lock:
                    web.hits.append(Hit(path, headers, status))
                    web.in_flight[path] = web.in_flight.get(path, 0) + 1
                    web.max_in_flight[path] = max(
                        web.max_in_flight.get(path, 0), web.in_flight[path]
                    )
                try:
                    if reply.delay_s:
                        time.sleep(reply.delay_s)
                    self._answer(reply, status)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (the size cap): what we test
                finally:
                    with web.lock:
                        web.in_flight[path] -= 1

            def _answer(self, reply: Reply, status: int) -> None:
                self.send_response(status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                if status == 304:
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_header("Content-Type", reply.content_type)
                size = reply.stream_bytes or len(reply.body)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if reply.stream_bytes:
                    chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
                    sent = 0
                    while sent < size:
                        piece = chunk[: size - sent]
                        self.wfile.write(piece)
                        sent += len(piece)
                else:
                    self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def local_web() -> Iterator[LocalWeb]:
    web = LocalWeb().start()
    try:
        yield web
    finally:
        web.stop()


# --- feeds and pages written for the tests ---------------------------------------------------

PARAGRAPHS = (
    "The foreign ministers of Freedonia and Sylvania put their names to a memorandum on "
    "shared management of the Blue River basin on Tuesday, closing two years of talks.",
    "Under the memorandum, a joint commission will publish water-flow figures every month "
    "and settle disputes over irrigation quotas before they reach the courts.",
    "Farmers' unions on both banks welcomed the text, while environmental groups asked for "
    "the commission's reports to be opened to independent scientists.",
)


def page_html(title: str, paragraphs: tuple[str, ...] = PARAGRAPHS, date: str = "") -> bytes:
    """An article page with navigation, a footer and boilerplate around the story."""
    meta = f'<meta property="article:published_time" content="{date}">' if date else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title} | Riverside Chronicle</title>"
        '<meta property="og:site_name" content="Riverside Chronicle">'
        f"{meta}</head><body><nav><a href='/'>Home</a> | <a href='/world'>World</a></nav>"
        f"<article><h1>{title}</h1>{body}<p>Share this article</p></article>"
        "<footer>© 2024 Riverside Chronicle. All rights reserved.</footer></body></html>"
    ).encode()


def rss(items: list[dict[str, str]], title: str = "Riverside Chronicle - World") -> bytes:
    """An RSS 2.0 document; each item may carry title, link, guid, pubDate, description and
    content (content:encoded)."""
    parts = []
    for item in items:
        xml = "".join(
            f"<{tag}>{_xml(item[key])}</{tag}>"
            for key, tag in (
                ("title", "title"),
                ("link", "link"),
                ("guid", "guid"),
                ("pubDate", "pubDate"),
                ("description", "description"),
            )
            if key in item
        )
        if "content" in item:
            xml += f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>"
        parts.append(f"<item>{xml}</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{_xml(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>World news</description>{''.join(parts)}</channel></rss>"
    ).encode()


def atom(entries: list[dict[str, str]], title: str = "Lakeside Dispatch") -> bytes:
    """An Atom 1.0 document; each entry may carry id, title, link, published (also its
    updated), summary and content (HTML)."""
    parts = []
    for entry in entries:
        xml = f"<id>{_xml(entry['id'])}</id><title>{_xml(entry.get('title', ''))}</title>"
        if "published" in entry:  # a feed that dates nothing leaves the date to the page
            xml += f"<updated>{entry['published']}</updated>"
        if "link" in entry:
            xml += f'<link rel="alternate" href="{_xml(entry["link"])}"/>'
        if "published" in entry:
            xml += f"<published>{entry['published']}</published>"
        if "summary" in entry:
            xml += f"<summary>{_xml(entry['summary'])}</summary>"
        if "content" in entry:
            xml += f'<content type="html">{_xml(entry["content"])}</content>'
        parts.append(f"<entry>{xml}</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{_xml(title)}</title><id>urn:test:lakeside</id>"
        f"<updated>2024-05-02T08:00:00Z</updated>{''.join(parts)}</feed>"
    ).encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- the pipeline's first stream -------------------------------------------------------------


def read_ingested(client: redis.Redis) -> list[ArticleIngested]:
    """Every message on ``articles.ingested``, decoded from FastStream's envelope."""
    out = []
    entries: Any = client.xrange(ARTICLES_INGESTED)
    for _id, fields in entries:
        body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
        out.append(ArticleIngested.model_validate_json(body))
    return out


def local_settings(redis_url: str, **overrides: Any) -> IngestSettings:
    """Settings for in-process tests: only 127.0.0.1 may be fetched, quick retries."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "fetch_allow_networks": LOCAL_ONLY,
        "fetch_backoff_s": 0.01,
        "fetch_backoff_max_s": 0.05,
        "fetch_retries": 1,
        "fetch_connect_timeout_s": 2.0,
        "fetch_read_timeout_s": 2.0,
        "fetch_total_timeout_s": 5.0,
        "feed_min_every_s": 1,
        **overrides,
    }
    return IngestSettings(**values)


@dataclass
class Pipeline:
    """ingest's feed machinery wired in this process, against the test Redis."""

    settings: IngestSettings
    store: FeedStore
    fetcher: Fetcher
    intake: Intake
    redis: Any

    def poller(self, clock: Callable[[], float] = time.time) -> Poller:
        return Poller(self.store, self.fetcher, self.intake, self.settings, clock=clock)


@asynccontextmanager
async def pipeline(settings: IngestSettings) -> AsyncIterator[Pipeline]:
    """A broker, a publisher on ``articles.ingested``, the feed store and the fetcher."""
    broker = RedisBroker(settings.redis_url)
    publisher = broker.publisher(stream=ARTICLES_INGESTED)
    client = connect(settings.redis_url)
    fetcher = Fetcher(settings)
    await broker.start()
    try:
        yield Pipeline(
            settings,
            FeedStore(client, settings.feed_prefix),
            fetcher,
            Intake(ArticlePublisher(client, publisher, known_ttl_s=3600)),
            client,
        )
    finally:
        await fetcher.aclose()
        await broker.stop()
        await client.aclose()


# --- the ingest service as a process ---------------------------------------------------------


def ingest_env(redis_url: str, **env: str) -> dict[str, str]:
    """The environment of an ingest process allowed to fetch from 127.0.0.1 only."""
    return {
        "REDIS_URL": redis_url,
        "PACTWATCH_FETCH_ALLOW_NETWORKS": LOCAL_ONLY,
        "PACTWATCH_FETCH_BACKOFF_S": "0.01",
        "PACTWATCH_FETCH_RETRIES": "1",
        "PACTWATCH_FEED_MIN_EVERY_S": "1",
        "PACTWATCH_FEED_TICK_S": "0.1",
        **env,
    }


@contextmanager
def ingest_service(redis_url: str, logs: Path, **env: str) -> Iterator[Service]:
    """The ingest service as its own process (see :func:`ingest_env`)."""
    service = start_service("ingest", ingest_env(redis_url, **env), logs)
    try:
        wait_ready(service)
        yield service
    finally:
        stop_service(service)
