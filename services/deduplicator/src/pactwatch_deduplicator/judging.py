"""Deciding whether an article repeats one already seen. Pure logic over a claim store.

Every identity of an article (its id, its canonical URL, its normalised text) is *claimed*:
the first article to claim an identity owns it, atomically, for the dedup window. An article
that finds any of its identities owned by another article is a duplicate of that article.
The same logic runs in the service (claims in Redis, shared by every replica) and offline in
``pactwatch dedup`` (claims in memory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pactwatch.contracts import Article
from pactwatch.identity import canonical_url, text_fingerprint

Method = Literal["id", "url", "text", "near"]


class ClaimStore(Protocol):
    """Atomic first-writer-wins claims: each claim returns the value that owns the key."""

    async def claim_many(self, claims: Sequence[tuple[str, str]]) -> list[str]:
        """For each (key, value): set it unless set; return the owning value, in order."""
        ...


@dataclass(frozen=True)
class Verdict:
    """What the deduplicator decided for one article."""

    article_id: str
    duplicate_of: str | None
    method: Method | None = None
    similarity: float = 1.0


def identities(article: Article) -> list[tuple[Method, str]]:
    """The keys under which an article is claimed, strongest first."""
    keys: list[tuple[Method, str]] = [("id", f"id:{article.id}")]
    if article.url:
        digest = hashlib.blake2b(canonical_url(article.url).encode(), digest_size=16).hexdigest()
        keys.append(("url", f"url:{digest}"))
    keys.append(("text", f"text:{text_fingerprint(article.title + ' ' + article.text)}"))
    return keys


def owner_value(article: Article, ingested_at: datetime) -> str:
    """The claim value: the article id and when it was ingested.

    A redelivered message carries the same value, so it finds its own claims and passes
    again (at-least-once delivery never turns an article into a duplicate of itself); a
    re-ingest of the same article carries a new time, so it is recognised as a repeat.
    """
    return f"{article.id} {int(ingested_at.timestamp() * 1000)}"


async def judge_exact(
    store: ClaimStore, batch: Sequence[tuple[Article, datetime]]
) -> list[Verdict]:
    """Claim every identity of every article in one round trip and decide each article.

    Articles are claimed in batch order, so of two copies in one batch the first wins.
    """
    claims: list[tuple[str, str]] = []
    spans: list[tuple[int, int]] = []
    for article, ingested_at in batch:
        value = owner_value(article, ingested_at)
        start = len(claims)
        claims.extend((key, value) for _, key in identities(article))
        spans.append((start, len(claims)))
    owners = await store.claim_many(claims)
    verdicts = []
    for (article, ingested_at), (start, end) in zip(batch, spans, strict=True):
        mine = owner_value(article, ingested_at)
        verdict = Verdict(article.id, None)
        for (method, _), owner in zip(identities(article), owners[start:end], strict=True):
            if owner != mine:
                verdict = Verdict(article.id, owner.split(" ", 1)[0], method)
                break
        verdicts.append(verdict)
    return verdicts


class MemoryClaims:
    """Claims held in a dict: the offline store of ``pactwatch dedup`` and of unit tests."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    async def claim_many(self, claims: Sequence[tuple[str, str]]) -> list[str]:
        return [self._owners.setdefault(key, value) for key, value in claims]
