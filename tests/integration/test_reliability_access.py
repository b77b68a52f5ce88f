"""Access control and bad input at the ingest boundary, and Redis behind a password.

- PACTWATCH_API_KEYS: writes and administration need ``Authorization: Bearer <key>``; reads
  stay open unless PACTWATCH_OPEN_READS=false; the key never appears in the logs;
- the ingest API, fuzzed in-process (hypothesis), never fails with a 500 and never loses a good
  item of a batch to a bad one; a body past the limit is refused from its Content-Length;
- a password-protected redis-server with an ACL user works through REDIS_URL alone.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pactwatch.contracts import ARTICLES_INGESTED, ARTICLES_UNIQUE, Article, ArticleIngested
from pactwatch.http import json_errors, requires_key
from pactwatch_ingest.accepting import Intake
from pactwatch_ingest.api import add_refusal_handlers, build_feeds_router, build_router
from pactwatch_ingest.settings import IngestSettings

from tests.e2e.accounting import stream_article_ids, synthetic_text
from tests.support import free_port, redis_server_binary, services

KEY = "s3cret-key-for-tests-0123456789"


class MemoryPublisher:
    def __init__(self) -> None:
        self.published: list[Article] = []

    async def publish(self, articles: Sequence[Article], ingested_at: datetime) -> list[bool]:
        self.published.extend(articles)
        return [False] * len(articles)


class NoFeeds:
    async def all(self) -> list[Any]:
        return []


def ingest_app(publisher: MemoryPublisher, **overrides: Any) -> FastAPI:
    values: dict[str, Any] = {"max_batch": 50, "max_body_bytes": 64 * 1024, **overrides}
    config = IngestSettings(**values)
    app = FastAPI()
    app.include_router(build_router(config, Intake(publisher), [requires_key(config)]))
    policy: Any = None
    store: Any = NoFeeds()
    app.include_router(
        build_feeds_router(config, store, policy, [requires_key(config, admin=True)])
    )
    json_errors(app)
    add_refusal_handlers(app, config)
    return app


def call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            return await client.request(method, path, **kwargs)

    return anyio.run(go)


GOOD = {"url": "https://news.example/a", "title": "Trade", "text": synthetic_text(1)}


def test_writes_need_the_key_reads_stay_open_administration_never() -> None:
    app = ingest_app(MemoryPublisher(), api_keys=KEY)
    missing = call(app, "POST", "/articles", json=GOOD)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in missing.json()["error"]
    wrong = call(app, "POST", "/articles", json=GOOD, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert KEY not in wrong.text
    good = call(app, "POST", "/articles", json=GOOD, headers={"Authorization": f"Bearer {KEY}"})
    assert good.status_code == 202, good.text
    # the feed list is administration: a key even to read it
    assert call(app, "GET", "/feeds").status_code == 401
    feeds = call(app, "GET", "/feeds", headers={"Authorization": f"bearer {KEY}"})
    assert feeds.status_code == 200

    several = ingest_app(MemoryPublisher(), api_keys=f"old-key, {KEY}")
    assert (
        call(
            several, "POST", "/articles", json=GOOD, headers={"Authorization": "Bearer old-key"}
        ).status_code
        == 202
    )
    assert call(ingest_app(MemoryPublisher()), "POST", "/articles", json=GOOD).status_code == 202


def test_bad_input_gets_a_clear_error_and_the_good_items_go_through() -> None:
    publisher = MemoryPublisher()
    app = ingest_app(publisher)
    cases: list[tuple[bytes, int, str]] = [
        (b'{"text": "unterminated', 422, "not valid JSON"),
        (b'{"title": "no text"}', 422, "text"),
        (b'{"text": 42}', 422, "text"),
        (b'"just a string"', 422, "JSON object"),
        (b'{"text": "caf\xe9 au lait"}', 422, "not UTF-8 text: byte 0xe9"),  # Latin-1
        (b'{"text": "old", "published": "0001-01-01"}', 422, "published"),
    ]
    for body, status, words in cases:
        answer = call(app, "POST", "/articles", content=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.text, (body, answer.text)
    future = call(app, "POST", "/articles", json={**GOOD, "published": "2999-01-01"})
    assert future.status_code == 202
    assert any("future" in note for note in future.json()["accepted"][0]["notes"])

    mixed = [GOOD, {"text": ""}, {**GOOD, "url": "ftp://x"}, {**GOOD, "url": None, "text": "b"}]
    answer = call(app, "POST", "/articles", json=mixed)
    assert answer.status_code == 202
    assert [a["index"] for a in answer.json()["accepted"]] == [0, 3]
    assert [r["index"] for r in answer.json()["rejected"]] == [1, 2]

    published = len(publisher.published)
    huge = call(
        app,
        "POST",
        "/articles",
        content=b"x" * 100,
        headers={"Content-Length": str(50 * 1024 * 1024), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert "exceeds the limit" in huge.json()["error"]
    assert len(publisher.published) == published


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
article_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=20), st.integers()),
        "url": st.one_of(st.text(max_size=30), st.just("https://news.example/x"), st.none()),
        "title": st.one_of(st.text(max_size=30), st.integers()),
        "text": st.one_of(st.text(max_size=200), st.integers(), st.none()),
        "published": st.one_of(
            st.text(max_size=20), st.dates().map(str), st.just("0001-01-01"), st.none()
        ),
        "source": st.text(max_size=20),
        "extra": json_values,
    },
)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # any integer: orjson refuses those past 64 bits


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(dumps),
    article_like.map(dumps),
    st.lists(article_like, max_size=6).map(dumps),
)


@given(bodies)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzzed_bodies_get_an_answer_never_a_server_error(body: bytes) -> None:
    publisher = MemoryPublisher()
    answer = call(ingest_app(publisher), "POST", "/articles", content=body)
    assert answer.status_code in (202, 413, 422), answer.text
    payload = answer.json()
    if answer.status_code == 202:
        accepted = payload["accepted"]
        assert len(accepted) == len(publisher.published)
        indices = [a["index"] for a in accepted] + [r["index"] for r in payload["rejected"]]
        items = json.loads(body)
        assert sorted(indices) == list(range(len(items) if isinstance(items, list) else 1))
    else:
        # a whole-request error, or every item refused with its fields named
        assert payload.get("error") or all(r["errors"] for r in payload["rejected"])
        assert not publisher.published


# --- real processes ---------------------------------------------------------------------


def test_the_ingest_process_requires_the_key_and_never_logs_it(
    redis_url: str, tmp_path: Path
) -> None:
    env = {"REDIS_URL": redis_url, "PACTWATCH_API_KEYS": KEY, "PACTWATCH_FEEDS_ENABLED": "false"}
    with services(["ingest"], env, tmp_path / "logs") as started:
        ingest = started["ingest"][0]
        url = f"{ingest.base_url}/articles"
        assert httpx.post(url, json=GOOD, timeout=30).status_code == 401
        bad = {"Authorization": f"Bearer {KEY}x"}
        assert httpx.post(url, json=GOOD, headers=bad, timeout=30).status_code == 401
        ok = {"Authorization": f"Bearer {KEY}"}
        assert httpx.post(url, json=GOOD, headers=ok, timeout=30).status_code == 202
        assert httpx.get(f"{ingest.base_url}/readyz", timeout=30).status_code == 200
        output = ingest.output()
    assert KEY not in output
    client = redis.Redis.from_url(redis_url)
    assert len(stream_article_ids(client, ARTICLES_INGESTED)) == 1
    client.close()


@pytest.fixture
def protected_redis(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A redis-server that needs a password, with an ACL user for pactwatch."""
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(),
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)),
            *("--save", "", "--appendonly", "no", "--requirepass", "admin-pass"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    admin = redis.Redis(port=port, password="admin-pass")
    deadline = time.monotonic() + 10
    while True:
        try:
            admin.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    admin.acl_setuser(
        "pactwatch", enabled=True, passwords=["+p@ss:word"], keys="*", commands=["+@all"]
    )
    try:
        yield port, "p%40ss%3Aword"  # URL-encoded in REDIS_URL
    finally:
        admin.close()
        process.terminate()
        process.wait(10)


def test_a_password_and_an_acl_user_work_through_redis_url_alone(
    protected_redis: tuple[int, str], tmp_path: Path
) -> None:
    port, password = protected_redis
    url = f"redis://pactwatch:{password}@127.0.0.1:{port}/0"
    env = {"REDIS_URL": url, "PACTWATCH_POLL_MS": "50"}
    with services(["deduplicator"], env, tmp_path / "logs") as started:
        client = redis.Redis.from_url(url)

        async def publish() -> None:
            from faststream.redis import RedisBroker

            async with RedisBroker(url) as broker:
                message = ArticleIngested(
                    article=Article(id="pw1", text=synthetic_text(7)),
                    ingested_at=datetime(2024, 1, 5),
                )
                await broker.publish(message, stream=ARTICLES_INGESTED)

        anyio.run(publish)
        deadline = time.monotonic() + 30
        while stream_article_ids(client, ARTICLES_UNIQUE) != ["pw1"]:
            assert time.monotonic() < deadline, started["deduplicator"][0].output()[-2000:]
            time.sleep(0.1)
        assert password not in started["deduplicator"][0].output()
        client.close()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, username="pactwatch", password="wrong").ping()
