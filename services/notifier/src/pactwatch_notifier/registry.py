"""The agreement registry in Redis: who saw which agreement first, with an atomic claim.

All keys of one party pair share a hash tag (``{AZE-TUR}``), so that one optimistic
transaction (WATCH/MULTI/EXEC) covers them, on a single Redis and on Redis Cluster alike.
Two notifier replicas resolving reports of one agreement at the same moment cannot both
create it or both alert: the second transaction fails, retries and finds the first's entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pactwatch.contracts import AgreementRecord
from pactwatch.matching import Known, agreement_key, same_agreement
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


class Registry:
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
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(entries_key)
                    raw = await pipe.hgetall(entries_key)
                    entries = {k.decode(): orjson.loads(v) for k, v in raw.items()}
                    match = next(
                        (
                            e
                            for e in entries.values()
                            if same_agreement(
                                Known(e["key"], e["kind"], e["title"], e["signed_on"]),
                                record.kind,
                                record.title,
                                record.signed_on,
                            )
                        ),
                        None,
                    )
                    first = match is None
                    entry = dict(match) if match else _new_entry(record, parties, article_id)
                    alert = False
                    if wants_alert and not entry.get("alerted_by"):
                        entry["alerted_by"] = article_id
                        alert = True
                    elif wants_alert and entry.get("alerted_by") == article_id:
                        alert = True  # a redelivery of the claimant: publish again
                    _improve(entry, record)
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
