"""What the fault-injection tests count: where each accepted article ended up.

Every article accepted by ingest (or published by the test) must end up indexed, marked a
duplicate, or dead-lettered; ``lost`` is what is in none of those places.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import redis
from faststream.redis.parser.binary import BinaryMessageFormatV1
from pactwatch.contracts import (
    ARTICLES_DUPLICATES,
    ARTICLES_ENRICHED,
    ARTICLES_INGESTED,
    ARTICLES_UNIQUE,
    Article,
    ArticleDeduplicated,
)
from pactwatch.delivery import ORIGINAL_FIELD_PREFIX, dead_letter_stream

PIPELINE_GROUPS = [
    (ARTICLES_INGESTED, "deduplicator"),
    (ARTICLES_UNIQUE, "extractor"),
    (ARTICLES_ENRICHED, "indexer"),
    (ARTICLES_DUPLICATES, "indexer"),
]

WORDS = (
    "harbour grain tariff corridor pipeline railway customs fisheries vaccine satellite "
    "research water energy border aviation tourism textile copper lithium solar wind "
    "dairy timber shipping banking insurance telecom cinema museum archive forestry"
).split()


def synthetic_text(n: int) -> str:
    """A short article body of its own (no two share a sentence), with no agreement in it."""
    picks = [WORDS[(n * 7 + k * 3) % len(WORDS)] for k in range(6)]
    return (
        f"Report number {n} on the {picks[0]} and {picks[1]} sectors. "
        f"Officials discussed {picks[2]}, {picks[3]} and {picks[4]} on day {n % 28 + 1}. "
        f"Figures for {picks[5]} rose by {n % 97} percent in quarter {n % 4 + 1} of item {n}."
    )


def unique_message(n: int, prefix: str = "f") -> ArticleDeduplicated:
    """Article ``<prefix><n>`` as the deduplicator publishes it."""
    return ArticleDeduplicated(
        article=Article(id=f"{prefix}{n}", title=f"Story {n}", text=synthetic_text(n)),
        ingested_at=datetime(2024, 1, 5, 10, tzinfo=UTC),
    )


def article_id_of(fields: dict[bytes, bytes]) -> str | None:
    """The article id inside a FastStream stream entry, or None if it holds none."""
    raw = fields.get(b"__data__")
    if raw is None:
        return None
    body, _ = BinaryMessageFormatV1.parse(raw)
    try:
        article = json.loads(body).get("article")
    except (ValueError, AttributeError):
        return None
    return article.get("id") if isinstance(article, dict) else None


def stream_article_ids(client: redis.Redis, stream: str) -> list[str]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(stream))
    return [i for _, fields in entries if (i := article_id_of(fields))]


def dead_lettered_ids(client: redis.Redis, streams: Iterable[str]) -> dict[str, list[str]]:
    """Article ids (or the raw entry id when undecodable) per dead-letter stream."""
    prefix = ORIGINAL_FIELD_PREFIX.encode()
    out: dict[str, list[str]] = {}
    for stream in streams:
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]], client.xrange(dead_letter_stream(stream))
        )
        ids = []
        for _, record in entries:
            original = {k[len(prefix) :]: v for k, v in record.items() if k.startswith(prefix)}
            ids.append(article_id_of(original) or record[b"id"].decode())
        out[stream] = ids
    return out


def indexed(index: Path) -> tuple[list[str], list[str]]:
    """(originals, duplicates) in the indexer's SQLite file, by article id."""
    with sqlite3.connect(index) as db:
        rows = db.execute("SELECT id, duplicate_of FROM articles").fetchall()
    return [r[0] for r in rows if r[1] is None], [r[0] for r in rows if r[1] is not None]


def group_done(client: redis.Redis, stream: str, group: str) -> bool:
    """The group has read the whole stream and acknowledged everything it read."""
    if not client.exists(stream):
        return True
    info = client.xinfo_stream(stream)
    for g in client.xinfo_groups(stream):
        if g["name"].decode() == group:
            return bool(g["last-delivered-id"] == info["last-generated-id"] and g["pending"] == 0)
    return False


def idle(client: redis.Redis, pairs: Iterable[tuple[str, str]] = PIPELINE_GROUPS) -> bool:
    return all(group_done(client, stream, group) for stream, group in pairs)


@dataclass
class Accounting:
    """One test's books: every accepted article is indexed, a duplicate or dead-lettered."""

    accepted: set[str]
    indexed: set[str]
    duplicates: set[str]
    dead_lettered: set[str]

    @property
    def lost(self) -> set[str]:
        return self.accepted - self.indexed - self.duplicates - self.dead_lettered

    def line(self, name: str) -> str:
        return (
            f"{name}: accepted={len(self.accepted)} indexed={len(self.indexed)} "
            f"duplicates={len(self.duplicates)} dead-lettered={len(self.dead_lettered)} "
            f"lost={len(self.lost)}"
        )

    def report(self, name: str) -> None:
        print("\n" + self.line(name))
