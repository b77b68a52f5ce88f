"""What the HTTP services (ingest, indexer) share: health endpoints, JSON errors, serving."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from faststream.redis import RedisBroker
from pydantic import BaseModel
from redis.asyncio import Redis
from starlette.exceptions import HTTPException as StarletteHTTPException

from pactwatch.logs import configure_logging
from pactwatch.metrics import CONTENT_TYPE, consumed_by, exposition, watched_groups
from pactwatch.readiness import ReadinessCheck, unready_reasons
from pactwatch.service import exit_zero_after_sigterm
from pactwatch.settings import ServiceSettings


def add_health_routes(
    app: FastAPI,
    redis: Redis,
    checks: Sequence[tuple[str, ReadinessCheck]] = (),
    *,
    group: str | None = None,
    broker: RedisBroker | None = None,
    extra_groups: Sequence[tuple[str, str]] = (),
) -> None:
    """``/healthz``: the process answers. ``/readyz``: Redis, ``broker``'s subscribers and each
    check answer too (see :mod:`pactwatch.readiness`). ``/metrics``: Prometheus metrics, with
    the backlog of the streams the service's consumer ``group`` (and ``broker``) reads, and of
    the (stream, group) pairs of ``extra_groups`` it reads outside the contracts."""
    from_broker = watched_groups(broker) if broker else []
    watched = sorted({*consumed_by(group), *from_broker, *extra_groups})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        reasons = await unready_reasons(redis, broker, checks)
        if reasons:
            return JSONResponse({"status": "unready", "reasons": reasons}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(await exposition(redis, watched), media_type=CONTENT_TYPE)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def requires_key(settings: ServiceSettings, *, admin: bool = False) -> Any:
    """A route dependency (``Depends``) for access control with ``PACTWATCH_API_KEYS``.

    Without keys configured every request passes. With keys, a request must carry
    ``Authorization: Bearer <key>`` with one of them, except reads (GET, HEAD) while
    ``PACTWATCH_OPEN_READS`` is true; ``admin`` routes (subscriptions, feeds) need the key for
    reads too. Keys are compared in constant time and never logged or echoed.
    """
    keys = [key.encode() for key in settings.api_keys]
    reads_open = settings.open_reads and not admin

    async def check_key(request: Request) -> None:
        if not keys or (reads_open and request.method in READ_METHODS):
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="pactwatch"'}
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                401, "this endpoint needs an API key: Authorization: Bearer <key>", challenge
            )
        given = token.strip().encode()
        valid = False
        for key in keys:  # every key compared, so the time taken does not tell which matched
            valid |= hmac.compare_digest(given, key)
        if not valid:
            raise HTTPException(401, "the API key is not valid", challenge)

    return Depends(check_key)


class RefuseNulBytes:
    """ASGI middleware: a request whose path or query holds a NUL byte is answered 400 before
    any route sees it (PostgreSQL text cannot hold one, and no id, name or word has one)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            refused = JSONResponse(
                {"error": "the request's path or query holds a NUL byte (%00)"}, status_code=400
            )
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


def json_errors(app: FastAPI) -> None:
    """Every error is JSON with a message a person can act on: ``{"error": ..., "detail": ...}``;
    a NUL byte in a path or query is refused with one (:class:`RefuseNulBytes`)."""
    app.add_middleware(RefuseNulBytes)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's "error parsing the body"
            bad = exc.__cause__
            message = (
                f"body is not UTF-8 text: byte 0x{bad.object[bad.start]:02x} at offset "
                f"{bad.start} (send JSON encoded as UTF-8)"
            )
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_readable(e) for e in exc.errors()]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"error": summary, "detail": errors}, status_code=422)


def _readable(error: Mapping[str, Any]) -> dict[str, str]:
    """One validation error as field and message; the body's own problems (not JSON, not an
    object, missing) said in words rather than as a parser's location."""
    loc = tuple(error["loc"])
    if error["type"] == "json_invalid":
        at = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = (error.get("ctx") or {}).get("error", "")
        return {"field": "body", "message": f"not valid JSON{at}: {reason}".rstrip(": ")}
    if loc == ("body",) and error["type"] == "missing":
        return {"field": "body", "message": "empty: send a JSON object"}
    if loc == ("body",) and error["type"] in ("model_attributes_type", "dict_type"):
        message = "must be a JSON object, sent with Content-Type: application/json"
        return {"field": "body", "message": message}
    return {"field": ".".join(str(p) for p in loc), "message": error["msg"]}


def with_extra_schemas(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Add component schemas for models that routes reference but do not declare."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            components[model.__name__] = model.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def serve(service: str, settings: ServiceSettings, factory: Callable[[], FastAPI]) -> None:
    """Configure logging and serve ``factory()`` with uvicorn until SIGTERM/SIGINT; a SIGTERM
    exits with 0 after the graceful shutdown."""
    configure_logging(service, settings.log_level, settings.log_format)
    exit_zero_after_sigterm()
    uvicorn.run(
        factory(),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        # open HTTP requests get a quarter of the grace: API calls end in milliseconds, and an
        # alert stream (SSE) never ends by itself; the rest is for the consumers' batches, so
        # that the whole shutdown stays within the grace a supervisor allows
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_s / 4)),
    )
