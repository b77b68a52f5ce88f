"""The indexer as a real process: messages published to the real Redis streams (FastStream
envelope, as the other services publish them) are queryable over HTTP, redelivery changes
nothing, the CLI reads the same API, and the schema is upgraded or refused at start-up.

Run against both backends; the PostgreSQL one in a schema of its own on the test server.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis
from faststream.redis import RedisBroker
from pactwatch.contracts import (
    AGREEMENTS_SIGHTED,
    ARTICLES_DUPLICATES,
    ARTICLES_ENRICHED,
    GROUP_INDEXER,
)
from pactwatch_cli.__main__ import main as cli
from pactwatch_indexer.migrations import LATEST
from pactwatch_indexer.sqlite import SqliteStore
from pydantic import BaseModel

from tests.support import (
    RedisServer,
    Service,
    start_service,
    stop_service,
    wait_ready,
    wait_until,
)
from tests.unit.test_index_migrations import as_written_by
from tests.unit.test_index_store import (
    BACKENDS,
    SHUSHA,
    duplicate,
    enriched,
    index,
    postgres_schema,
    postgres_url,
    record,
    sighted,
)

INDEXER_DB = 7
"""A Redis database of its own: other tests flush db 0 around their services."""
KEY = "AZE-TUR:2021-06-15:alli-shusha:5e7a1c09"


def redis_url_of(server: RedisServer) -> str:
    return f"redis://127.0.0.1:{server.port}/{INDEXER_DB}"


@contextmanager
def running_indexer(redis_url: str, index_url: str, logs: Path, **env: str) -> Iterator[Service]:
    service = start_service(
        "indexer",
        {
            "REDIS_URL": redis_url,
            "INDEX_URL": index_url,
            "PACTWATCH_BATCH_SIZE": "8",
            "PACTWATCH_POLL_MS": "20",
            **env,
        },
        logs,
    )
    try:
        wait_ready(service)
        yield service
    finally:
        stop_service(service)


@pytest.fixture(scope="module", params=BACKENDS)
def indexer(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    url = redis_url_of(redis_server)
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    logs = tmp_path_factory.mktemp(f"indexer-{request.param}")
    if request.param == "sqlite":
        with running_indexer(url, f"sqlite:///{logs / 'index.sqlite3'}", logs) as service:
            yield service
    else:
        with (
            postgres_schema() as schema,
            running_indexer(url, postgres_url(schema), logs) as service,
        ):
            yield service


def publish(redis_url: str, stream: str, messages: Sequence[BaseModel]) -> None:
    """Publish as the pipeline's services do: FastStream's envelope, one entry per message."""

    async def send() -> None:
        async with RedisBroker(redis_url) as broker:
            for message in messages:
                await broker.publish(message, stream=stream)

    anyio.run(send)


def consumed(redis_url: str) -> bool:
    """Every entry of the indexer's streams delivered to the group and acknowledged."""
    client = redis.Redis.from_url(redis_url)
    try:
        for stream in (ARTICLES_ENRICHED, ARTICLES_DUPLICATES, AGREEMENTS_SIGHTED):
            if not client.exists(stream):
                continue
            last = client.xinfo_stream(stream)["last-generated-id"]
            groups = client.xinfo_groups(stream)
            group = next(g for g in groups if g["name"] == GROUP_INDEXER.encode())
            if group["pending"] or group["last-delivered-id"] != last:
                return False
        return True
    finally:
        client.close()


def log_events(service: Service) -> list[dict[str, Any]]:
    """The process's JSON log lines."""
    return [json.loads(line) for line in service.output().splitlines() if line.startswith("{")]


def get(service: Service, path: str, **params: Any) -> Any:
    response = httpx.get(f"{service.base_url}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def search_ids(service: Service, q: str, **params: Any) -> list[str]:
    return [hit["id"] for hit in get(service, "/search", q=q, **params)["hits"]]


def test_published_messages_become_searchable_and_redelivery_changes_nothing(
    indexer: Service, redis_server: RedisServer
) -> None:
    url = redis_url_of(redis_server)
    article = SHUSHA.model_copy(
        update={"article": SHUSHA.article.model_copy(update={"id": "i-shusha"})}
    )
    copy = duplicate("i-copy", "i-shusha", SHUSHA.article.title, SHUSHA.article.text)
    copy_elsewhere = duplicate("i-copy-2", "i-copy", "Syndicated", "x", source="APA")
    reingest = duplicate("i-shusha", "i-shusha", "Again", "The same article, sent twice.")
    sightings = [
        sighted(KEY, record(), "i-shusha", source="Azernews", first=True, alerted=True),
        sighted(KEY, record(), "i-other", source="Trend", seen=4),
    ]
    messages: list[tuple[str, Sequence[BaseModel]]] = [
        (ARTICLES_ENRICHED, [article]),
        (ARTICLES_DUPLICATES, [copy_elsewhere, copy, reingest]),
        (AGREEMENTS_SIGHTED, sightings),
    ]
    for stream, batch in messages:
        publish(url, stream, batch)
    wait_until(lambda: consumed(url), timeout=30, what="the indexer to consume the streams")

    def snapshot() -> tuple[Any, ...]:
        hits = get(indexer, "/search", q="Shusha declaration")["hits"]
        original = get(indexer, "/articles/i-shusha")
        agreement = get(indexer, f"/agreements/{KEY}")
        listing = get(indexer, "/agreements", party=["AZE", "TUR"])
        return (
            sorted((h["id"], h["duplicate_of"]) for h in hits),
            original["title"],
            [d["id"] for d in original["duplicates"]],
            original["agreement_keys"],
            agreement["mentions"],
            agreement["sources"],
            len(agreement["sightings"]),
            {a["article"]["id"]: [d["id"] for d in a["duplicates"]] for a in agreement["articles"]},
            [(a["key"], a["mentions"], a["sources"]) for a in listing["agreements"]],
        )

    before = snapshot()
    # two reports, a copy of the first and a copy of that copy: four mentions, three outlets
    assert before == (
        [("i-copy", "i-shusha"), ("i-shusha", None)],
        SHUSHA.article.title,
        ["i-copy"],
        [KEY],
        4,
        3,
        2,
        {"i-shusha": ["i-copy", "i-copy-2"], "i-other": []},
        [(KEY, 4, 3)],
    )
    # at-least-once delivery: the same messages again, in another order
    for stream, batch in reversed(messages):
        publish(url, stream, batch)
    wait_until(lambda: consumed(url), timeout=30, what="the redelivered messages")
    assert snapshot() == before


def test_many_articles_in_batches(indexer: Service, redis_server: RedisServer) -> None:
    url = redis_url_of(redis_server)
    batch = [
        enriched(f"bulk-{n:03d}", f"Corridor report {n}", "The transit corridor agreement.",
                 countries=("KAZ", "UZB"))
        for n in range(60)
    ]  # fmt: skip
    publish(url, ARTICLES_ENRICHED, batch)
    wait_until(lambda: consumed(url), timeout=30, what="the indexer to consume the batch")
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "corridor", "country": "UZB", "limit": 25}
        if cursor:
            params["cursor"] = cursor
        page = get(indexer, "/search", **params)
        ids += [h["id"] for h in page["hits"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(ids) == [f"bulk-{n:03d}" for n in range(60)]


def test_the_api_answers_errors_as_json(indexer: Service) -> None:
    bad = httpx.get(f"{indexer.base_url}/search", params={"q": '"unclosed'}, timeout=10)
    assert bad.status_code == 400
    assert "unbalanced quote" in bad.json()["error"]
    missing = httpx.get(f"{indexer.base_url}/articles/none-such", timeout=10)
    assert missing.status_code == 404
    assert missing.json() == {"error": "no article with id 'none-such'"}
    ready = httpx.get(f"{indexer.base_url}/readyz", timeout=10)
    assert ready.json() == {"status": "ready"}
    schema = httpx.get(f"{indexer.base_url}/openapi.json", timeout=10).json()
    assert "/agreements/{key}" in schema["paths"]


# --- the command line -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_data(indexer: Service, redis_server: RedisServer) -> Service:
    url = redis_url_of(redis_server)
    publish(
        url,
        ARTICLES_ENRICHED,
        [enriched("c-energy", "Energy roadmap <draft> & more", "An energy roadmap for 2030.",
                  countries=("AZE", "GEO"), source="Trend")],
    )  # fmt: skip
    publish(
        url,
        AGREEMENTS_SIGHTED,
        [sighted("AZE-GEO:2022:energy:0f", record(parties=("AZE", "GEO"), kind="roadmap",
                 title="Energy Roadmap", signed_on="2022", status="planned"), "c-energy",
                 source="Trend")],
    )  # fmt: skip
    wait_until(lambda: consumed(url), timeout=30, what="the indexer to consume the CLI data")
    return indexer


def test_cli_search_prints_hits(cli_data: Service, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["search", "energy roadmap", "--country", "GEO", "--url", cli_data.base_url])
    out = capsys.readouterr().out
    assert code == 0
    assert "  1. Energy roadmap <draft> & more" in out
    assert "2021-10-27  Trend  c-energy" in out
    assert "*energy* *roadmap*" in out
    assert "https://news.example/c-energy" in out


def test_cli_search_json(cli_data: Service, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["search", "roadmap", "--json", "--limit", "5", "--url", cli_data.base_url])
    assert code == 0
    body = json.loads(capsys.readouterr().out)
    assert [h["id"] for h in body["hits"]] == ["c-energy"]


def test_cli_search_with_no_match(cli_data: Service, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["search", "zanzibar", "--url", cli_data.base_url]) == 0
    assert capsys.readouterr().out == "no articles match\n"


def test_cli_agreements(
    cli_data: Service, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACTWATCH_INDEXER_URL", cli_data.base_url)
    code = cli(["agreements", "--party", "GEO", "--party", "aze", "--kind", "roadmap"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].split() == [
        "2022",
        "AZE–GEO",
        "roadmap",
        "planned",
        "Energy",
        "Roadmap",
    ]
    assert "1 mention(s) from 1 source(s)" in out
    assert "key AZE-GEO:2022:energy:0f" in out
    assert cli(["agreements", "--party", "GEO", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [a["key"] for a in body["agreements"]] == ["AZE-GEO:2022:energy:0f"]


def test_cli_reports_a_refused_query(cli_data: Service, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["search", "(energy", "--url", cli_data.base_url]) == 1
    err = capsys.readouterr().err
    assert "the indexer answered 400: q: unbalanced parentheses" in err
    assert cli(["agreements", "--party", "XYZ", "--url", cli_data.base_url]) == 1
    assert "party: 'XYZ' is not an ISO 3166-1 alpha-3 country code" in capsys.readouterr().err


def test_cli_reports_an_unreachable_indexer(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert cli(["search", "energy", "--url", url]) == 1
    assert f"pactwatch: cannot reach the indexer at {url}" in capsys.readouterr().err
    assert cli(["agreements", "--url", url]) == 1
    assert "cannot reach the indexer" in capsys.readouterr().err


# --- schema at start-up (SQLite; both backends' migrations are unit-tested) ---------------


def test_an_older_index_is_upgraded_at_start_up(redis_server: RedisServer, tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"

    async def write() -> None:
        store = SqliteStore(path)
        await store.open()
        await index(store, [SHUSHA])
        await store.close()

    anyio.run(write)
    as_written_by(("sqlite", f"sqlite:///{path}"), 1)
    with running_indexer(redis_url_of(redis_server), f"sqlite:///{path}", tmp_path) as service:
        assert search_ids(service, "Shusha") == ["a-shusha"]
        assert get(service, "/agreements") == {"agreements": [], "next_cursor": None}
        ready = [e for e in log_events(service) if e.get("event") == "index.ready"]
        assert [e["schema_version"] for e in ready] == [LATEST]


def test_an_index_newer_than_the_code_refuses_to_start(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    path = tmp_path / "newer.sqlite3"

    async def create() -> None:
        store = SqliteStore(path)
        await store.open()
        await store.close()

    anyio.run(create)
    with closing(sqlite3.connect(path)) as db:
        db.execute(
            "INSERT INTO schema_version (version, description, applied_at)"
            " VALUES (99, 'from the future', '2031-01-01T00:00:00.000000+00:00')"
        )
        db.commit()
    service = start_service(
        "indexer",
        {"REDIS_URL": redis_url_of(redis_server), "INDEX_URL": f"sqlite:///{path}"},
        tmp_path,
    )
    try:
        code = service.process.wait(60)
    finally:
        stop_service(service)
    assert code == 2
    output = service.output()
    assert "index.schema_refused" in output
    assert f"has schema version 99, but this indexer knows versions up to {LATEST} only" in output
