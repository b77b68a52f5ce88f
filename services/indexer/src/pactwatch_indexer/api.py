"""The query API: full-text search over articles and the agreement registry.

Every bad parameter is a 400 whose ``error`` says what is wrong; an unknown article or
agreement is a 404; a database that is down or a query cut off for time is a 503. Never a 500
for anything a caller typed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pactwatch.contracts import Kind, Status

from pactwatch_indexer.queries import (
    DEFAULT_LIMIT,
    DEFAULT_PAIRS,
    MAX_LIMIT,
    MAX_PAIRS,
    AgreementQuery,
    NetworkQuery,
    SearchQuery,
)
from pactwatch_indexer.responses import (
    AgreementDetail,
    AgreementPage,
    ArticleDetail,
    ErrorBody,
    Network,
    SearchPage,
)
from pactwatch_indexer.searchsyntax import MAX_QUERY_CHARS, QueryError
from pactwatch_indexer.store import IndexStore, QueryTimeoutError, UnavailableError

_BAD: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A parameter is wrong; the error says which."}
}
_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "The database is unavailable or too slow."}
}
_MISSING: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Nothing with that id."}
}

Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Results per page (1 to {MAX_LIMIT}).")
]
Cursor = Annotated[
    str | None, Query(description="The next_cursor of the previous page, to read on.")
]
From = Annotated[date | None, Query(alias="from", description="On or after this day.")]
To = Annotated[date | None, Query(description="On or before this day.")]

Party = Annotated[
    list[str] | None,
    Query(
        description="Only agreements this country (ISO alpha-3) is party to; "
        "repeat for agreements between all of them (party=AZE&party=TUR)."
    ),
]
KindFilter = Annotated[Kind | None, Query(description="Only this kind of document.")]
StatusFilter = Annotated[Status | None, Query(description="Only this status.")]
SignedFrom = Annotated[
    date | None,
    Query(
        alias="from",
        description="Signed on or after this day (the day first seen, when undated).",
    ),
]
SignedTo = Annotated[
    date | None,
    Query(description="Signed on or before this day (the day first seen, when undated)."),
]

SEARCH_SYNTAX = """Words must all match (English stemming: "signing" finds "signed"; accents
and case do not matter). Also: "a quoted phrase", prefix* (words that begin so, as the
index stores them stemmed), OR between alternatives, -word or NOT word to exclude, and
parentheses to group."""


def build_router(store: IndexStore) -> APIRouter:
    """The query endpoints over ``store``."""
    router = APIRouter()

    @router.get("/search", response_model=SearchPage, responses={**_BAD, **_DOWN})
    async def search(
        q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description=SEARCH_SYNTAX)],
        country: Annotated[
            list[str] | None,
            Query(
                description="Only articles mentioning this country (ISO alpha-3); repeat "
                "the parameter for articles mentioning all of them."
            ),
        ] = None,
        source: Annotated[str | None, Query(description="Only this outlet (any case).")] = None,
        published_from: From = None,
        to: To = None,
        duplicates: Annotated[
            bool, Query(description="Include articles that repeat an earlier one.")
        ] = True,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> SearchPage:
        """Articles matching ``q``, most relevant first, each with a highlighted passage."""
        query = SearchQuery.build(
            q,
            countries=country or (),
            source=source,
            published_from=published_from,
            published_to=to,
            duplicates=duplicates,
            limit=limit,
            cursor=cursor,
        )
        return await store.search(query)

    @router.get(
        "/articles/{article_id}", response_model=ArticleDetail, responses={**_MISSING, **_DOWN}
    )
    async def get_article(article_id: str) -> ArticleDetail:
        """One article with its entities, the agreements found in it and its duplicates."""
        found = await store.article(article_id)
        if found is None:
            raise HTTPException(404, f"no article with id {article_id!r}")
        return found

    @router.get("/agreements", response_model=AgreementPage, responses={**_BAD, **_DOWN})
    async def list_agreements(
        party: Party = None,
        kind: KindFilter = None,
        status: StatusFilter = None,
        signed_from: SignedFrom = None,
        to: SignedTo = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> AgreementPage:
        """Agreements, newest first (by signing date, then first seen), with their reports;
        mentions count the articles that reported each and the duplicates of those."""
        query = AgreementQuery.build(
            parties=party or (),
            kind=kind,
            status=status,
            signed_from=signed_from,
            signed_to=to,
            limit=limit,
            cursor=cursor,
        )
        return await store.agreements(query)

    @router.get(
        "/agreements/{key}", response_model=AgreementDetail, responses={**_MISSING, **_DOWN}
    )
    async def get_agreement(key: str) -> AgreementDetail:
        """One agreement with its full evidence trail: every article that reported it, each
        with the articles that repeat it (syndicated copies, counted among the mentions)."""
        found = await store.agreement(key)
        if found is None:
            raise HTTPException(404, f"no agreement with key {key!r}")
        return found

    @router.get("/network", response_model=Network, responses={**_BAD, **_DOWN})
    async def network(
        party: Party = None,
        kind: KindFilter = None,
        status: StatusFilter = None,
        signed_from: SignedFrom = None,
        to: SignedTo = None,
        limit: Annotated[
            int,
            Query(ge=1, le=MAX_PAIRS, description=f"Most pairs listed (1 to {MAX_PAIRS})."),
        ] = DEFAULT_PAIRS,
    ) -> Network:
        """Countries as nodes and the agreements between them as edges: each pair of
        countries party to one agreement (a pair, or every pair of a multilateral one),
        counted and broken down by kind, most agreements first."""
        query = NetworkQuery.build(
            parties=party or (),
            kind=kind,
            status=status,
            signed_from=signed_from,
            signed_to=to,
            limit=limit,
        )
        return await store.network(query)

    return router


def add_error_handlers(app: FastAPI) -> None:
    """Bad queries are 400 (query parameters, not a request body: 422 would mislead);
    an unavailable database is 503. Registered after ``json_errors``, which they refine."""

    @app.exception_handler(QueryError)
    async def bad_query(_: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"error": summary, "detail": errors}, status_code=400)

    @app.exception_handler(UnavailableError)
    async def unavailable(_: Request, exc: UnavailableError) -> JSONResponse:
        message = (
            "the query took too long; narrow it down (more words, a country or dates)"
            if isinstance(exc, QueryTimeoutError)
            else "the index database is unavailable; try again shortly"
        )
        return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "1"})


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    # ("query", "limit") -> "limit": the caller knows where query parameters go
    parts = [str(p) for p in location]
    return ".".join(parts[1:] if len(parts) > 1 and parts[0] in ("query", "path") else parts)
