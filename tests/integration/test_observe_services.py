"""Operating the services: /healthz, /readyz, /metrics, the log lines and ``pactwatch status``,
against running services (separate processes) and a real Redis, which one test stops.

The deduplicator is a worker (an AsgiFastStream app), the indexer an HTTP service (FastAPI):
both kinds answer the same endpoints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis
from faststream.redis import RedisBroker
from pactwatch.contracts import (
    ARTICLES_DUPLICATES,
    ARTICLES_INGESTED,
    ARTICLES_UNIQUE,
    Article,
    ArticleIngested,
)
from prometheus_client.parser import text_string_to_metric_families

from tests.support import ROOT, RedisServer, Service, services, wait_until

ARTICLES = 10
REPEATS = 2  # the same text again under another id: exact duplicates

PACTWATCH_STATUS = [sys.executable, "-m", "pactwatch_cli", "status"]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(service: Service) -> Samples:
    response = httpx.get(f"{service.base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def status(redis_url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PACTWATCH_STATUS, "--redis-url", redis_url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def publish(redis_url: str, messages: list[Any]) -> None:
    async def send() -> None:
        async with RedisBroker(redis_url) as broker:
            for message in messages:
                await broker.publish(message, stream=ARTICLES_INGESTED)

    anyio.run(send)


def drained(client: redis.Redis, stream: str, group: str) -> bool:
    groups: Any = client.xinfo_groups(stream) if client.exists(stream) else []
    for info in groups:
        if info["name"].decode() == group:
            last: Any = client.xinfo_stream(stream)["last-generated-id"]
            return bool(info["pending"] == 0 and info["last-delivered-id"] == last)
    return False


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The deduplicator and the indexer on their own Redis, after 12 articles (2 of them
    repeats) and one entry that is not a pactwatch message went through."""
    folder = tmp_path_factory.mktemp("observed")
    server = RedisServer(folder / "redis")
    server.start()
    env = {
        "REDIS_URL": server.url,
        "INDEX_URL": f"sqlite:///{folder / 'index.sqlite3'}",
        "PACTWATCH_POLL_MS": "50",
    }
    try:
        with services(["deduplicator", "indexer"], env, folder / "logs") as started:
            now = datetime.now(UTC)
            texts = [f"Article number {n} about a bridge over the river. " * 20 for n in range(10)]
            messages: list[Any] = [
                ArticleIngested(article=Article(id=f"a{n}", text=text), ingested_at=now)
                for n, text in enumerate(texts)
            ]
            messages += [
                ArticleIngested(article=Article(id=f"again{n}", text=texts[n]), ingested_at=now)
                for n in range(REPEATS)
            ]
            publish(server.url, messages)
            # written by another program, not a pactwatch message: a dead letter
            client = server.client()
            client.xadd(ARTICLES_INGESTED, {"hello": "world"})
            wait_until(
                lambda: (
                    drained(client, ARTICLES_INGESTED, "deduplicator")
                    and drained(client, ARTICLES_DUPLICATES, "indexer")
                ),
                timeout=60,
                what="the deduplicator and the indexer to drain their streams",
            )
            client.close()
            yield {"server": server, **{name: group[0] for name, group in started.items()}}
    finally:
        server.stop()


def test_health_and_readiness_of_a_worker_and_an_http_service(observed: dict[str, Any]) -> None:
    for name in ("deduplicator", "indexer"):
        service: Service = observed[name]
        health = httpx.get(f"{service.base_url}/healthz", timeout=10)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = httpx.get(f"{service.base_url}/readyz", timeout=10)
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def test_the_worker_counts_times_and_sizes_what_it_handled(observed: dict[str, Any]) -> None:
    found = scrape(observed["deduplicator"])
    labels = {"service": "deduplicator", "stream": ARTICLES_INGESTED}
    total = ARTICLES + REPEATS
    assert value(found, "pactwatch_messages_total", **labels, outcome="processed") == total
    assert value(found, "pactwatch_messages_total", **labels, outcome="dead_lettered") == 1
    assert value(found, "pactwatch_batch_size_sum", **labels) == total
    calls = value(found, "pactwatch_handler_seconds_count", **labels)
    assert calls is not None
    assert calls >= 1
    assert value(found, "pactwatch_batch_size_count", **labels) == calls
    bucket = value(found, "pactwatch_handler_seconds_bucket", **labels, le="+Inf")
    assert bucket == calls


def test_the_worker_reports_its_groups_backlog_read_at_scrape_time(
    observed: dict[str, Any],
) -> None:
    found = scrape(observed["deduplicator"])
    group = {"stream": ARTICLES_INGESTED, "group": "deduplicator"}
    assert value(found, "pactwatch_group_lag", **group) == 0
    assert value(found, "pactwatch_group_pending", **group) == 0
    assert value(found, "pactwatch_group_consumers", **group) == 2  # two per process
    assert value(found, "pactwatch_stream_length", stream=ARTICLES_INGESTED) == ARTICLES + 3
    assert value(found, "pactwatch_dlq_size", stream=ARTICLES_INGESTED) == 1
    assert value(found, "pactwatch_redis_up") == 1

    # entries waiting for a group that nobody reads show up as lag at the next scrape
    client = observed["server"].client()
    client.xgroup_create(ARTICLES_INGESTED, "deduplicator-shadow", id="0")
    try:
        # not the service's group: its own figures do not change, and the shadow is not shown
        again = scrape(observed["deduplicator"])
        assert value(again, "pactwatch_group_lag", **group) == 0
        shadow = {"stream": ARTICLES_INGESTED, "group": "deduplicator-shadow"}
        assert value(again, "pactwatch_group_lag", **shadow) is None
    finally:
        client.xgroup_destroy(ARTICLES_INGESTED, "deduplicator-shadow")
        client.close()


def test_the_http_service_reports_its_streams_too(observed: dict[str, Any]) -> None:
    found = scrape(observed["indexer"])
    labels = {"service": "indexer", "stream": ARTICLES_DUPLICATES}
    assert value(found, "pactwatch_messages_total", **labels, outcome="processed") == REPEATS
    for stream in ("articles.enriched", ARTICLES_DUPLICATES, "agreements.sighted"):
        assert value(found, "pactwatch_group_lag", stream=stream, group="indexer") == 0
        assert value(found, "pactwatch_group_pending", stream=stream, group="indexer") == 0
        assert value(found, "pactwatch_dlq_size", stream=stream) == 0


def test_every_line_about_a_message_names_service_stream_consumer_and_ids(
    observed: dict[str, Any],
) -> None:
    service: Service = observed["deduplicator"]
    lines = [json.loads(x) for x in service.output().splitlines() if x.startswith("{")]
    duplicates = [x for x in lines if x["event"] == "article.duplicate"]
    assert sorted(x["article_id"] for x in duplicates) == ["again0", "again1"]
    entries: Any = observed["server"].client().xrange(ARTICLES_INGESTED)
    ids = {fields_id.decode() for fields_id, _ in entries}
    for line in duplicates:
        assert line["service"] == "deduplicator"
        assert line["stream"] == ARTICLES_INGESTED
        assert line["group"] == "deduplicator"
        assert line["consumer"].rsplit("-", 1)[0].endswith(f"-{service.process.pid}")
        assert line["message_id"] in ids
    (dead,) = [x for x in lines if x["event"] == "delivery.dead_lettered"]
    assert dead["stream"] == ARTICLES_INGESTED
    assert dead["service"] == "deduplicator"


def test_status_shows_streams_groups_consumers_and_dead_letters(observed: dict[str, Any]) -> None:
    url = observed["server"].url
    done = status(url, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    streams = {s["name"]: s for s in document["streams"]}
    ingested = streams[ARTICLES_INGESTED]
    assert ingested["length"] == ARTICLES + 3
    assert ingested["last_minute"] == ARTICLES + 3
    (dedup,) = ingested["groups"]
    assert (dedup["name"], dedup["lag"], dedup["pending"]) == ("deduplicator", 0, 0)
    # the deduplicator's two consumers, named after its process
    pid = observed["deduplicator"].process.pid
    names = sorted(c["name"] for c in dedup["consumers"])
    assert [name.rsplit("-", 2)[1:] for name in names] == [[str(pid), "1"], [str(pid), "2"]]
    assert all(c["idle_ms"] >= 0 for c in dedup["consumers"])
    assert streams[ARTICLES_UNIQUE]["length"] == ARTICLES
    assert streams[ARTICLES_UNIQUE]["groups"] == []  # no extractor has run here
    (indexer,) = streams[ARTICLES_DUPLICATES]["groups"]
    assert (indexer["name"], indexer["lag"]) == ("indexer", 0)
    assert document["dead_letters"] == [
        {"stream": "articles.ingested.dlq", "source": ARTICLES_INGESTED, "length": 1}
    ]

    screen = status(url)
    assert screen.returncode == 0, screen.stderr
    lines = screen.stdout.splitlines()
    assert lines[0].startswith(f"pactwatch status · {url} · ")
    (row,) = [line.split() for line in lines if line.split()[:1] == [ARTICLES_INGESTED]]
    length = str(ARTICLES + 3)
    assert row[:6] == [ARTICLES_INGESTED, length, length, "deduplicator", "0", "0"]
    assert row[6] == names[0]
    # the second consumer on a line of its own under the first
    assert [line.split()[0] for line in lines if names[1] in line] == [names[1]]
    assert lines[-2:] == ["DEAD LETTERS", "articles.ingested.dlq  1"]


def test_status_watch_refreshes_until_interrupted(observed: dict[str, Any]) -> None:
    url = observed["server"].url
    for extra, marker in (([], "pactwatch status · "), (["--json"], '{"redis":')):
        process = subprocess.Popen(
            [*PACTWATCH_STATUS, "--watch", "--interval", "0.2", "--redis-url", url, *extra],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:
            if line.startswith(marker):
                seen.append(line)
            if len(seen) == 3:
                break
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        if extra:  # one JSON document per refresh, one per line
            assert all(json.loads(line)["streams"] for line in seen)


def test_readiness_turns_unready_when_redis_stops_and_ready_when_it_returns(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    env = {"REDIS_URL": server.url, "PACTWATCH_POLL_MS": "50"}
    try:
        with services(["deduplicator", "notifier"], env, tmp_path / "logs") as started:
            both = [started["deduplicator"][0], started["notifier"][0]]

            def readiness(service: Service) -> tuple[int, dict[str, Any]]:
                response = httpx.get(f"{service.base_url}/readyz", timeout=10)
                return response.status_code, response.json()

            assert [readiness(s)[0] for s in both] == [200, 200]
            # the notifier also reports the webhook worker's queues
            found = scrape(started["notifier"][0])
            for stream in ("articles.enriched", "alerts.agreements", "webhooks.deliveries"):
                assert value(found, "pactwatch_group_lag", stream=stream, group="notifier") == 0

            server.stop()
            for service in both:
                wait_until(
                    lambda s=service: readiness(s)[0] == 503,
                    timeout=30,
                    what=f"{service.name} to turn unready",
                )
                _, body = readiness(service)
                assert body["status"] == "unready"
                assert "redis" in body["reasons"]
                # alive all the same: an orchestrator must not restart it for Redis being away
                assert httpx.get(f"{service.base_url}/healthz", timeout=10).status_code == 200
                assert value(scrape(service), "pactwatch_redis_up") == 0
            down = status(server.url)
            assert down.returncode == 3
            assert "cannot read" in down.stderr

            server.start()  # same port, same data (AOF)
            for service in both:
                wait_until(
                    lambda s=service: readiness(s)[0] == 200,
                    timeout=60,
                    what=f"{service.name} to be ready again",
                )
                assert value(scrape(service), "pactwatch_redis_up") == 1
    finally:
        server.stop()


def test_status_needs_no_service_and_fails_clearly_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pactwatch_cli",
            "status",
            "--redis-url",
            "redis://:pw@127.0.0.1:1/0",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "pactwatch status: cannot read redis://:***@127.0.0.1:1/0" in done.stderr
    assert "pw@" not in done.stderr
    assert done.stdout == ""


def test_each_replica_names_its_service_for_the_replica_count(observed: dict[str, Any]) -> None:
    # the dashboard counts replicas by this gauge, whatever the scrape job is called
    for name in ("deduplicator", "indexer"):
        found = scrape(observed[name])
        infos = {
            labels: v for (metric, labels), v in found.items() if metric == "pactwatch_service_info"
        }
        assert infos == {(("service", name),): 1.0}
