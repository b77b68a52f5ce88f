"""The agreement registry in Redis: who saw which agreement first, with an atomic claim.

All keys of one party pair share a hash tag (``{AZE-TUR}``), so that one optimistic
transaction (WATCH/MULTI/EXEC) covers them, on a single Redis and on Redis Cluster alike.
Two notifier replicas resolving reports of one agreement at the same moment cannot both
create it or both alert: the second transaction fails, retries and finds the first's entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from pactwatch.contracts import AgreementRecord
from pactwatch.matching import Known, agreement_key, same_agreement, title_stems
from redis.asyncio import Redis
from redis.exceptions import WatchError


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one record of one article."""

    key: str
    first: bool
    alert: bool
    """This sighting must publish the alert (first claim, or a redelivery of the claimant)."""
    mentions: int
    sources: int
    entry: dict[str, Any]


class Resolver(Protocol):
    """What the notifier needs of a registry: Redis in the service, memory in ``eval``."""

    async def resolve(
        self, record: AgreementRecord, article_id: str, source: str | None, wants_alert: bool
    ) -> Resolution: ...


class Registry:
    """The registry in Redis."""

    def __init__(self, redis: Redis, prefix: str = "pactwatch:registry:") -> None:
        self._redis = redis
        self._prefix = prefix

    def _keys(self, pair: str, key: str | None = None) -> tuple[str, str, str]:
        tag = f"{{{pair}}}"
        return (
            f"{self._prefix}{tag}",
            f"{self._prefix}{tag}:articles:{key}",
            f"{self._prefix}{tag}:sources:{key}",
        )

    async def resolve(
        self,
        record: AgreementRecord,
        article_id: str,
        source: str | None,
        wants_alert: bool,
    ) -> Resolution:
        """Find or create the registry entry of ``record`` and count this article's mention."""
        parties = tuple(p or "NONSTATE" for p in record.parties)
        pair = "-".join(parties)
        entries_key = self._keys(pair)[0]
        while True:
            async with self._redis.pipeline(transaction=True) as transaction:
                pipe: Any = transaction
                try:
                    await pipe.watch(entries_key)
                    raw = await pipe.hgetall(entries_key)
                    entries = [orjson.loads(v) for v in raw.values()]
                    entry, first, alert = decide(entries, record, parties, article_id, wants_alert)
                    _, articles_key, sources_key = self._keys(pair, entry["key"])
                    pipe.multi()
                    pipe.hset(entries_key, entry["key"], orjson.dumps(entry))
                    pipe.sadd(articles_key, article_id)
                    if source:
                        pipe.sadd(sources_key, source.casefold())
                    pipe.scard(articles_key)
                    pipe.scard(sources_key)
                    result = await pipe.execute()
                except WatchError:
                    continue
            return Resolution(
                key=entry["key"],
                first=first,
                alert=alert,
                mentions=int(result[-2]),
                sources=int(result[-1]),
                entry=entry,
            )

    async def entries(self, pair: str) -> list[dict[str, Any]]:
        raw = await self._redis.hgetall(self._keys(pair)[0])
        return [orjson.loads(v) for v in raw.values()]


def decide(
    entries: list[dict[str, Any]],
    record: AgreementRecord,
    parties: tuple[str, ...],
    article_id: str,
    wants_alert: bool,
) -> tuple[dict[str, Any], bool, bool]:
    """Which entry of a pair's registry ``record`` reports (a new one if none), whether this
    sighting created it, and whether it raises the alert. Pure: the Redis registry runs it
    inside its transaction, the offline replay of ``pactwatch eval`` in memory.

    The alert goes to the first sighting that may alert; a later redelivery of the same
    article raises it again (publishing is at least once), any other article never does.
    """
    mine = _fold(record.title)
    match = next((e for e in entries if e.get("reports", {}).get(article_id) == mine), None)
    if match is None:
        # the extractor keeps apart what one article reports as two documents: an entry
        # another record of this article already reports is not this record's
        match = next(
            (
                e
                for e in entries
                if same_agreement(
                    Known(e["key"], e["kind"], e["title"], e["signed_on"]),
                    record.kind,
                    record.title,
                    record.signed_on,
                )
                and (article_id not in e.get("reports", {}) or _restates(e, record))
            ),
            None,
        )
    entry = dict(match) if match else _new_entry(record, parties, article_id)
    reports = dict(entry.get("reports", {}))
    reports[article_id] = mine
    if len(reports) > _MAX_REPORTS:
        reports.pop(next(iter(reports)))
    entry["reports"] = reports
    alert = False
    if wants_alert and not entry.get("alerted_by"):
        entry["alerted_by"] = article_id
        alert = True
    elif wants_alert and entry.get("alerted_by") == article_id:
        alert = True
    _improve(entry, record)
    return entry, match is None, alert


class MemoryRegistry:
    """The registry held in dicts, for replaying a corpus offline (``pactwatch eval``)."""

    def __init__(self) -> None:
        self._pairs: dict[str, dict[str, dict[str, Any]]] = {}
        self._articles: dict[str, set[str]] = {}
        self._sources: dict[str, set[str]] = {}

    async def resolve(
        self, record: AgreementRecord, article_id: str, source: str | None, wants_alert: bool
    ) -> Resolution:
        parties = tuple(p or "NONSTATE" for p in record.parties)
        entries = self._pairs.setdefault("-".join(parties), {})
        entry, first, alert = decide(
            list(entries.values()), record, parties, article_id, wants_alert
        )
        entries[entry["key"]] = entry
        articles = self._articles.setdefault(entry["key"], set())
        articles.add(article_id)
        sources = self._sources.setdefault(entry["key"], set())
        if source:
            sources.add(source.casefold())
        return Resolution(entry["key"], first, alert, len(articles), len(sources), entry)


def _restates(entry: dict[str, Any], record: AgreementRecord) -> bool:
    """A second record of one article that only names the entry's document again (same kind,
    its title's words all in the entry's title), as opposed to another document of the
    same article that merely shares a subject area."""
    words = title_stems(record.title)
    return entry["kind"] == record.kind and bool(words) and words <= title_stems(entry["title"])


_MAX_REPORTS = 200
"""Reports remembered per entry (for redeliveries); the mention counts live in sets."""


def _fold(title: str) -> str:
    return " ".join(title.casefold().split())


def _new_entry(
    record: AgreementRecord, parties: tuple[str, ...], article_id: str
) -> dict[str, Any]:
    return {
        "key": agreement_key(parties, record.kind, record.title, record.signed_on),
        "parties": list(parties),
        "kind": record.kind,
        "title": record.title,
        "signed_on": record.signed_on,
        "status": record.status,
        "first_article": article_id,
        "alerted_by": None,
    }


def _improve(entry: dict[str, Any], record: AgreementRecord) -> None:
    """Later reports fill in what earlier ones lacked: a full date, a longer title, signing."""
    if record.signed_on and (
        not entry["signed_on"] or len(entry["signed_on"]) < len(record.signed_on)
    ):
        entry["signed_on"] = record.signed_on
    if len(record.title) > len(entry["title"]) and record.title[:1].isupper():
        entry["title"] = record.title
    if record.status == "signed":
        entry["status"] = "signed"
