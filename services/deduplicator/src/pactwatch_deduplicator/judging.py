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
from pactwatch.identity import canonical_url, words, words_fingerprint

from pactwatch_deduplicator.nearness import Fingerprinter, similarity

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


def identities(article: Article, text_words: Sequence[str]) -> list[tuple[Method, str]]:
    """The keys under which an article is claimed, strongest first; ``text_words`` are the
    :func:`~pactwatch.identity.words` of its text."""
    keys: list[tuple[Method, str]] = [("id", f"id:{article.id}")]
    if article.url:
        digest = hashlib.blake2b(canonical_url(article.url).encode(), digest_size=16).hexdigest()
        keys.append(("url", f"url:{digest}"))
    # the fingerprint of title + " " + text, from words the near-duplicate check needs too
    keys.append(("text", f"text:{words_fingerprint([*words(article.title), *text_words])}"))
    return keys


def owner_value(article: Article, ingested_at: datetime) -> str:
    """The claim value: the article id and when it was ingested.

    A redelivered message carries the same value, so it finds its own claims and passes
    again (at-least-once delivery never turns an article into a duplicate of itself); a
    re-ingest of the same article carries a new time, so it is recognised as a repeat.
    """
    return f"{article.id} {int(ingested_at.timestamp() * 1000)}"


async def judge_exact(
    store: ClaimStore,
    batch: Sequence[tuple[Article, datetime]],
    text_words: Sequence[Sequence[str]],
) -> list[Verdict]:
    """Claim every identity of every article in one round trip and decide each article.

    Articles are claimed in batch order, so of two copies in one batch the first wins.
    ``text_words``: the words of each article's text, in batch order.
    """
    claims: list[tuple[str, str]] = []
    keyed: list[tuple[list[tuple[Method, str]], str, int]] = []
    for n, (article, ingested_at) in enumerate(batch):
        value = owner_value(article, ingested_at)
        keys = identities(article, text_words[n])
        keyed.append((keys, value, len(claims)))
        claims.extend((key, value) for _, key in keys)
    owners = await store.claim_many(claims)
    verdicts = []
    for (article, _), (keys, mine, start) in zip(batch, keyed, strict=True):
        verdict = Verdict(article.id, None)
        for (method, _), owner in zip(keys, owners[start : start + len(keys)], strict=True):
            if owner != mine:
                verdict = Verdict(article.id, owner.split(" ", 1)[0], method)
                break
        verdicts.append(verdict)
    return verdicts


@dataclass(frozen=True)
class Candidate:
    """An article claimed before this one in one of its LSH bands."""

    article_id: str
    original: str
    """The first article of its family: itself when it was new."""
    signature: bytes
    order: float = 0.0
    """Its place in the first-claimed order."""


class LshStore(Protocol):
    """Shared LSH bands with a first-claimed order that every replica agrees on."""

    async def claim_many(
        self, claims: Sequence[tuple[str, list[str], bytes]]
    ) -> list[list[Candidate]]:
        """Record each (article id, band keys, signature) in order and return, for each, the
        articles claimed before it in any of its bands. A claim made again (a redelivery)
        keeps its first place."""
        ...

    async def set_originals(self, originals: Sequence[tuple[str, str]]) -> None:
        """Record (article id, its original), so that later copies point at the original."""
        ...


async def judge(
    claims: ClaimStore,
    lsh: LshStore,
    fingerprinter: Fingerprinter,
    batch: Sequence[tuple[Article, datetime]],
) -> list[Verdict]:
    """Exact duplicates first (cheap), then near-duplicates among the rest (MinHash + LSH)."""
    text_words = [words(article.text) for article, _ in batch]
    verdicts = await judge_exact(claims, batch, text_words)
    fresh = [i for i, v in enumerate(verdicts) if v.duplicate_of is None]
    signatures = {i: fingerprinter.signature_of_words(text_words[i]) for i in fresh}
    requests = [
        (batch[i][0].id, fingerprinter.bands(signatures[i]), signatures[i].tobytes()) for i in fresh
    ]
    found = await lsh.claim_many(requests)
    originals: list[tuple[str, str]] = []
    for i, candidates in zip(fresh, found, strict=True):
        # of the similar enough, the first claimed: a copy whose original is still being
        # recorded by another replica must not become an original itself
        best: tuple[float, Candidate] | None = None
        for candidate in sorted(candidates, key=lambda c: c.order):
            if candidate.article_id == batch[i][0].id:
                continue
            score = similarity(signatures[i], candidate.signature)
            if score >= fingerprinter.threshold:
                best = (score, candidate)
                break
        if best is not None:
            original = best[1].original or best[1].article_id
            verdicts[i] = Verdict(batch[i][0].id, original, "near", round(best[0], 3))
            originals.append((batch[i][0].id, original))
    await lsh.set_originals(originals)
    return verdicts


class MemoryClaims:
    """Claims held in a dict: the offline store of ``pactwatch dedup`` and of unit tests."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    async def claim_many(self, claims: Sequence[tuple[str, str]]) -> list[str]:
        return [self._owners.setdefault(key, value) for key, value in claims]


class MemoryLsh:
    """LSH bands held in dicts: the offline store of ``pactwatch dedup`` and of unit tests."""

    def __init__(self) -> None:
        self._order: dict[str, int] = {}
        self._bands: dict[str, list[str]] = {}
        self._signatures: dict[str, bytes] = {}
        self._originals: dict[str, str] = {}

    async def claim_many(
        self, claims: Sequence[tuple[str, list[str], bytes]]
    ) -> list[list[Candidate]]:
        out = []
        for article_id, bands, signature in claims:
            place = self._order.setdefault(article_id, len(self._order))
            self._signatures.setdefault(article_id, signature)
            seen: dict[str, Candidate] = {}
            for band in bands:
                members = self._bands.setdefault(band, [])
                for member in members:
                    if self._order[member] < place and member not in seen:
                        seen[member] = Candidate(
                            member,
                            self._originals.get(member, member),
                            self._signatures[member],
                            float(self._order[member]),
                        )
                if article_id not in members:
                    members.append(article_id)
            out.append(list(seen.values()))
        return out

    async def set_originals(self, originals: Sequence[tuple[str, str]]) -> None:
        self._originals.update(originals)
