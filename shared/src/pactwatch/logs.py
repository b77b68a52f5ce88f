"""structlog set-up shared by every service: one event name per line, article id as context.

JSON when not on a terminal (so that logs can be shipped and queried), readable on one.

Every line written while a handler runs carries ``service``, ``stream``, ``group``,
``consumer`` and the message and article ids, so that handlers need not bind them (the
consumers of :mod:`pactwatch.delivery` bind them; so does the :class:`MessageContext` broker
middleware around FastStream subscribers): ``message_id`` and ``article_id`` when the line is
about one message (a batch of one, or a line that names its ``article_id``: see
:func:`narrow_message_ids`), else the batch's ``message_ids`` and ``article_ids``, in order.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog
from faststream import BaseMiddleware
from faststream.exceptions import IgnoredException

from pactwatch.settings import consumer_name

if TYPE_CHECKING:
    from faststream.message import StreamMessage

log = structlog.get_logger()


@contextmanager
def message_context(
    stream: str | None,
    message_ids: Sequence[str],
    article_ids: Sequence[str | None] = (),
    *,
    group: str | None = None,
) -> Iterator[None]:
    """Bind a handler call's stream, group, consumer and ids to every line logged inside, and
    log its failure with them as ``message.failed``."""
    context: dict[str, Any] = {"stream": stream}
    if group:
        context.update(group=group, consumer=consumer_name())
    if message_ids:
        context["message_ids"] = list(message_ids)
        context["article_ids"] = list(article_ids) or [None] * len(message_ids)
    with structlog.contextvars.bound_contextvars(**context):
        try:
            yield
        except IgnoredException:
            raise  # Ack/Nack/Reject/Skip: the handler's decision, not a failure
        except Exception as exc:
            log.error("message.failed", error=f"{type(exc).__name__}: {exc}"[:500])
            raise


def article_id(message: Any) -> str | None:
    """The id of the article a pipeline message (a model or its JSON) is about, if any."""
    article = (
        message.get("article") if isinstance(message, dict) else getattr(message, "article", None)
    )
    found = article.get("id") if isinstance(article, dict) else getattr(article, "id", None)
    return found if isinstance(found, str) else None


class MessageContext(BaseMiddleware[Any, Any]):
    """:func:`message_context` around every handler call of a FastStream broker (FastStream's
    own traceback line of a failure comes after, outside it)."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message if isinstance(msg.raw_message, dict) else {}
        message_ids = [
            i.decode() if isinstance(i, bytes) else str(i) for i in raw.get("message_ids") or ()
        ]
        try:
            body = await msg.decode()  # decoded already, for the handler: a cached result
        except Exception:
            body = None
        bodies = body if isinstance(body, list) else [body]
        articles = [article_id(b) for b in bodies] if len(bodies) == len(message_ids) else []
        with message_context(
            raw.get("channel"), message_ids, articles, group=getattr(msg, "group", None)
        ):
            return await call_next(msg)


def narrow_message_ids(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The message id and article id of the line's message, when the line is about one."""
    message_ids = event.pop("message_ids", None)
    article_ids = event.pop("article_ids", None)
    if not message_ids:
        return event
    articles = article_ids or [None] * len(message_ids)
    if len(message_ids) == 1:
        event.setdefault("message_id", message_ids[0])
        if articles[0] is not None:
            event.setdefault("article_id", articles[0])
    elif event.get("article_id") in articles:
        event.setdefault("message_id", message_ids[articles.index(event["article_id"])])
    else:
        event["message_ids"] = message_ids
        event["article_ids"] = articles
    return event


def configure_logging(service: str, level: str = "INFO", fmt: str = "auto") -> None:
    """Route structlog and the standard library (FastStream, uvicorn) through one renderer."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        narrow_message_ids,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log would print one line per request on the ingest hot path.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
