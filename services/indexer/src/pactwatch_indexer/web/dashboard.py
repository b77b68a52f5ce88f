"""Serving the dashboard: the page at ``/``, its assets under ``/static``, the latest alerts
(the page opens with them, then follows ``/alerts/stream`` from the newest id, so that it
neither misses nor repeats one) and the country names its filters offer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from typing import Annotated, Any

import pycountry
from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse
from pactwatch.alertfeed import decode_entry
from pactwatch.contracts import ALERTS_STREAM
from pactwatch.countries import country_name
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PACKAGE = "pactwatch_indexer.web"
DEFAULT_RECENT = 50
MAX_RECENT = 200

SECURITY_HEADERS = {
    # everything the page loads comes from this origin; nothing inline runs
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # revalidated on every load (ETag/Last-Modified answer 304): an upgrade shows at once
    "Cache-Control": "no-cache",
}


class Assets(StaticFiles):
    """The page's files, with the same headers as the page."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
        status_code: int = 200,
    ) -> Response:  # fmt: skip
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


class StreamedAlert(BaseModel):
    id: str = Field(description="The alert's id on the alerts.agreements stream.")
    alert: dict[str, Any] = Field(description="The Alert JSON, as published.")


class RecentAlerts(BaseModel):
    alerts: list[StreamedAlert] = Field(description="The latest alerts, newest first.")
    last_id: str = Field(
        description="The newest stream id (0-0 when there is none): follow /alerts/stream "
        "with Last-Event-ID set to it to miss nothing and repeat nothing."
    )


class Country(BaseModel):
    code: str = Field(description="ISO 3166-1 alpha-3.")
    name: str


def countries() -> list[Country]:
    """Every ISO 3166-1 country with the name alerts use, by name."""
    found = [Country(code=c.alpha_3, name=country_name(c.alpha_3)) for c in pycountry.countries]
    return sorted(found, key=lambda c: c.name)


def add_dashboard(app: FastAPI, redis: Redis, dependencies: Sequence[Any] = ()) -> None:
    """Serve the dashboard: ``/``, ``/static/*``, ``/alerts/recent`` and ``/countries``.

    ``dependencies`` guard the two reads (access control). The page and its assets hold no
    data and stay open: a browser cannot send a key when it opens a page, and the page asks
    for one when the reads need it.
    """
    page = resources.files(PACKAGE).joinpath("static/index.html").read_text("utf-8")
    names = countries()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    router = APIRouter(dependencies=list(dependencies))

    @router.get(
        "/alerts/recent",
        response_model=RecentAlerts,
        responses={503: {"description": "Redis, which keeps the alert stream, is unavailable."}},
    )
    async def recent_alerts(
        limit: Annotated[
            int, Query(ge=1, le=MAX_RECENT, description=f"At most this many (1 to {MAX_RECENT}).")
        ] = DEFAULT_RECENT,
    ) -> RecentAlerts:
        """The latest alerts of the durable stream, newest first, and where to follow on."""
        try:
            entries: Any = await redis.xrevrange(ALERTS_STREAM, count=limit)
        except RedisError as exc:
            raise HTTPException(
                503, "the alert stream is unavailable (Redis); try again shortly"
            ) from exc
        alerts = []
        for raw_id, fields in entries:
            decoded = decode_entry(fields)
            if decoded is not None:
                alerts.append(StreamedAlert(id=raw_id.decode(), alert=decoded[1]))
        return RecentAlerts(alerts=alerts, last_id=entries[0][0].decode() if entries else "0-0")

    @router.get("/countries", response_model=list[Country])
    async def list_countries() -> list[Country]:
        """Every country code the filters accept, with its name."""
        return names

    app.include_router(router)
    app.mount("/static", Assets(packages=[(PACKAGE, "static")]), name="static")
