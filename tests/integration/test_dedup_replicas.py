"""Two deduplicator replicas agree: copies arriving at the same moment are still one story.

The race is closed by Redis, not by luck: exact identities are claimed with SET NX inside a
script, and the LSH bands of an article are read and written by one script, so whichever
replica's script runs second sees the first copy.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import anyio
import redis as sync_redis
from faststream.redis import RedisBroker
from faststream.redis.parser.binary import BinaryMessageFormatV1
from pactwatch.contracts import (
    ARTICLES_DUPLICATES,
    ARTICLES_INGESTED,
    ARTICLES_UNIQUE,
    GROUP_DEDUPLICATOR,
    Article,
    ArticleIngested,
)
from pactwatch.streams import connect
from pactwatch_deduplicator.claims import RedisClaims, RedisLsh
from pactwatch_deduplicator.judging import judge
from pactwatch_deduplicator.nearness import Fingerprinter

from tests.support import services, wait_until

WORDS = (
    "ministers officials signed agreement railway port energy trade customs visa water "
    "health schools farmers bank loan bridge highway power plant pipeline fibre cable "
    "airport harbour market budget tariff quota border police court election parliament "
    "river dam fisheries mining copper gold oil gas wind solar grid housing hospital "
    "university students teachers tourism hotels airline flights cargo shipping navy army"
).split()


def story(n: int) -> str:
    """A distinct ~120-word text per n (deterministic, independent texts for distinct n)."""
    rng = random.Random(n)
    return f"Story {n}. " + " ".join(rng.choice(WORDS) for _ in range(120)) + "."


def entries(client: sync_redis.Redis, stream: str) -> list[dict[str, object]]:
    out = []
    for _, fields in cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(stream)):
        body, _ = BinaryMessageFormatV1.parse(fields[b"__data__"])
        out.append(cast(dict[str, object], json.loads(body)))
    return out


def test_two_replicas_claiming_copies_at_once_keep_exactly_one(redis_url: str) -> None:
    """The stores themselves, hit concurrently from two connections: one winner per family."""
    fingerprinter = Fingerprinter()
    families = 30

    async def go() -> list[list[str | None]]:
        a, b = connect(redis_url), connect(redis_url)
        stores = [
            (RedisClaims(r, prefix="t:", ttl_s=3600), RedisLsh(r, prefix="t:", window_s=3600))
            for r in (a, b)
        ]
        results: list[list[str | None]] = [[None, None] for _ in range(families)]

        async def replica(k: int, n: int) -> None:
            claims, lsh = stores[k]
            # copy k of story n: same text, one word changed (a near-duplicate)
            article = Article(id=f"s{n}-{k}", text=story(n) + (" Updated." if k else ""))
            (verdict,) = await judge(claims, lsh, fingerprinter, [(article, datetime.now(UTC))])
            results[n][k] = verdict.duplicate_of

        async with anyio.create_task_group() as tg:
            for n in range(families):
                tg.start_soon(replica, 0, n)
                tg.start_soon(replica, 1, n)
        await a.aclose()
        await b.aclose()
        return results

    for n, (first, second) in enumerate(anyio.run(go)):
        # exactly one of the two copies is new; the other points at it
        assert sorted([first is None, second is None]) == [False, True], (n, first, second)
        assert {first, second} - {None} <= {f"s{n}-0", f"s{n}-1"}


def test_two_deduplicator_processes_route_each_family_once(redis_url: str, tmp_path: Path) -> None:
    families, copies = 20, 3
    env = {"REDIS_URL": redis_url, "PACTWATCH_BATCH_SIZE": "2", "PACTWATCH_POLL_MS": "20"}
    with services(["deduplicator"], env, tmp_path / "logs", replicas={"deduplicator": 2}):
        broker = RedisBroker(redis_url)

        async def publish() -> None:
            async with broker:
                # copies of each story back to back, so that the two replicas read them together
                for n in range(families):
                    for k in range(copies):
                        text = story(n) + (f" Update {k}." if k else "")
                        message = ArticleIngested(
                            article=Article(
                                id=f"s{n}-{k}", url=f"https://x{k}.example/{n}", text=text
                            ),
                            ingested_at=datetime.now(UTC),
                        )
                        await broker.publish(message, stream=ARTICLES_INGESTED)

        anyio.run(publish)
        client = sync_redis.Redis.from_url(redis_url)
        total = families * copies
        wait_until(
            lambda: client.xlen(ARTICLES_UNIQUE) + client.xlen(ARTICLES_DUPLICATES) >= total,
            timeout=60,
            what="every article routed",
        )
        # two consumers in each process (the deduplicator's default), four in the group
        consumers = client.xinfo_consumers(ARTICLES_INGESTED, GROUP_DEDUPLICATOR)
        unique = [
            cast(dict[str, str], e["article"])["id"] for e in entries(client, ARTICLES_UNIQUE)
        ]
        duplicates = {
            cast(dict[str, str], e["article"])["id"]: cast(str, e["duplicate_of"])
            for e in entries(client, ARTICLES_DUPLICATES)
        }
        client.close()
    assert len(consumers) == 4
    assert len(unique) == families, sorted(unique)
    assert len(unique) + len(duplicates) == total
    for n in range(families):
        family = {f"s{n}-{k}" for k in range(copies)}
        (original,) = family & set(unique)
        for member in family - {original}:
            assert duplicates[member] == original
