"""The ingest HTTP API: POST /articles publishes what validates and reports what does not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import ORJSONResponse
from pactwatch.contracts import ArticleIngested
from pydantic import BaseModel, Field

from pactwatch_ingest.intake import ArticleIn, to_article, validate_items
from pactwatch_ingest.publishing import ArticlePublisher
from pactwatch_ingest.settings import IngestSettings

log = structlog.get_logger()


class Accepted(BaseModel):
    index: int = Field(description="Position in the submitted batch (0 for a single article).")
    id: str = Field(description="The article id under which it was published.")
    notes: list[str] = Field(default=[], description="What ingest changed or could not establish.")


class Rejected(BaseModel):
    index: int
    errors: list[dict[str, str]] = Field(description="Each error names the field and the problem.")


class IngestResult(BaseModel):
    accepted: list[Accepted]
    rejected: list[Rejected]


def build_router(settings: IngestSettings, publisher: ArticlePublisher) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/articles",
        status_code=202,
        response_model=IngestResult,
        responses={
            413: {"description": "Body or batch too large."},
            422: {"description": "Nothing in the request was valid; the errors name the fields."},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/ArticleIn"},
                                {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/ArticleIn"},
                                },
                            ]
                        }
                    }
                },
            }
        },
    )
    async def post_articles(request: Request) -> ORJSONResponse:
        """Accept one article or a batch; valid articles are published even when others fail.

        The answer comes only after Redis has accepted every published article.
        """
        body = await read_body(request, settings.max_body_bytes)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(422, f"body is not valid JSON: {exc}") from None
        if isinstance(payload, list) and len(payload) > settings.max_batch:
            raise HTTPException(
                413, f"batch of {len(payload)} exceeds the limit of {settings.max_batch}"
            )
        if not isinstance(payload, dict | list):
            raise HTTPException(422, "body must be a JSON object (one article) or an array of them")
        good, bad = validate_items(payload)
        now = datetime.now(UTC)
        articles = [(index, to_article(item, now.date())) for index, item in good]
        await publisher.publish([ArticleIngested(article=a, ingested_at=now) for _, a in articles])
        result = IngestResult(
            accepted=[Accepted(index=i, id=a.id, notes=list(a.notes)) for i, a in articles],
            rejected=[Rejected(**b) for b in bad],
        )
        log.info("articles.accepted", accepted=len(articles), rejected=len(bad))
        status = 422 if bad and not articles else 202
        return ORJSONResponse(result.model_dump(), status_code=status)

    return router


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


def schema_models() -> list[Any]:
    """Models the OpenAPI document must define although no route declares them as a body."""
    return [ArticleIn]
