"""Redis restarts (AOF on) in the middle of ingest: the services wait, reconnect and carry on;
ingest answers 503 with Retry-After while Redis is away, and every article it accepted ends up
indexed, marked duplicate or dead-lettered."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from pactwatch.contracts import ARTICLES_DUPLICATES, ARTICLES_INGESTED, ARTICLES_UNIQUE

from tests.e2e.accounting import Accounting, dead_lettered_ids, idle, indexed, synthetic_text
from tests.support import RedisServer, services, wait_until

pytestmark = pytest.mark.e2e

BATCHES = 24
SIZE = 10
REPEATS = {5, 17, 33, 101, 160}
"""Articles sent twice under another id: the second copy must be marked a duplicate."""


def batch(start: int) -> list[dict[str, str]]:
    items = []
    for n in range(start, start + SIZE):
        # a repeat has a new id and URL, and the text of an earlier article
        source = n - 3 if n in REPEATS else n
        items.append(
            {
                "id": f"r{n}",
                "url": f"https://news.example/r/{n}",
                "title": f"Story {source}",
                "text": synthetic_text(source),
            }
        )
    return items


class Sender(threading.Thread):
    """Posts every batch, again after a 503 or a dropped connection, until it is accepted."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.accepted: set[str] = set()
        self.refusals = 0
        self.sent = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for b in range(BATCHES):
                while True:
                    try:
                        answer = client.post("/articles", json=batch(b * SIZE))
                    except httpx.TransportError:
                        self.refusals += 1
                        time.sleep(0.2)
                        continue
                    if answer.status_code == 503:
                        assert answer.headers["retry-after"]
                        self.refusals += 1
                        time.sleep(0.2)  # shorter than Retry-After: the test is in a hurry
                        continue
                    assert answer.status_code == 202, answer.text
                    self.accepted.update(i["id"] for i in answer.json()["accepted"])
                    break
                self.sent += 1
                time.sleep(0.05)


def test_a_redis_restart_in_the_middle_of_ingest_loses_nothing_accepted(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    index = tmp_path / "index.sqlite3"
    env = {
        "REDIS_URL": server.url,
        "INDEX_URL": f"sqlite:///{index}",
        "PACTWATCH_POLL_MS": "50",
        "PACTWATCH_BATCH_SIZE": "16",
        "PACTWATCH_CLAIM_IDLE_MS": "2000",
        "PACTWATCH_FEEDS_ENABLED": "false",
        "PACTWATCH_RETRY_AFTER_S": "1",
    }
    names = ["ingest", "deduplicator", "extractor", "indexer"]
    try:
        with services(names, env, tmp_path / "logs") as started:
            sender = Sender(started["ingest"][0].base_url)
            sender.start()
            wait_until(lambda: sender.sent >= 6, timeout=60, what="ingest under way")
            server.stop()  # SIGTERM: Redis writes its AOF and exits
            time.sleep(1.5)
            server.start()
            sender.join(120)
            assert not sender.is_alive()
            client = server.client()
            wait_until(lambda: idle(client), timeout=90, what="the pipeline to drain")
            for service in (s for group in started.values() for s in group):
                assert service.process.poll() is None, f"{service.name} exited"
            waited = any('"delivery.waiting"' in s.output() for s in started["deduplicator"])
            assert waited  # the consumer met the outage and waited it out
    finally:
        server.stop()
    server.start()
    client = server.client()
    originals, duplicates = indexed(index)
    streams = [ARTICLES_INGESTED, ARTICLES_UNIQUE, ARTICLES_DUPLICATES]
    books = Accounting(
        accepted=sender.accepted,
        indexed=set(originals),
        duplicates=set(duplicates),
        dead_lettered={i for ids in dead_lettered_ids(client, streams).values() for i in ids},
    )
    books.report(f"Redis restart mid-ingest ({sender.refusals} refusals while it was away)")
    client.close()
    server.stop()
    assert len(sender.accepted) == BATCHES * SIZE
    assert not books.lost
    assert books.duplicates == {f"r{n}" for n in REPEATS}
    assert len(books.indexed) + len(books.duplicates) + len(books.dead_lettered) == len(
        books.accepted
    )
