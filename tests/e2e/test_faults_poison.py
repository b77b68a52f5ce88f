"""Poison messages: one whose handler always fails reaches the dead-letter stream after
PACTWATCH_MAX_DELIVERIES deliveries; entries another program wrote, or that do not decode, go
there at once; every other message goes through; ``pactwatch dlq`` lists them and, after the
fix, replays them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
import redis
from faststream.redis import RedisBroker
from pactwatch.contracts import ARTICLES_UNIQUE
from pactwatch.delivery import dead_letter_stream

from tests.e2e.accounting import Accounting, dead_lettered_ids, idle, indexed, unique_message
from tests.support import ROOT, services, start_service, stop_service, wait_ready, wait_until

pytestmark = pytest.mark.e2e

COUNT = 40
POISON = "p7"


def dlq(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pactwatch_cli", "dlq", *args, "--redis-url", redis_url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def test_a_poison_message_is_dead_lettered_after_n_deliveries_and_the_rest_go_through(
    redis_url: str, tmp_path: Path
) -> None:
    index = tmp_path / "index.sqlite3"
    env = {
        "REDIS_URL": redis_url,
        "INDEX_URL": f"sqlite:///{index}",
        "PACTWATCH_BATCH_SIZE": "8",
        "PACTWATCH_POLL_MS": "50",
        "PACTWATCH_CLAIM_IDLE_MS": "500",
        "PACTWATCH_MAX_DELIVERIES": "3",
    }
    client = redis.Redis.from_url(redis_url)
    logs = tmp_path / "logs"
    with services(["indexer"], env, logs):
        extractor = start_service(
            "extractor", {**env, "PACTWATCH_FAIL_ARTICLE_IDS": POISON}, logs, replica=0
        )
        try:
            wait_ready(extractor)
            broker = RedisBroker(redis_url)

            async def publish() -> None:
                async with broker:
                    for n in range(COUNT):
                        await broker.publish(unique_message(n, "p"), stream=ARTICLES_UNIQUE)

            anyio.run(publish)
            # written by other programs, in the middle of the stream: plain fields, and a
            # FastStream-looking entry whose JSON is broken
            client.xadd(ARTICLES_UNIQUE, {"article": '{"id": "x1"}', "from": "a shell script"})
            client.xadd(ARTICLES_UNIQUE, {"__data__": b'{"article": {"id": "x2", "text": '})
            wait_until(lambda: idle(client, [(ARTICLES_UNIQUE, "extractor")]), timeout=90)
            wait_until(lambda: len(indexed(index)[0]) >= COUNT - 1, timeout=60)
        finally:
            stop_service(extractor)

        letters = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            client.xrange(dead_letter_stream(ARTICLES_UNIQUE)),
        )
        by_reason: dict[str, list[dict[bytes, bytes]]] = {}
        for _, record in letters:
            by_reason.setdefault(record[b"reason"].decode(), []).append(record)
        assert sorted(by_reason) == ["failed", "undecodable"]
        [failed] = by_reason["failed"]
        assert failed[b"deliveries"] == b"3"
        assert failed[b"service"] == b"extractor"
        assert failed[b"group"] == b"extractor"
        assert b"InjectedFaultError" in failed[b"error"]
        assert b"field:__data__" in failed
        reasons = sorted(r[b"error"].decode() for r in by_reason["undecodable"])
        assert "no __data__ field (fields: article, from)" in reasons[0]
        assert "not a valid ArticleDeduplicated" in reasons[1]
        assert "json" in reasons[1].lower()

        books = Accounting(
            accepted={f"p{n}" for n in range(COUNT)},
            indexed=set(indexed(index)[0]),
            duplicates=set(indexed(index)[1]),
            dead_lettered=set(dead_lettered_ids(client, [ARTICLES_UNIQUE])[ARTICLES_UNIQUE]),
        )
        books.report("poison message")
        assert books.indexed == books.accepted - {POISON}
        assert POISON in books.dead_lettered
        assert not books.lost

        listed = dlq(redis_url, "list", "--stream", ARTICLES_UNIQUE, "--json")
        assert listed.returncode == 0, listed.stderr
        shown: list[dict[str, Any]] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert len(shown) == 3
        poison = next(s for s in shown if s["reason"] == "failed")
        assert poison["service"] == "extractor"
        assert poison["deliveries"] == 3
        assert POISON in poison["payload"]

        # the fix: an extractor without the fault; replay the poison message only
        fixed = start_service("extractor", env, logs, replica=1)
        try:
            wait_ready(fixed)
            replayed = dlq(
                redis_url, "replay", "--stream", ARTICLES_UNIQUE, "--id", poison["dlq_id"]
            )
            assert replayed.returncode == 0, replayed.stderr
            assert "1 message(s) back" in replayed.stdout
            wait_until(lambda: POISON in indexed(index)[0], timeout=60, what="the replayed one")
        finally:
            stop_service(fixed)
        assert client.xlen(dead_letter_stream(ARTICLES_UNIQUE)) == 2  # the undecodable stay
        assert dlq(redis_url, "replay", "--id", "0-1").returncode == 1
    client.close()
