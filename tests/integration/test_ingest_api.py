"""The ingest HTTP API as a real process on a real Redis: POST /articles, POST /articles/html,
the /feeds endpoints and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from pactwatch.contracts import ARTICLES_INGESTED

from tests.integration.test_ingest_harness import (
    PARAGRAPHS,
    LocalWeb,
    ingest_service,
    local_web,
    page_html,
    read_ingested,
)
from tests.support import RedisServer, Service

GOOD = {
    "url": "https://news.example/world/2024/05/06/customs?utm_source=x#top",
    "source": "Example News",
    "published": "2024-05-06",
    "title": "Customs protocol signed",
    "text": f"{PARAGRAPHS[0]}\n\n{PARAGRAPHS[1]}",
}


@pytest.fixture(scope="module")
def ingest(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    with ingest_service(
        redis_server.url,
        tmp_path_factory.mktemp("ingest-api"),
        PACTWATCH_MAX_BATCH="5",
        PACTWATCH_FEEDS_ENABLED="false",
    ) as service:
        yield service


@pytest.fixture
def api(ingest: Service, redis_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ingest.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    with local_web() as server:
        yield server


def test_one_article_is_published_before_the_answer(
    api: httpx.Client, redis_client: redis.Redis
) -> None:
    response = api.post("/articles", json=GOOD)
    assert response.status_code == 202
    # the answer came after Redis accepted: the message is there as soon as we look
    assert redis_client.xlen(ARTICLES_INGESTED) == 1
    (accepted,) = response.json()["accepted"]
    (message,) = read_ingested(redis_client)
    assert accepted == {
        "index": 0,
        "id": message.article.id,
        "known": False,
        "language": "en",
        "notes": [],
    }
    article = message.article
    assert article.url == GOOD["url"]
    assert article.published is not None
    assert article.published.isoformat() == "2024-05-06"
    assert article.text == GOOD["text"]
    # the id comes from the canonical URL: tracking parameters and fragment do not count
    again = api.post(
        "/articles", json={**GOOD, "url": "HTTPS://news.example/world/2024/05/06/customs"}
    )
    assert again.json()["accepted"][0]["id"] == article.id
    assert again.json()["accepted"][0]["known"] is True


def test_a_batch_publishes_the_good_items_and_names_the_bad_fields(
    api: httpx.Client, redis_client: redis.Redis
) -> None:
    batch: list[Any] = [
        GOOD,
        {"title": "no text"},
        {**GOOD, "url": "news.example/relative"},
        {**GOOD, "published": "0001-01-01"},
        {**GOOD, "published": 20240506},
        {**GOOD, "url": None, "text": "Another story entirely, about a railway treaty."},
    ]
    response = api.post("/articles", json=batch[:5])
    assert response.status_code == 202
    body = response.json()
    assert [a["index"] for a in body["accepted"]] == [0]
    fields = {r["index"]: [e["field"] for e in r["errors"]] for r in body["rejected"]}
    assert fields == {1: ["text"], 2: ["url"], 3: ["published"], 4: ["published"]}
    assert "1900" in body["rejected"][2]["errors"][0]["message"]
    assert redis_client.xlen(ARTICLES_INGESTED) == 1

    nothing = api.post("/articles", json=batch[1:3])
    assert nothing.status_code == 422
    assert nothing.json()["accepted"] == []

    too_many = api.post("/articles", json=[GOOD] * 6)
    assert too_many.status_code == 413
    assert "limit of 5" in too_many.json()["error"]

    broken = api.post("/articles", content=b'{"text": "unterminated', headers=_json)
    assert broken.status_code == 422
    assert "not valid JSON" in broken.json()["error"]
    latin1 = api.post("/articles", content='{"text": "Brasília"}'.encode("latin-1"), headers=_json)
    assert latin1.status_code == 422
    assert latin1.json()["error"].startswith("body is not UTF-8 text: byte 0xed at offset 14")
    assert redis_client.xlen(ARTICLES_INGESTED) == 1


_json = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("published", "reason"),
    [
        ("2999-01-01", "in the future"),
        ("sometime last spring", "could not be read"),
        ("03/04/2024", "ambiguous"),
    ],
)
def test_a_doubtful_date_is_recorded_as_unknown_with_its_reason(
    api: httpx.Client, redis_client: redis.Redis, published: str, reason: str
) -> None:
    response = api.post("/articles", json={**GOOD, "published": published})
    assert response.status_code == 202
    (message,) = read_ingested(redis_client)
    assert message.article.published is None
    (note,) = message.article.notes
    assert reason in note
    assert response.json()["accepted"][0]["notes"] == [note]


def test_text_is_cleaned_and_language_marked(api: httpx.Client, redis_client: redis.Redis) -> None:
    articles = [
        {
            "text": "<p>Ministers of Freedonia and Sylvania met in <b>Northgate</b> on Monday "
            "&amp; agreed to reopen the crossing.</p><p>Subscribe to our newsletter</p>"
            "<p>Leave a review</p>",
        },
        {
            "text": "Les ministres des affaires étrangères des deux pays ont signé mardi un "
            "accord sur la gestion commune du bassin du fleuve, après deux ans de négociations."
        },
        {
            "text": " date 2024-05-06 By Riverside Chronicle\n\n\nBy A. Reporter\n\n"
            f"{PARAGRAPHS[0]}\n\n{PARAGRAPHS[1]}\n"
        },
    ]
    response = api.post("/articles", json=articles)
    assert response.status_code == 202
    html, french, seed = (m.article for m in read_ingested(redis_client))
    assert html.text == (
        "Ministers of Freedonia and Sylvania met in Northgate on Monday & agreed to reopen "
        "the crossing."
    )
    assert html.notes == ("HTML markup removed from the text", "2 boilerplate lines removed")
    assert french.language == "fr"  # accepted and marked; the extractor skips it
    assert (seed.source, str(seed.published)) == ("Riverside Chronicle", "2024-05-06")
    assert seed.text == f"{PARAGRAPHS[0]}\n\n{PARAGRAPHS[1]}"


def test_html_pages_are_extracted(api: httpx.Client, redis_client: redis.Redis) -> None:
    page = page_html("Blue River memorandum signed", date="2024-05-07T08:00:00+02:00")
    response = api.post(
        "/articles/html",
        json=[
            {"url": "https://chronicle.example/river", "html": page.decode()},
            {"url": "https://chronicle.example/empty", "html": "<html><body></body></html>"},
            {"html": ""},
        ],
    )
    assert response.status_code == 202
    body = response.json()
    assert [a["index"] for a in body["accepted"]] == [0]
    assert {r["index"]: r["errors"][0]["field"] for r in body["rejected"]} == {
        1: "html",
        2: "html",
    }
    (message,) = read_ingested(redis_client)
    article = message.article
    assert article.title == "Blue River memorandum signed"
    assert article.text == "\n\n".join(PARAGRAPHS)
    assert article.source == "Riverside Chronicle"
    assert str(article.published) == "2024-05-07"
    assert article.url == "https://chronicle.example/river"

    raw = api.post(
        "/articles/html",
        params={"url": "https://chronicle.example/raw", "source": "Chronicle"},
        content=page,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    assert raw.status_code == 202
    assert read_ingested(redis_client)[1].article.source == "Chronicle"
    latin = api.post(
        "/articles/html",
        params={"url": "https://chronicle.example/latin"},
        content=page.replace(b"<meta charset='utf-8'>", b"")
        .decode()
        .replace(PARAGRAPHS[2], "Le ministre a salué « un accord équilibré ».")
        .encode("iso-8859-1"),
        headers={"Content-Type": "text/html; charset=ISO-8859-1"},
    )
    assert latin.status_code == 202
    assert "« un accord équilibré »" in read_ingested(redis_client)[2].article.text
    for charset in ("idna", "undefined", "base64"):  # names no text codec answers to
        odd = api.post(
            "/articles/html",
            params={"url": f"https://chronicle.example/{charset}"},
            content=page,
            headers={"Content-Type": f"text/html; charset={charset}"},
        )
        assert odd.status_code == 202, (charset, odd.text)  # the page's own charset is read
    bad_url = api.post(
        "/articles/html",
        params={"url": "ftp://x"},
        content=page,
        headers={"Content-Type": "text/html"},
    )
    assert bad_url.status_code == 422
    assert bad_url.json()["error"].startswith("url:")


def test_feeds_are_added_listed_and_removed(api: httpx.Client, web: LocalWeb) -> None:
    feed_url = web.url("/feed.xml")
    created = api.post("/feeds", json={"url": feed_url, "every": "2m"})
    assert created.status_code == 201
    feed = created.json()
    assert (feed["url"], feed["every"], feed["every_s"]) == (feed_url, "2m", 120)
    again = api.post("/feeds", json={"url": feed_url, "every": 300})
    assert again.status_code == 200
    assert again.json()["every"] == "5m"

    refused = api.post("/feeds", json={"url": "http://10.0.0.1/feed.xml"})
    assert refused.status_code == 422
    assert "private address" in refused.json()["error"]
    for bad in (
        {"url": feed_url, "every": "soon"},
        {"url": "file:///etc/feed"},
        {"url": feed_url, "every": "3000000000d"},  # past the calendar's end
        {"url": "http://news.example:99999/feed.xml"},
        {"url": "http://news]example/feed.xml"},
    ):
        answer = api.post("/feeds", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["error"].startswith(("url: ", "every: "))
    for odd in ("http://news.example:99999/x", "http://[::1/x"):
        assert api.delete("/feeds", params={"url": odd}).status_code == 404

    (listed,) = api.get("/feeds").json()["feeds"]
    assert listed["id"] == feed["id"]
    assert api.get(f"/feeds/{feed['id']}").json()["url"] == feed_url
    assert api.delete("/feeds", params={"url": feed_url}).status_code == 204
    assert api.delete(f"/feeds/{feed['id']}").status_code == 404
    assert api.get("/feeds").json()["feeds"] == []


def test_openapi_documents_both_article_routes_and_the_feeds(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()
    articles = schema["paths"]["/articles"]["post"]
    html = schema["paths"]["/articles/html"]["post"]
    assert set(articles["requestBody"]["content"]) == {"application/json"}
    assert set(html["requestBody"]["content"]) == {"application/json", "text/html"}
    assert {p["name"] for p in html["parameters"]} == {"url", "source"}
    assert {"ArticleIn", "HtmlIn", "IngestResult"} <= set(schema["components"]["schemas"])
    assert {"/feeds", "/feeds/{feed}"} <= set(schema["paths"])
