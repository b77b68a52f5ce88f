"""Back-pressure: with the deduplicator stopped, ingest takes articles until the backlog passes
PACTWATCH_MAX_BACKLOG, then answers 429 with Retry-After; once the deduplicator is back every
accepted article comes out of it, and ingest accepts again."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis
from pactwatch.contracts import ARTICLES_DUPLICATES, ARTICLES_INGESTED, ARTICLES_UNIQUE

from tests.e2e.accounting import (
    Accounting,
    dead_lettered_ids,
    group_done,
    stream_article_ids,
    synthetic_text,
)
from tests.support import services, wait_until

pytestmark = pytest.mark.e2e

LIMIT = 30


def batch(start: int, size: int) -> list[dict[str, str]]:
    return [
        {
            "id": f"b{n}",
            "url": f"https://news.example/{n}",
            "title": f"Story {n}",
            "text": synthetic_text(n),
        }
        for n in range(start, start + size)
    ]


def test_ingest_refuses_past_the_backlog_limit_and_loses_nothing_it_accepted(
    redis_url: str, tmp_path: Path
) -> None:
    env = {
        "REDIS_URL": redis_url,
        "PACTWATCH_POLL_MS": "50",
        "PACTWATCH_MAX_BACKLOG": str(LIMIT),
        "PACTWATCH_BACKLOG_CHECK_S": "0.05",
        "PACTWATCH_RETRY_AFTER_S": "2",
        "PACTWATCH_FEEDS_ENABLED": "false",
    }
    client = redis.Redis.from_url(redis_url)
    accepted: set[str] = set()
    logs = tmp_path / "logs"
    with services(["ingest"], env, logs) as started:
        url = started["ingest"][0].base_url
        refused = None
        for start in range(0, 200, 10):
            # spaced by more than BACKLOG_CHECK_S: each request sees a fresh reading, so at
            # most the one request after the limit is crossed gets in (requests inside one
            # check interval share a reading, and a fast ingest fits several in 50 ms)
            time.sleep(0.1)
            answer = httpx.post(f"{url}/articles", json=batch(start, 10), timeout=30)
            if answer.status_code == 429:
                refused = answer
                break
            assert answer.status_code == 202, answer.text
            accepted.update(item["id"] for item in answer.json()["accepted"])
        assert refused is not None, "ingest never refused"
        assert refused.headers["retry-after"] == "2"
        body = refused.json()
        assert body["limit"] == LIMIT
        assert body["backlog"] > LIMIT
        assert "nothing from this request was accepted" in body["error"]
        assert LIMIT < len(accepted) <= LIMIT + 10
        assert set(stream_article_ids(client, ARTICLES_INGESTED)) == accepted

        with services(["deduplicator"], env, logs):
            wait_until(
                lambda: group_done(client, ARTICLES_INGESTED, "deduplicator"),
                timeout=60,
                what="the deduplicator to catch up",
            )
            # the backlog is read again within BACKLOG_CHECK_S: ingest takes articles again
            wait_until(
                lambda: (
                    httpx.post(f"{url}/articles", json=batch(1000, 1), timeout=30).status_code
                    == 202
                ),
                timeout=10,
                what="ingest to accept again",
            )
            accepted.add("b1000")
            wait_until(lambda: group_done(client, ARTICLES_INGESTED, "deduplicator"), timeout=30)

    books = Accounting(
        accepted=accepted,
        indexed=set(stream_article_ids(client, ARTICLES_UNIQUE)),
        duplicates=set(stream_article_ids(client, ARTICLES_DUPLICATES)),
        dead_lettered=set(dead_lettered_ids(client, [ARTICLES_INGESTED])[ARTICLES_INGESTED]),
    )
    books.report("backlog past its limit (indexed = passed the deduplicator)")
    assert not books.lost
    assert books.indexed == accepted
    assert not books.duplicates
    assert not books.dead_lettered
    client.close()
