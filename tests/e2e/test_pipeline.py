"""The whole pipeline as separate processes against a real Redis.

The article written from the seed's facts (a 27 October 2021 report mentioning the AZE-TUR
memorandum of alliance signed on 15 June, under two names) must raise exactly one alert, on
the pub/sub channel and on the durable stream; it must be searchable; and ingesting it again
must raise no second alert.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import pytest
import redis
from pactwatch.contracts import (
    ALERTS_CHANNEL,
    ALERTS_STREAM,
    ALERTS_STREAM_FIELD,
    ARTICLES_DUPLICATES,
    ARTICLES_ENRICHED,
    ARTICLES_INGESTED,
    ARTICLES_UNIQUE,
)

from tests.support import services, wait_until

pytestmark = pytest.mark.e2e

ALL = ["ingest", "deduplicator", "extractor", "indexer", "notifier"]


def seed_like_article() -> dict[str, Any]:
    """The first bundled sample: written for pactwatch from the seed story's facts."""
    samples = resources.files("pactwatch_cli").joinpath("samples/articles.jsonl")
    first: dict[str, Any] = json.loads(samples.read_text("utf-8").splitlines()[0])
    return first


class Listener:
    """Collects every message published on a pub/sub channel, from a thread."""

    def __init__(self, url: str, channel: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._pubsub: Any = cast(Any, self._client).pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel)
        self.messages: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message":
                self.messages.append(json.loads(message["data"]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pubsub.close()
        self._client.close()


def stream_entries(client: redis.Redis, stream: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Every entry of a stream (redis-py's stubs type replies loosely)."""
    return cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(stream))


def group_done(client: redis.Redis, stream: str, group: str) -> bool:
    """The group has read the whole stream and acknowledged everything it read."""
    last = client.xinfo_stream(stream)["last-generated-id"]
    for info in client.xinfo_groups(stream):
        if info["name"].decode() == group:
            return bool(info["last-delivered-id"] == last and info["pending"] == 0)
    return False


def pipeline_idle(client: redis.Redis) -> bool:
    return all(
        group_done(client, stream, group)
        for stream, group in [
            (ARTICLES_INGESTED, "deduplicator"),
            (ARTICLES_UNIQUE, "extractor"),
            (ARTICLES_ENRICHED, "indexer"),
            (ARTICLES_ENRICHED, "notifier"),
            (ARTICLES_DUPLICATES, "indexer"),
        ]
        if client.exists(stream)
    )


@pytest.fixture
def pipeline(redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {
        "REDIS_URL": redis_url,
        "INDEX_URL": f"sqlite:///{tmp_path / 'index.sqlite3'}",
        "PACTWATCH_POLL_MS": "50",
    }
    with services(ALL, env, tmp_path / "logs") as started:
        yield started


def test_seed_article_alerts_once_is_searchable_and_never_alerts_again(
    pipeline: dict[str, Any], redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    listener = Listener(redis_url, ALERTS_CHANNEL)
    ingest = pipeline["ingest"][0].base_url
    indexer = pipeline["indexer"][0].base_url
    article = seed_like_article()
    try:
        answer = httpx.post(f"{ingest}/articles", json=article, timeout=10)
        assert answer.status_code == 202, answer.text
        article_id = answer.json()["accepted"][0]["id"]

        wait_until(lambda: client.xlen(ALERTS_STREAM) >= 1, timeout=60, what="the alert")
        wait_until(lambda: pipeline_idle(client), timeout=60, what="the pipeline to drain")
        wait_until(lambda: len(listener.messages) >= 1, timeout=10, what="the pub/sub alert")

        entries = stream_entries(client, ALERTS_STREAM)
        assert len(entries) == 1
        alert = json.loads(entries[0][1][ALERTS_STREAM_FIELD.encode()])
        assert listener.messages == [alert]
        assert alert["parties"] == ["AZE", "TUR"]
        assert alert["status"] == "signed"
        assert alert["freshness"] == "earlier"  # reported in October, signed on 15 June
        assert alert["signed_on"] == "2021-06-15"
        assert alert["kind"] == "declaration"
        assert "Shusha Declaration" in alert["title"]
        assert alert["article"]["id"] == article_id
        assert alert["article"]["url"] == article["url"]

        hits = httpx.get(f"{indexer}/search", params={"q": "Zangilan"}, timeout=10).json()
        assert [hit["id"] for hit in hits["hits"]] == [article_id]

        again = httpx.post(f"{ingest}/articles", json=article, timeout=10)
        assert again.status_code == 202, again.text
        wait_until(
            lambda: client.xlen(ARTICLES_INGESTED) == 2 and pipeline_idle(client),
            timeout=60,
            what="the second copy to pass",
        )
        time.sleep(0.5)  # a second alert, if any, would be on its way by now
        assert client.xlen(ALERTS_STREAM) == 1
        assert len(listener.messages) == 1
        duplicates = stream_entries(client, ARTICLES_DUPLICATES)
        assert len(duplicates) == 1
    finally:
        listener.close()
        client.close()


def test_two_extractors_in_one_group_process_every_article_exactly_once(
    redis_url: str, tmp_path: Path
) -> None:
    from faststream.redis import RedisBroker
    from pactwatch.contracts import Article, ArticleDeduplicated

    count = 40
    env = {"REDIS_URL": redis_url, "PACTWATCH_BATCH_SIZE": "4", "PACTWATCH_POLL_MS": "50"}
    with services(["extractor"], env, tmp_path / "logs", replicas={"extractor": 2}) as started:
        broker = RedisBroker(redis_url)

        async def publish() -> None:
            async with broker:
                for n in range(count):
                    text = (
                        f"Kenya and Tanzania on Friday signed agreement number {n} on trade. "
                        "The two presidents attended the ceremony in Nairobi."
                    )
                    message = ArticleDeduplicated(
                        article=Article(id=f"x{n}", title=f"Story {n}", text=text),
                        ingested_at=datetime(2024, 1, 5, 10, tzinfo=UTC),
                    )
                    await broker.publish(message, stream=ARTICLES_UNIQUE)

        anyio.run(publish)
        client = redis.Redis.from_url(redis_url)
        wait_until(lambda: client.xlen(ARTICLES_ENRICHED) >= count, timeout=90, what="all")
        wait_until(lambda: group_done(client, ARTICLES_UNIQUE, "extractor"), timeout=30)
        time.sleep(0.5)

        ids = [_article_id(fields) for _, fields in stream_entries(client, ARTICLES_ENRICHED)]
        assert sorted(ids) == sorted(f"x{n}" for n in range(count))  # each once, none lost

        per_process = [_batched(service.output()) for service in started["extractor"]]
        assert sum(per_process) == count
        assert all(n > 0 for n in per_process), per_process  # both replicas shared the work
        client.close()


def _article_id(fields: dict[bytes, bytes]) -> str:
    """The article id inside a FastStream stream entry (its JSON body)."""
    from faststream.redis.parser.binary import BinaryMessageFormatV1

    raw = fields[b"__data__"]
    body, _ = BinaryMessageFormatV1.parse(raw)
    article_id: str = json.loads(body)["article"]["id"]
    return article_id


def _batched(log: str) -> int:
    total = 0
    for line in log.splitlines():
        if '"batch.extracted"' in line:
            total += json.loads(line)["size"]
    return total
