"""Log lines of message handling name the stream, the group, the consumer and the ids."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import structlog
from faststream.exceptions import NackMessage
from pactwatch.contracts import Article, ArticleIngested
from pactwatch.logs import article_id, message_context, narrow_message_ids
from pactwatch.settings import consumer_name


def render(**bound: Any) -> dict[str, Any]:
    """One line through the processors the services use, as JSON."""
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[
            structlog.contextvars.merge_contextvars,
            narrow_message_ids,
            structlog.processors.JSONRenderer(),
        ],
    )
    logger.info("event.name", **bound)
    line: dict[str, Any] = json.loads(out.getvalue())
    return line


def test_a_batch_of_one_names_its_message_and_article() -> None:
    with message_context("articles.ingested", ["1-0"], ["a1"], group="deduplicator"):
        line = render()
    # (other tests may have bound a service name for the whole session: compare the rest)
    assert (
        line.items()
        >= {
            "event": "event.name",
            "stream": "articles.ingested",
            "group": "deduplicator",
            "consumer": consumer_name(),
            "message_id": "1-0",
            "article_id": "a1",
        }.items()
    )
    assert "message_ids" not in line


def test_a_line_about_one_article_of_a_batch_gets_that_articles_message_id() -> None:
    with message_context("articles.enriched", ["1-0", "2-0", "3-0"], ["a1", "a2", "a3"]):
        line = render(article_id="a2")
        batch_line = render(size=3)
    assert line["message_id"] == "2-0"
    assert line["article_id"] == "a2"
    assert "message_ids" not in line
    assert "article_ids" not in line
    # a line about the whole batch lists every message and article, in the same order
    assert batch_line["message_ids"] == ["1-0", "2-0", "3-0"]
    assert batch_line["article_ids"] == ["a1", "a2", "a3"]


def test_a_line_naming_an_article_outside_the_batch_keeps_the_lists() -> None:
    with message_context("s", ["1-0", "2-0"], ["a1", "a2"]):
        line = render(article_id="elsewhere")
    assert line["article_id"] == "elsewhere"
    assert "message_id" not in line
    assert line["message_ids"] == ["1-0", "2-0"]


def test_the_context_ends_with_the_handler_call() -> None:
    with message_context("s", ["1-0"], ["a1"], group="g"):
        pass
    line = render()
    assert not line.keys() & {"stream", "group", "consumer", "message_id", "article_id"}


def test_a_failure_is_logged_with_the_context_and_raised() -> None:
    with (
        structlog.testing.capture_logs() as logs,
        pytest.raises(ValueError, match="bad text"),
        message_context("s", ["1-0"], ["a1"], group="g"),
    ):
        raise ValueError("bad text")
    (failed,) = logs
    assert failed["event"] == "message.failed"
    assert failed["log_level"] == "error"
    assert failed["error"] == "ValueError: bad text"


def test_a_handlers_decision_to_nack_is_not_logged_as_a_failure() -> None:
    with (
        structlog.testing.capture_logs() as logs,
        pytest.raises(NackMessage),
        message_context("s", ["1-0"], ["a1"]),
    ):
        raise NackMessage
    assert logs == []


def test_article_id_reads_a_model_its_json_or_nothing() -> None:
    message = ArticleIngested(
        article=Article(id="a9", text="t"), ingested_at="2024-01-01T00:00:00Z"
    )
    assert article_id(message) == "a9"
    assert article_id(message.model_dump(mode="json")) == "a9"
    assert article_id({"article": {"id": 5}}) is None
    assert article_id(b"raw bytes") is None
    assert article_id({"other": 1}) is None
