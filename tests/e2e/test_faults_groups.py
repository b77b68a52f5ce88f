"""Redis comes back without its data (a replaced node, no persistence, FLUSHALL): the consumer
groups are gone. Each worker recreates its group at id 0 and carries on, whether it was idle
or in the middle of a batch; nothing published after Redis came back is skipped, and a batch
that was in hand is published on the new Redis rather than lost.

(With AOF on, Redis comes back with its groups: tests/e2e/test_faults_redis_restart.py.)"""

from __future__ import annotations

import shutil
import socket
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import anyio
import pytest
import redis
from faststream.redis import RedisBroker
from pactwatch.contracts import (
    ARTICLES_ENRICHED,
    ARTICLES_INGESTED,
    ARTICLES_UNIQUE,
    Article,
    ArticleDeduplicated,
    ArticleIngested,
)
from pydantic import BaseModel

from tests.e2e.accounting import idle, stream_article_ids, synthetic_text
from tests.support import RedisServer, Service, services, wait_ready, wait_until

pytestmark = pytest.mark.e2e

AT = datetime(2024, 1, 5, 10, tzinfo=UTC)
ENV = {
    "PACTWATCH_POLL_MS": "50",
    "PACTWATCH_CLAIM_IDLE_MS": "2000",
    "PACTWATCH_FEEDS_ENABLED": "false",
}


def publish(url: str, stream: str, messages: list[BaseModel]) -> None:
    async def go() -> None:
        async with RedisBroker(url) as broker:
            for message in messages:
                await broker.publish(message, stream=stream)

    anyio.run(go)


def ingested(n: int) -> ArticleIngested:
    return ArticleIngested(
        article=Article(id=f"g{n}", title=f"Story {n}", text=synthetic_text(n)), ingested_at=AT
    )


def long_unique(n: int) -> ArticleDeduplicated:
    """~7,000 characters: a batch of these keeps spaCy busy for seconds."""
    text = " ".join(synthetic_text(n * 40 + k) for k in range(40))
    return ArticleDeduplicated(
        article=Article(id=f"b{n}", title=f"Long story {n}", text=text), ingested_at=AT
    )


def restart_empty(server: RedisServer) -> None:
    """Stop Redis, throw its data away, start it again on the same port: no stream, no group."""
    server.stop()
    shutil.rmtree(server.directory)
    server.start()
    client = server.client()
    assert client.dbsize() == 0
    client.close()


def held_by(client: redis.Redis, service: Service) -> int:
    consumer = f"{socket.gethostname()}-{service.process.pid}"
    infos = cast(list[dict[str, object]], client.xinfo_consumers(ARTICLES_UNIQUE, "extractor"))
    return sum(int(cast(int, i["pending"])) for i in infos if i["name"] == consumer.encode())


def recreated(service: Service) -> bool:
    return '"delivery.group_recreated"' in service.output()


def test_idle_workers_recreate_their_groups_when_redis_comes_back_empty(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    env = {**ENV, "REDIS_URL": server.url}
    try:
        with services(["deduplicator", "extractor"], env, tmp_path / "logs") as started:
            client = server.client()
            publish(server.url, ARTICLES_INGESTED, [ingested(n) for n in range(3)])
            wait_until(
                lambda: len(stream_article_ids(client, ARTICLES_ENRICHED)) == 3,
                timeout=60,
                what="the first articles enriched",
            )
            pairs = [(ARTICLES_INGESTED, "deduplicator"), (ARTICLES_UNIQUE, "extractor")]
            # both workers idle: all read and acknowledged, each waiting on an empty stream
            wait_until(lambda: idle(client, pairs), what="the workers idle")
            client.close()

            restart_empty(server)
            # published right away, likely before a worker notices: a group recreated at $
            # rather than 0 would skip them
            client = server.client()
            after = [ingested(n) for n in range(3, 8)]
            publish(server.url, ARTICLES_INGESTED, list(after))
            expected = sorted(m.article.id for m in after)
            wait_until(
                lambda: sorted(stream_article_ids(client, ARTICLES_ENRICHED)) == expected,
                timeout=60,
                what="the articles published after the restart, enriched",
            )
            wait_until(lambda: idle(client, pairs), what="acks")
            workers = [started["deduplicator"][0], started["extractor"][0]]
            for worker in workers:
                assert worker.process.poll() is None, worker.output()[-3000:]
                assert recreated(worker), worker.name
                wait_ready(worker, timeout=30)
            groups = {
                stream: [g["name"].decode() for g in client.xinfo_groups(stream)]
                for stream in (ARTICLES_INGESTED, ARTICLES_UNIQUE)
            }
            assert groups == {ARTICLES_INGESTED: ["deduplicator"], ARTICLES_UNIQUE: ["extractor"]}
            enriched = stream_article_ids(client, ARTICLES_ENRICHED)
            print(
                f"\nRedis back empty, workers idle: published after={len(after)} "
                f"enriched={len(set(enriched))} "
                f"more-than-once={len(enriched) - len(set(enriched))} "
                f"lost={len(set(expected) - set(enriched))}; groups recreated by "
                f"{', '.join(w.name for w in workers if recreated(w))}"
            )
            client.close()
    finally:
        server.stop()


def test_a_busy_worker_publishes_its_batch_and_recreates_its_group_when_redis_comes_back_empty(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    env = {**ENV, "REDIS_URL": server.url, "PACTWATCH_BATCH_SIZE": "16"}
    client = server.client()
    # the whole batch waits before the extractor starts, so its first read takes all of it
    client.xgroup_create(ARTICLES_UNIQUE, "extractor", id="0", mkstream=True)
    in_hand = [long_unique(n) for n in range(16)]
    publish(server.url, ARTICLES_UNIQUE, list(in_hand))
    client.close()
    try:
        with services(["extractor"], env, tmp_path / "logs") as started:
            extractor = started["extractor"][0]
            client = server.client()
            wait_until(lambda: held_by(client, extractor) == 16, timeout=60, interval=0.01)
            client.close()

            restart_empty(server)  # spaCy is still on the batch
            client = server.client()
            after = [long_unique(n) for n in range(100, 104)]
            publish(server.url, ARTICLES_UNIQUE, list(after))
            expected = {m.article.id for m in in_hand + after}
            wait_until(
                lambda: set(stream_article_ids(client, ARTICLES_ENRICHED)) == expected,
                timeout=90,
                what="the batch in hand and the articles published after, enriched",
            )
            wait_until(lambda: idle(client, [(ARTICLES_UNIQUE, "extractor")]), what="acks")
            assert extractor.process.poll() is None, extractor.output()[-3000:]
            assert recreated(extractor)
            wait_ready(extractor, timeout=30)
            copies = Counter(stream_article_ids(client, ARTICLES_ENRICHED))
            print(
                f"\nRedis back empty, extractor busy: in hand={len(in_hand)} "
                f"published after={len(after)} enriched={len(copies)} "
                f"more-than-once={sum(n > 1 for n in copies.values())} "
                f"lost={len(expected - set(copies))}"
            )
            # at least once: a publish cut off by the restart is made again in full
            assert set(copies) == expected
            client.close()
    finally:
        server.stop()
