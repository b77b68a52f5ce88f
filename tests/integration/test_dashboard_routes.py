"""The dashboard's routes on real Redis: the page and its assets (same origin only, with their
security headers), the latest alerts and where to follow on, the country names, access
control on the reads only; and the indexer process serving the page and the alert stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from pactwatch.contracts import ALERTS_STREAM, ALERTS_STREAM_FIELD
from pactwatch.http import json_errors, requires_key
from pactwatch_indexer.settings import IndexerSettings
from pactwatch_indexer.web.dashboard import add_dashboard
from pydantic import ValidationError
from redis.asyncio import Redis

from tests.integration.test_notify_harness import SSEClient
from tests.support import Service, free_port, services, wait_until

pytestmark = pytest.mark.anyio

STATIC = resources.files("pactwatch_indexer.web").joinpath("static")


def alert(n: int) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event": "agreement.signed",
        "alert_id": f"a{n}",
        "key": f"AZE-TUR:2021-06-{n:02d}:k{n}",
        "parties": ["AZE", "TUR"],
        "party_names": ["Azerbaijan", "Türkiye"],
        "kind": "declaration",
        "title": f"Declaration {n}",
        "status": "signed",
        "freshness": "signed",
        "evidence": "They signed it.",
        "confidence": 0.9,
        "article": {"id": f"art{n}"},
        "detected_at": "2021-06-15T10:00:00Z",
        "latency_ms": 12.0,
    }


def publish(client: redis.Redis, n: int) -> str:
    entry_id = client.xadd(ALERTS_STREAM, {ALERTS_STREAM_FIELD: json.dumps(alert(n))})
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def build_app(redis_client: Redis, dependencies: list[Any] | None = None) -> FastAPI:
    app = FastAPI()
    add_dashboard(app, redis_client, dependencies=dependencies or [])
    json_errors(app)
    return app


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    connection = Redis.from_url(redis_url)
    transport = httpx.ASGITransport(app=build_app(connection))
    async with httpx.AsyncClient(transport=transport, base_url="http://indexer") as http:
        yield http
    await connection.aclose()


async def test_the_page_is_served_with_a_policy_that_allows_only_this_origin(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/static/app.js"></script>' in answer.text


async def test_every_asset_the_page_names_is_served_from_this_origin(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/")).text
    named = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert set(named) == {"/static/app.js", "/static/style.css", "/static/favicon.svg"}
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for path in named:
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith(types[Path(path).suffix]), path
        assert answer.headers["cache-control"] == "no-cache"
        assert answer.headers["x-content-type-options"] == "nosniff"
        again = await client.get(path, headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304, path
    assert (await client.get("/static/nothing.js")).status_code == 404
    assert (await client.get("/static/%2e%2e/dashboard.py")).status_code == 404


def test_no_asset_loads_anything_from_another_origin() -> None:
    for name in ("index.html", "style.css", "app.js"):
        text = STATIC.joinpath(name).read_text("utf-8")
        assert "@import" not in text, name
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), name
        # the one absolute URL is SVG's namespace, a name and never fetched
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)


def test_the_script_never_parses_text_as_html() -> None:
    script = STATIC.joinpath("app.js").read_text("utf-8")
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", script)


async def test_recent_alerts_newest_first_and_where_to_follow_on(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    assert (await client.get("/alerts/recent")).json() == {"alerts": [], "last_id": "0-0"}
    ids = [publish(redis_client, n) for n in range(1, 4)]
    # an entry without an alert (another writer's) is passed over, never an error
    junk = redis_client.xadd(ALERTS_STREAM, {"something": "else"})
    body = (await client.get("/alerts/recent")).json()
    assert [a["id"] for a in body["alerts"]] == ids[::-1]
    assert body["alerts"][0]["alert"] == alert(3)
    assert body["last_id"] == (junk.decode() if isinstance(junk, bytes) else junk)
    two = (await client.get("/alerts/recent", params={"limit": 2})).json()
    assert [a["id"] for a in two["alerts"]] == [ids[2]]  # the junk entry took one of the two
    for bad in ("0", "201", "many"):
        answer = await client.get("/alerts/recent", params={"limit": bad})
        assert answer.status_code == 422
        assert "limit" in answer.json()["error"]


async def test_recent_alerts_say_so_when_redis_is_away() -> None:
    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    transport = httpx.ASGITransport(app=build_app(away))
    async with httpx.AsyncClient(transport=transport, base_url="http://indexer") as http:
        answer = await http.get("/alerts/recent")
    await away.aclose()
    assert answer.status_code == 503
    assert answer.json() == {"error": "the alert stream is unavailable (Redis); try again shortly"}


async def test_countries_are_every_iso_code_with_the_names_alerts_use(
    client: httpx.AsyncClient,
) -> None:
    countries = (await client.get("/countries")).json()
    assert len(countries) == 249
    assert {"code": "TUR", "name": "Türkiye"} in countries
    assert {"code": "KOR", "name": "South Korea"} in countries
    names = [c["name"] for c in countries]
    assert names == sorted(names)


async def test_access_control_guards_the_reads_not_the_page(redis_url: str) -> None:
    settings = IndexerSettings(api_keys=("k1",), open_reads=False)
    connection = Redis.from_url(redis_url)
    transport = httpx.ASGITransport(app=build_app(connection, [requires_key(settings)]))
    async with httpx.AsyncClient(transport=transport, base_url="http://indexer") as http:
        for path in ("/", "/static/app.js"):
            assert (await http.get(path)).status_code == 200, path
        for path in ("/alerts/recent", "/countries"):
            answer = await http.get(path)
            assert answer.status_code == 401, path
            assert "needs an API key" in answer.json()["error"]
            keyed = await http.get(path, headers={"Authorization": "Bearer k1"})
            assert keyed.status_code == 200, path
    await connection.aclose()


def test_the_heartbeat_stays_under_the_redis_read_timeout() -> None:
    assert IndexerSettings().sse_heartbeat_s <= 4.0
    with pytest.raises(ValidationError, match="less than or equal to 4"):
        IndexerSettings(sse_heartbeat_s=15)


# --- the indexer process ------------------------------------------------------------------


@pytest.fixture
def indexer(redis_url: str, tmp_path: Path) -> Iterator[Service]:
    env = {
        "REDIS_URL": redis_url,
        "INDEX_URL": f"sqlite:///{tmp_path / 'index.sqlite3'}",
        "PACTWATCH_SSE_HEARTBEAT_S": "0.2",
    }
    with services(["indexer"], env, tmp_path / "logs") as started:
        yield started["indexer"][0]


def test_the_indexer_serves_the_page_and_follows_the_alerts(
    indexer: Service, redis_client: redis.Redis
) -> None:
    page = httpx.get(f"{indexer.base_url}/", timeout=10)
    assert page.status_code == 200
    assert "pactwatch" in page.text
    first = publish(redis_client, 1)
    recent = httpx.get(f"{indexer.base_url}/alerts/recent", timeout=10).json()
    assert recent["last_id"] == first
    # what the page does: follow on from the newest id it showed
    stream = f"{indexer.base_url}/alerts/stream"
    with SSEClient(stream, {"Last-Event-ID": recent["last_id"]}) as follower:
        assert follower.status == 200
        wait_until(lambda: follower.comments, what="a heartbeat")
        second = publish(redis_client, 2)
        wait_until(lambda: follower.events, what="the new alert")
    (event,) = follower.events
    assert event.id == second
    assert json.loads(event.data)["title"] == "Declaration 2"
