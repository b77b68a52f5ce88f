"""The query API over a real store (both backends): answers, and errors that say what is wrong.

Served in-process (httpx's ASGI transport); the real process on a real port is exercised by
tests/integration/test_index_service.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pactwatch.http import json_errors
from pactwatch_indexer.api import add_error_handlers, build_router
from pactwatch_indexer.indexing import Prepared
from pactwatch_indexer.queries import AgreementQuery, SearchQuery, encode_cursor
from pactwatch_indexer.responses import AgreementDetail, AgreementPage, ArticleDetail, SearchPage
from pactwatch_indexer.store import IndexStore, QueryTimeoutError, UnavailableError, open_store

from tests.unit.test_index_store import (
    BACKENDS,
    KEY,
    SHUSHA,
    backend_url,
    duplicate,
    enriched,
    index,
    postgres_schema,
    record,
    sighted,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    with postgres_schema() as name:
        yield name


@pytest.fixture(scope="module", params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[IndexStore]:
    """One index per backend for the whole module: these tests only read."""
    schema = request.getfixturevalue("pg_schema") if request.param == "postgresql" else None
    opened = open_store(backend_url(request.param, tmp_path_factory.mktemp("api"), schema))
    await opened.open()
    await index(
        opened,
        [
            SHUSHA,
            duplicate("a-copy", "a-shusha", SHUSHA.article.title, SHUSHA.article.text),
            sighted(KEY, record(), "a-shusha", first=True, alerted=True),
            *[enriched(f"p{n}", f"Pipeline {n}", "pipeline news") for n in range(5)],
        ],
    )
    yield opened
    await opened.close()


def build_app(store: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(build_router(store))
    json_errors(app)
    add_error_handlers(app)
    return app


@pytest.fixture
async def client(store: IndexStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://indexer") as http:
        yield http


async def test_search_answers_ranked_hits_with_snippets(client: httpx.AsyncClient) -> None:
    answer = await client.get("/search", params={"q": "Shusha declaration", "country": "AZE"})
    assert answer.status_code == 200
    body = answer.json()
    assert [h["id"] for h in body["hits"]] == ["a-shusha"]
    hit = body["hits"][0]
    assert "<mark>" in hit["snippet"]
    assert hit["countries"] == ["AZE", "TUR"]
    assert hit["published"] == "2021-10-27"
    assert body["next_cursor"] is None


async def test_search_pages_with_the_cursor_it_returns(client: httpx.AsyncClient) -> None:
    first = (await client.get("/search", params={"q": "pipeline", "limit": 2})).json()
    assert len(first["hits"]) == 2
    ids = [h["id"] for h in first["hits"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (
            await client.get("/search", params={"q": "pipeline", "limit": 2, "cursor": cursor})
        ).json()
        ids += [h["id"] for h in page["hits"]]
        cursor = page["next_cursor"]
    assert sorted(ids) == [f"p{n}" for n in range(5)]


async def test_article_with_duplicates_and_agreements(client: httpx.AsyncClient) -> None:
    body = (await client.get("/articles/a-shusha")).json()
    assert body["id"] == "a-shusha"
    assert [d["id"] for d in body["duplicates"]] == ["a-copy"]
    assert body["agreement_keys"] == [KEY]
    assert body["agreements"][0]["title"] == "Shusha Declaration"
    assert body["entities"][0]["country"] == "AZE"
    copy = (await client.get("/articles/a-copy")).json()
    assert copy["duplicate_of"] == "a-shusha"


async def test_agreements_listing_and_detail(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/agreements", params=[("party", "AZE"), ("party", "tur")])).json()
    assert [a["key"] for a in listing["agreements"]] == [KEY]
    agreement = listing["agreements"][0]
    # the report and its syndicated copy (another outlet)
    assert (agreement["mentions"], agreement["sources"]) == (2, 2)
    assert agreement["articles"] == [
        {
            "article": {
                "id": "a-shusha",
                "url": "https://news.example/a-shusha",
                "source": "Azernews",
                "published": "2021-10-27",
                "title": "Report a-shusha",
            },
            "seen_at": "2021-10-27T09:00:00Z",
        }
    ]
    detail = (await client.get(f"/agreements/{KEY}")).json()
    assert (detail["mentions"], detail["sources"]) == (2, 2)
    assert detail["sightings"][0]["evidence"][0]["sentence"].startswith("The presidents")
    assert detail["sightings"][0]["alerted"] is True
    # every article that reported it, with the copies of it folded under it
    [reporting] = detail["articles"]
    assert reporting["article"]["id"] == "a-shusha"
    assert reporting["duplicates"] == [
        {
            "id": "a-copy",
            "url": "https://news.example/a-copy",
            "source": "Trend",
            "published": "2021-10-27",
            "title": SHUSHA.article.title,
            "method": "text",
            "similarity": 1.0,
            "ingested_at": "2021-10-27T09:30:00Z",
            "duplicate_of": "a-shusha",
        }
    ]
    copy = (await client.get("/articles/a-copy")).json()
    assert copy["agreement_keys"] == [KEY]
    none = (await client.get("/agreements", params={"party": "GEO"})).json()
    assert none == {"agreements": [], "next_cursor": None}


BAD_QUERIES: list[tuple[str, dict[str, Any], str]] = [
    ("/search", {"q": '"shusha'}, "q: unbalanced quote"),
    ("/search", {"q": "(shusha"}, "q: unbalanced parentheses"),
    ("/search", {"q": "shusha)"}, "q: unbalanced parentheses"),
    ("/search", {"q": "-shusha"}, "q: a query cannot only exclude"),
    ("/search", {"q": "   "}, "q: the query is empty"),
    ("/search", {}, "q: Field required"),
    ("/search", {"q": "x" * 501}, "q: String should have at most 500 characters"),
    ("/search", {"q": "shusha", "country": "XYZ"}, "country: 'XYZ' is not an ISO 3166-1"),
    ("/search", {"q": "shusha", "country": "Azerbaijan"}, "country: 'Azerbaijan' is not"),
    ("/search", {"q": "a", "from": "2021-10-02", "to": "2021-10-01"}, "from (2021-10-02) is"),
    ("/search", {"q": "shusha", "from": "yesterday"}, "from: Input should be a valid date"),
    ("/search", {"q": "shusha", "limit": 0}, "limit: Input should be greater than or equal"),
    ("/search", {"q": "shusha", "limit": 101}, "limit: Input should be less than or equal"),
    ("/search", {"q": "shusha", "limit": "many"}, "limit: Input should be a valid integer"),
    ("/search", {"q": "shusha", "cursor": "not-a-cursor"}, "cursor: not a cursor this API"),
    ("/agreements", {"party": "ZZZ"}, "party: 'ZZZ' is not an ISO 3166-1"),
    ("/agreements", {"kind": "pact"}, "kind: Input should be 'memorandum'"),
    ("/agreements", {"status": "rumoured"}, "status: Input should be 'signed'"),
    ("/agreements", {"from": "2022-01-01", "to": "2021-01-01"}, "from (2022-01-01) is after"),
    ("/agreements", {"limit": 1000}, "limit: Input should be less than or equal to 100"),
    ("/agreements", {"cursor": "eyJ4IjoxfQ"}, "cursor: not a cursor this API returned"),
]


@pytest.mark.parametrize(("path", "params", "says"), BAD_QUERIES)
async def test_a_bad_query_is_a_400_that_says_what_is_wrong(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], says: str
) -> None:
    answer = await client.get(path, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert says in answer.json()["error"]


async def test_a_cursor_of_another_query_is_refused(client: httpx.AsyncClient) -> None:
    page = (await client.get("/search", params={"q": "pipeline", "limit": 1})).json()
    answer = await client.get("/search", params={"q": "shusha", "cursor": page["next_cursor"]})
    assert answer.status_code == 400
    assert "belongs to a different query" in answer.json()["error"]


async def test_unknown_ids_are_404_json(client: httpx.AsyncClient) -> None:
    for path, says in [
        ("/articles/nope", "no article with id 'nope'"),
        ("/agreements/AZE-XXX:none", "no agreement with key 'AZE-XXX:none'"),
    ]:
        answer = await client.get(path)
        assert answer.status_code == 404
        assert answer.json() == {"error": says}


async def test_the_openapi_schema_documents_the_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert {"/search", "/articles/{article_id}", "/agreements", "/agreements/{key}"} <= set(
        schema["paths"]
    )
    search = schema["paths"]["/search"]["get"]
    names = {p["name"] for p in search["parameters"]}
    assert names == {"q", "country", "source", "from", "to", "duplicates", "limit", "cursor"}
    assert "400" in search["responses"]
    schemas = schema["components"]["schemas"]
    assert "SearchPage" in schemas
    # the detail folds each reporting article's duplicates under it; a listing counts them
    detail_articles = schemas["AgreementDetail"]["properties"]["articles"]["items"]["$ref"]
    assert detail_articles == "#/components/schemas/ReportingArticleWithDuplicates"
    assert "duplicates" in schemas["ReportingArticleWithDuplicates"]["properties"]
    assert "duplicates" not in schemas["ReportingArticle"]["properties"]
    assert "duplicates" in schemas["AgreementSummary"]["properties"]["mentions"]["description"]


class Unavailable:
    """A store whose database is down, or too slow (the API's 503s)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def search(self, query: SearchQuery) -> SearchPage:
        raise self.error

    async def article(self, article_id: str) -> ArticleDetail | None:
        raise self.error

    async def agreements(self, query: AgreementQuery) -> AgreementPage:
        raise self.error

    async def agreement(self, key: str) -> AgreementDetail | None:
        raise self.error

    async def write(self, batch: Prepared) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (UnavailableError("PostgreSQL: connection refused"), "the index database is unavailable"),
        (QueryTimeoutError("the query took too long"), "the query took too long"),
    ],
)
async def test_an_unavailable_database_is_a_503(error: Exception, says: str) -> None:
    transport = httpx.ASGITransport(app=build_app(Unavailable(error)))
    async with httpx.AsyncClient(transport=transport, base_url="http://indexer") as http:
        for path in ("/search?q=shusha", "/articles/a", "/agreements", "/agreements/k"):
            answer = await http.get(path)
            assert answer.status_code == 503
            assert says in answer.json()["error"]
            assert answer.headers["retry-after"] == "1"


def _crafted(fingerprint: str, position: list[Any]) -> str:
    return encode_cursor(fingerprint, position)


@pytest.mark.parametrize(
    ("path", "params", "position"),
    [
        ("/search", {"q": "pipeline"}, [1.0, 2**63, 0]),  # past 64 bits
        ("/search", {"q": "pipeline"}, [1e300, 1, 0]),  # past a real's range
        ("/agreements", {}, ["2021", "0001-01-01T00:00:00+01:00", "k"]),  # before year 1 in UTC
        ("/agreements", {}, ["2021", "2021-06-15T00:00:00+00:00", "k\x00"]),
    ],
)
async def test_a_hand_made_cursor_out_of_range_is_a_400(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], position: list[Any]
) -> None:
    if path == "/search":
        fingerprint = SearchQuery.build(params["q"]).fingerprint()
    else:
        fingerprint = AgreementQuery.build().fingerprint()
    cursor = _crafted(fingerprint, position)
    answer = await client.get(path, params={**params, "cursor": cursor})
    assert answer.status_code == 400, answer.text
    assert "cursor: not a cursor this API returned" in answer.json()["error"]
