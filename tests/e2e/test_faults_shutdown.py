"""SIGTERM while an extractor holds a batch: the batch is finished (published, then acknowledged)
when PACTWATCH_SHUTDOWN_GRACE_S allows it, or returned (left pending, for a replica to claim)
when it does not; the process exits with 0 either way, and once a second extractor has run,
every article is on articles.enriched exactly once."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import anyio
import pytest
import redis
from faststream.redis import RedisBroker
from pactwatch.contracts import ARTICLES_ENRICHED, ARTICLES_UNIQUE, Article, ArticleDeduplicated

from tests.e2e.accounting import article_id_of, group_done, stream_article_ids, synthetic_text
from tests.support import Service, start_service, stop_service, wait_ready, wait_until

pytestmark = pytest.mark.e2e

BATCH = 16
"""Articles per read: at a quarter of a second or more each, a batch keeps spaCy busy for
seconds, far longer than the short grace below."""
COUNT = 2 * BATCH
PARAGRAPHS = 40
"""Paragraphs per article: some 7,000 characters each."""
EXIT_MARGIN_S = 20.0
"""What the process may take past its grace: closing the broker and Redis, and a loaded CI
machine. A bound for a hung process, not a measurement."""


def long_message(n: int) -> ArticleDeduplicated:
    text = " ".join(synthetic_text(n * PARAGRAPHS + k) for k in range(PARAGRAPHS))
    return ArticleDeduplicated(
        article=Article(id=f"s{n}", title=f"Long story {n}", text=text),
        ingested_at=datetime(2024, 1, 5, 10, tzinfo=UTC),
    )


def publish(url: str, count: int) -> None:
    async def go() -> None:
        async with RedisBroker(url) as broker:
            for n in range(count):
                await broker.publish(long_message(n), stream=ARTICLES_UNIQUE)

    anyio.run(go)


def consumer_name_of(service: Service) -> str:
    """The extractor's consumer name (pactwatch.settings.consumer_name in that process)."""
    return f"{socket.gethostname()}-{service.process.pid}"


def held_by(client: redis.Redis, consumer: str) -> list[str]:
    """The entries of articles.unique pending on ``consumer`` in the extractor group."""
    pending = cast(
        list[dict[str, object]],
        client.xpending_range(ARTICLES_UNIQUE, "extractor", "-", "+", 1000, consumer),
    )
    return [cast(bytes, p["message_id"]).decode() for p in pending]


def articles_of(client: redis.Redis, entry_ids: list[str]) -> set[str]:
    """The article ids in these entries of articles.unique."""
    found = set()
    for entry_id in entry_ids:
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            client.xrange(ARTICLES_UNIQUE, entry_id, entry_id),
        )
        article_id = article_id_of(entries[0][1])
        assert article_id is not None
        found.add(article_id)
    return found


@pytest.mark.parametrize(
    ("grace_s", "outcome"), [(60.0, "finished"), (1.0, "returned")], ids=["finish", "return"]
)
def test_sigterm_mid_batch_finishes_or_returns_it_exits_0_and_loses_nothing(
    redis_url: str, tmp_path: Path, grace_s: float, outcome: str
) -> None:
    env = {
        "REDIS_URL": redis_url,
        "PACTWATCH_BATCH_SIZE": str(BATCH),
        "PACTWATCH_POLL_MS": "50",
        "PACTWATCH_CLAIM_IDLE_MS": "1000",
        "PACTWATCH_SHUTDOWN_GRACE_S": str(grace_s),
    }
    client = redis.Redis.from_url(redis_url)
    # every article is waiting before the extractor starts, so that its first read is a
    # whole batch
    client.xgroup_create(ARTICLES_UNIQUE, "extractor", id="0", mkstream=True)
    publish(redis_url, COUNT)
    expected = {f"s{n}" for n in range(COUNT)}
    first = start_service("extractor", env, tmp_path / "logs")
    second: Service | None = None
    try:
        victim = consumer_name_of(first)
        wait_until(lambda: held_by(client, victim), timeout=60, interval=0.01, what="a batch")
        held = held_by(client, victim)
        in_hand = articles_of(client, held)

        first.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            code = first.process.wait(grace_s + EXIT_MARGIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit {grace_s + EXIT_MARGIN_S}s after SIGTERM:\n{first.output()}")
        took = time.monotonic() - signalled
        assert code == 0, first.output()[-3000:]

        left = held_by(client, victim)
        enriched = stream_article_ids(client, ARTICLES_ENRICHED)
        if outcome == "finished":
            # the batch in hand was published, then acknowledged; nothing more was read
            assert left == []
            assert sorted(enriched) == sorted(in_hand)
        else:
            # cut short by the grace: nothing of it published, all of it still pending,
            # claimable by a replica after PACTWATCH_CLAIM_IDLE_MS
            assert '"delivery.stopped_late"' in first.output()
            assert left == held
            assert enriched == []
        finished = len(in_hand & set(enriched))

        second = start_service("extractor", env, tmp_path / "logs", replica=1)
        wait_ready(second)
        wait_until(
            lambda: set(stream_article_ids(client, ARTICLES_ENRICHED)) == expected,
            timeout=120,
            what="every article enriched by the replica",
        )
        wait_until(lambda: group_done(client, ARTICLES_UNIQUE, "extractor"), what="acks")
        copies = Counter(stream_article_ids(client, ARTICLES_ENRICHED))
        print(
            f"\nSIGTERM mid-batch (grace {grace_s:g}s): exit {code} after {took:.1f}s; "
            f"in hand {len(in_hand)}: finished={finished} returned={len(left)}; "
            f"then enriched={len(copies)}/{COUNT} "
            f"more-than-once={sum(n > 1 for n in copies.values())} "
            f"lost={len(expected - set(copies))}"
        )
        assert set(copies) == expected
        assert set(copies.values()) == {1}  # exactly once: finished or returned, never both
        if outcome == "returned":
            assert '"delivery.claimed"' in second.output()
        assert second.process.poll() is None
    finally:
        for service in (first, second):
            if service is not None:
                stop_service(service)
        client.close()
