"""The ingest HTTP API: articles (JSON or HTML pages) in, feed subscriptions managed.

POST /articles and POST /articles/html publish what validates and report, item by item,
what does not; they answer only once Redis has accepted every published article.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import anyio
import orjson
import structlog
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

from pactwatch_ingest.accepting import BacklogFullError, Intake, Outcome
from pactwatch_ingest.addresses import AddressPolicy, AddressRefusedError, checked_addresses
from pactwatch_ingest.feeds import feed_id, parse_every
from pactwatch_ingest.feedstore import FeedState, FeedStore
from pactwatch_ingest.intake import (
    ArticleIn,
    Candidate,
    HtmlIn,
    UnusableItemError,
    http_url,
    page_candidate,
    validate_items,
    validate_pages,
)
from pactwatch_ingest.pages import extract_page
from pactwatch_ingest.settings import IngestSettings

log = structlog.get_logger()

HTML_TYPES = ("text/html", "application/xhtml+xml")


class Accepted(BaseModel):
    index: int = Field(description="Position in the submitted batch (0 for a single article).")
    id: str = Field(description="The article id under which it was published.")
    known: bool = Field(
        default=False,
        description="An article with this id was accepted before (published again anyway; "
        "the deduplicator decides).",
    )
    language: str | None = Field(default=None, description="ISO 639-1 code, when detected.")
    notes: list[str] = Field(default=[], description="What ingest changed or could not establish.")


class Rejected(BaseModel):
    index: int
    errors: list[dict[str, str]] = Field(description="Each error names the field and the problem.")


class IngestResult(BaseModel):
    accepted: list[Accepted]
    rejected: list[Rejected]


class FeedIn(BaseModel):
    """A feed to subscribe to."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(max_length=4096, description="The RSS or Atom feed's URL (http or https).")
    every: str | int | None = Field(
        default=None,
        description="Polling interval: seconds, or 90s, 5m, 1h30m, 1d. Default: the service's.",
        examples=["5m"],
    )


class FeedList(BaseModel):
    feeds: list[FeedState]


REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "PACTWATCH_API_KEYS is set and no valid Bearer key was sent."},
    413: {"description": "Body or batch too large."},
    429: {"description": "The pipeline is too far behind: nothing accepted; see Retry-After."},
    503: {"description": "Redis is unavailable: nothing accepted; see Retry-After."},
}


def add_refusal_handlers(app: FastAPI, settings: IngestSettings) -> None:
    """429 while the backlog is full, 503 while Redis is away: both with Retry-After, and
    both mean that nothing from the request was accepted (the publish is all or none)."""

    @app.exception_handler(BacklogFullError)
    async def backlog_full(_: Request, exc: BacklogFullError) -> JSONResponse:
        log.warning("articles.refused", reason="backlog", backlog=exc.backlog, limit=exc.limit)
        return JSONResponse(
            {"error": str(exc), "backlog": exc.backlog, "limit": exc.limit},
            status_code=429,
            headers={"Retry-After": _seconds(exc.retry_after_s)},
        )

    @app.exception_handler(RedisError)
    async def redis_unavailable(_: Request, exc: RedisError) -> JSONResponse:
        log.warning("articles.refused", reason=f"redis: {type(exc).__name__}: {exc}")
        return JSONResponse(
            {
                "error": "Redis is unavailable, so nothing from this request was accepted: "
                f"send it again later ({type(exc).__name__})"
            },
            status_code=503,
            headers={"Retry-After": _seconds(settings.retry_after_s)},
        )


def _seconds(value: float) -> str:
    return str(max(1, math.ceil(value)))


def _item_schema(name: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{name}"}
    return {"oneOf": [ref, {"type": "array", "items": ref}]}


def build_router(
    settings: IngestSettings, intake: Intake, dependencies: Sequence[Any] = ()
) -> APIRouter:
    """The article routes. ``dependencies`` run before each route: the access-control hook."""
    router = APIRouter(dependencies=list(dependencies), tags=["articles"])

    @router.post(
        "/articles",
        status_code=202,
        response_model=IngestResult,
        responses={
            **REFUSALS,
            422: {"description": "Nothing in the request was valid; the errors name the fields."},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _item_schema("ArticleIn")}},
            }
        },
    )
    async def post_articles(request: Request) -> JSONResponse:
        """Accept one article or a batch; valid articles are published even when others fail.

        The answer comes only after Redis has accepted every published article.
        """
        await intake.check_capacity()  # before reading a body that would be refused anyway
        payload = _json_payload(await read_body(request, settings.max_body_bytes), settings)
        good, bad = validate_items(payload)
        outcomes = await intake.accept([Candidate(index, item) for index, item in good])
        return _answer(outcomes, bad, "articles.accepted")

    @router.post(
        "/articles/html",
        status_code=202,
        response_model=IngestResult,
        responses={
            **REFUSALS,
            422: {"description": "Nothing in the request held an article; errors name fields."},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _item_schema("HtmlIn")},
                    "text/html": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def post_html(
        request: Request,
        url: str | None = Query(
            default=None, description="With a text/html body: where the page was published."
        ),
        source: str | None = Query(
            default=None, description="With a text/html body: the outlet's name."
        ),
    ) -> JSONResponse:
        """Extract the article of one page or a batch (body text, title, date, outlet; with
        trafilatura) and publish it like POST /articles.

        The body is JSON (``{url, html, source}`` or an array of them), or the page itself as
        ``text/html`` with ``?url=`` (and optionally ``?source=``).
        """
        await intake.check_capacity()
        body = await read_body(request, settings.max_body_bytes)
        content_type, _, parameters = request.headers.get("content-type", "").partition(";")
        content_type = content_type.strip().lower()
        pages: list[tuple[int, HtmlIn | tuple[str | bytes, str | None, str | None]]] = []
        bad: list[dict[str, Any]] = []
        if content_type in HTML_TYPES:
            try:
                http_url(url)
            except ValueError as exc:
                raise HTTPException(422, f"url: {exc}") from None
            if not body.strip():
                raise HTTPException(422, "html: the page is empty")
            pages.append((0, (_decoded(body, parameters), url, source)))
        else:
            good, bad = validate_pages(_json_payload(body, settings))
            pages.extend(good)
        candidates, unusable = await anyio.to_thread.run_sync(extract_all, pages)
        bad.extend(unusable)
        outcomes = await intake.accept(candidates)
        return _answer(outcomes, bad, "pages.accepted")

    return router


def build_feeds_router(
    settings: IngestSettings,
    store: FeedStore,
    policy: AddressPolicy,
    dependencies: Sequence[Any] = (),
) -> APIRouter:
    """The feed subscription routes (``pactwatch feeds`` uses them)."""
    router = APIRouter(dependencies=list(dependencies), tags=["feeds"])

    @router.post(
        "/feeds",
        status_code=201,
        response_model=FeedState,
        responses={
            200: {"description": "Already subscribed; the interval was updated."},
            422: {"description": "Invalid URL or interval, or a refused address."},
        },
    )
    async def add_feed(feed: FeedIn, response: Response) -> FeedState:
        """Subscribe to a feed; it is polled at once, then every ``every``."""
        every = await _check_feed(feed, settings, policy)
        state, created = await store.add(feed.url, every, time.time())
        response.status_code = 201 if created else 200
        log.info("feed.added" if created else "feed.updated", feed_id=state.id, every_s=every)
        return state

    @router.get("/feeds", response_model=FeedList)
    async def list_feeds() -> FeedList:
        """Every subscription with its schedule and the last poll's status and error."""
        return FeedList(feeds=await store.all())

    @router.get("/feeds/{feed}", response_model=FeedState, responses={404: {}})
    async def get_feed(feed: str) -> FeedState:
        """One subscription, by id."""
        state = await store.find(feed)
        if state is None:
            raise HTTPException(404, f"no feed {feed}")
        return state

    @router.delete("/feeds/{feed}", status_code=204, responses={404: {}})
    async def remove_feed(feed: str) -> Response:
        """Unsubscribe by id."""
        return await _remove(store, feed)

    @router.delete("/feeds", status_code=204, responses={404: {}})
    async def remove_feed_by_url(
        url: str = Query(description="The feed's URL, as subscribed."),
    ) -> Response:
        """Unsubscribe by URL."""
        return await _remove(store, url)

    return router


def extract_all(
    pages: Sequence[tuple[int, HtmlIn | tuple[str | bytes, str | None, str | None]]],
) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Each page's article as a candidate, or why there is none (CPU work: run in a thread)."""
    candidates: list[Candidate] = []
    bad: list[dict[str, Any]] = []
    for index, page_in in pages:
        if isinstance(page_in, HtmlIn):
            markup: str | bytes = page_in.html
            url, source = page_in.url, page_in.source
        else:
            markup, url, source = page_in
        page = extract_page(markup, url)
        if page is None:
            bad.append(
                {
                    "index": index,
                    "errors": [{"field": "html", "message": "no article text found in the page"}],
                }
            )
            continue
        try:
            candidates.append(page_candidate(index, page, source))
        except UnusableItemError as exc:
            bad.append({"index": index, "errors": [{"field": exc.field, "message": str(exc)}]})
    return candidates, bad


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _decoded(body: bytes, content_type_parameters: str) -> str | bytes:
    """The page as text when the sender named its charset; else bytes, which trafilatura
    decodes by the page's own meta charset or by detection."""
    for parameter in content_type_parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            try:
                return body.decode(value.strip().strip('"'), errors="replace")
            except (LookupError, UnicodeError, ValueError):
                return body  # an unknown or unusable charset name ("idna"): let the page say
    return body


def schema_models() -> list[Any]:
    """Models the OpenAPI document must define although no route declares them as a body."""
    return [ArticleIn, HtmlIn]


def _json_payload(body: bytes, settings: IngestSettings) -> Any:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise HTTPException(
                422,
                f"body is not UTF-8 text: byte 0x{body[bad.start]:02x} at offset {bad.start} "
                "(send JSON encoded as UTF-8)",
            ) from None
        raise HTTPException(422, f"body is not valid JSON: {exc}") from None
    if isinstance(payload, list) and len(payload) > settings.max_batch:
        raise HTTPException(
            413, f"batch of {len(payload)} exceeds the limit of {settings.max_batch}"
        )
    if not isinstance(payload, dict | list):
        raise HTTPException(422, "body must be a JSON object (one item) or an array of them")
    return payload


def _answer(outcomes: list[Outcome], bad: list[dict[str, Any]], event: str) -> JSONResponse:
    accepted = [
        Accepted(
            index=o.index,
            id=o.article.id,
            known=o.known,
            language=o.article.language,
            notes=list(o.article.notes),
        )
        for o in outcomes
        if o.article is not None
    ]
    rejected = [Rejected(**b) for b in bad] + [
        Rejected(index=o.index, errors=list(o.errors)) for o in outcomes if o.article is None
    ]
    rejected.sort(key=lambda r: r.index)
    log.info(event, accepted=len(accepted), rejected=len(rejected))
    status = 422 if rejected and not accepted else 202
    result = IngestResult(accepted=accepted, rejected=rejected)
    return JSONResponse(result.model_dump(), status_code=status)


async def _check_feed(feed: FeedIn, settings: IngestSettings, policy: AddressPolicy) -> int:
    """The interval in seconds, after checking the URL's form and address (422 otherwise)."""
    import httpx

    try:
        every = parse_every(feed.every) if feed.every is not None else settings.feed_default_every_s
    except ValueError as exc:
        raise HTTPException(422, f"every: {exc}") from None
    if every < settings.feed_min_every_s:
        raise HTTPException(
            422, f"every: at least {settings.feed_min_every_s}s between polls of one feed"
        )
    try:
        target = httpx.URL(feed.url)
    except httpx.InvalidURL as exc:
        raise HTTPException(422, f"url: {exc}") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise HTTPException(422, "url: must be an absolute http(s) URL")
    try:
        feed_id(feed.url)  # the canonical form the subscription is kept under
    except ValueError as exc:
        raise HTTPException(422, f"url: {exc}") from None
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        await checked_addresses(target.raw_host.decode("ascii"), port, policy)
    except AddressRefusedError as exc:
        raise HTTPException(422, f"url: {exc}") from None
    except LookupError:
        pass  # DNS may be down right now: the poller reports it in last_error if it stays
    return every


async def _remove(store: FeedStore, url_or_id: str) -> Response:
    state = await store.find(url_or_id)
    if state is None or not await store.remove(state.id):
        raise HTTPException(404, f"no feed {url_or_id}")
    log.info("feed.removed", feed_id=state.id)
    return Response(status_code=204)
