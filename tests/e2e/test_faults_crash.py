"""kill -9 an extractor in the middle of its batch: a surviving replica claims what it held,
every article is indexed exactly once, and the dead consumer is removed from the group once
nothing is pending on it."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import anyio
import pytest
import redis
from faststream.redis import RedisBroker
from pactwatch.contracts import ARTICLES_ENRICHED, ARTICLES_UNIQUE

from tests.e2e.accounting import (
    Accounting,
    dead_lettered_ids,
    idle,
    indexed,
    stream_article_ids,
    unique_message,
)
from tests.support import services, stop_service, wait_until

pytestmark = pytest.mark.e2e

COUNT = 500


def consumers(client: redis.Redis, stream: str, group: str) -> dict[str, int]:
    """Each consumer of ``group`` with its pending count."""
    infos = client.xinfo_consumers(stream, group)
    return {i["name"].decode(): int(i["pending"]) for i in infos}


def test_a_replica_finishes_the_batch_of_an_extractor_killed_mid_batch(
    redis_url: str, tmp_path: Path
) -> None:
    index = tmp_path / "index.sqlite3"
    env = {
        "REDIS_URL": redis_url,
        "INDEX_URL": f"sqlite:///{index}",
        "PACTWATCH_BATCH_SIZE": "16",
        "PACTWATCH_POLL_MS": "50",
        "PACTWATCH_CLAIM_IDLE_MS": "2000",
        "PACTWATCH_CONSUMER_STALE_S": "2",
    }
    client = redis.Redis.from_url(redis_url)
    names = ["extractor", "indexer"]
    with services(names, env, tmp_path / "logs", replicas={"extractor": 2}) as started:
        broker = RedisBroker(redis_url)

        async def publish() -> None:
            async with broker:
                for n in range(COUNT):
                    await broker.publish(unique_message(n), stream=ARTICLES_UNIQUE)

        anyio.run(publish)
        victim, survivor = started["extractor"]
        victim_name = f"{socket.gethostname()}-{victim.process.pid}"
        wait_until(
            lambda: consumers(client, ARTICLES_UNIQUE, "extractor").get(victim_name, 0) > 0,
            timeout=60,
            interval=0.01,
            what="the victim to hold a batch",
        )
        held = consumers(client, ARTICLES_UNIQUE, "extractor")[victim_name]
        stop_service(victim, signal.SIGKILL)

        wait_until(lambda: len(indexed(index)[0]) >= COUNT, timeout=120, what="every article")
        wait_until(lambda: idle(client), timeout=30, what="the pipeline to drain")
        wait_until(
            lambda: victim_name not in consumers(client, ARTICLES_UNIQUE, "extractor"),
            timeout=30,
            what="the dead consumer to be deleted",
        )
        assert '"delivery.claimed"' in survivor.output()
        assert survivor.process.poll() is None

    originals, duplicates = indexed(index)
    expected = {f"f{n}" for n in range(COUNT)}
    books = Accounting(
        accepted=expected,
        indexed=set(originals),
        duplicates=set(duplicates),
        dead_lettered={
            i for ids in dead_lettered_ids(client, [ARTICLES_UNIQUE]).values() for i in ids
        },
    )
    books.report(f"kill -9 extractor holding {held}")
    assert sorted(originals) == sorted(expected)  # each exactly once (and ids are unique rows)
    assert not books.lost
    assert not books.dead_lettered
    assert not books.duplicates
    # at least once, never lost: an entry may be enriched twice (the victim may have
    # published before dying), but each article is at least once on the enriched stream
    assert set(stream_article_ids(client, ARTICLES_ENRICHED)) == expected
    client.close()
