"""The agreement registry in Redis: who saw which agreement first, with an atomic claim.

All keys of one party pair share a hash tag (``{AZE-TUR}``), so that one atomic step covers
them, on a single Redis and on Redis Cluster alike. A batch of sightings costs two round trips
whatever its size: one pipeline reads the entries of every pair it names, :func:`decide` runs
over each pair's records in order in memory, and one pipeline of scripts writes each pair's
result, a script per pair. Each script first checks that its pair's entries are still exactly
those read (same fields, same values) and writes nothing otherwise; only the pairs that lost
that race are read and decided again. So two notifier replicas resolving reports of one
agreement at the same moment cannot both create it or both alert: the second write finds the
first's entry, and its pair is decided again with it.

The check compares content, where WATCH would watch the key: a write that left the entries as
they were (a redelivery) changes no decision, and a writer that knows nothing of this check
(an older replica during a rolling update) is still seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from pactwatch.contracts import AgreementRecord
from pactwatch.matching import Known, agreement_key, same_agreement, title_stems
from pactwatch.scripting import LuaScript, ScriptCall, run_scripts
from redis.asyncio import Redis


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


@dataclass(frozen=True)
class Sighting:
    """One record of one article, to resolve against the registry."""

    record: AgreementRecord
    article_id: str
    source: str | None
    wants_alert: bool
    """The record may alert (see :func:`pactwatch_notifier.deciding.freshness`)."""


class Resolver(Protocol):
    """What the notifier needs of a registry: Redis in the service, memory in ``eval``."""

    async def resolve_all(self, sightings: Sequence[Sighting]) -> list[Resolution]:
        """Resolve ``sightings`` as if one after the other, in order."""
        ...


def pair_of(record: AgreementRecord) -> tuple[str, ...]:
    """The record's parties as the registry files them (a non-state party as NONSTATE)."""
    return tuple(p or "NONSTATE" for p in record.parties)


# KEYS: the pair's entries hash, then per sighting its entry's articles set and sources set.
# ARGV: n, then n (field, SHA1 of value) read; m, then m (field, value) to write; then per
# sighting (article id, casefolded source or ''). Replies nil when the entries changed since
# they were read, else the mention and source counts after each sighting, in order.
_COMMIT = LuaScript("""
local n = tonumber(ARGV[1])
if redis.call('HLEN', KEYS[1]) ~= n then return false end
local i = 2
for _ = 1, n do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if not value or redis.sha1hex(value) ~= ARGV[i + 1] then return false end
  i = i + 2
end
local m = tonumber(ARGV[i])
i = i + 1
for _ = 1, m do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local counts = {}
for k = 2, #KEYS, 2 do
  redis.call('SADD', KEYS[k], ARGV[i])
  if ARGV[i + 1] ~= '' then redis.call('SADD', KEYS[k + 1], ARGV[i + 1]) end
  counts[#counts + 1] = redis.call('SCARD', KEYS[k])
  counts[#counts + 1] = redis.call('SCARD', KEYS[k + 1])
  i = i + 2
end
return counts
""")


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
        (resolution,) = await self.resolve_all([Sighting(record, article_id, source, wants_alert)])
        return resolution

    async def resolve_all(self, sightings: Sequence[Sighting]) -> list[Resolution]:
        """Find or create the entry of each sighting's record and count its article's
        mention, with the outcome one :meth:`resolve` after the other would have had."""
        positions: dict[str, list[int]] = {}  # pair: its sightings' positions, in order
        for position, sighting in enumerate(sightings):
            positions.setdefault("-".join(pair_of(sighting.record)), []).append(position)
        resolutions: dict[int, Resolution] = {}
        pending = list(positions)
        while pending:
            plans = [
                self._decide(pair, raw, [sightings[p] for p in positions[pair]])
                for pair, raw in zip(pending, await self._read(pending), strict=True)
            ]
            replies = await run_scripts(self._redis, [call for call, _ in plans])
            lost = []
            for pair, (_, decided), counts in zip(pending, plans, replies, strict=True):
                if counts is None:  # another writer changed the pair since it was read
                    lost.append(pair)
                    continue
                for n, (position, (entry, first, alert)) in enumerate(
                    zip(positions[pair], decided, strict=True)
                ):
                    resolutions[position] = Resolution(
                        key=entry["key"],
                        first=first,
                        alert=alert,
                        mentions=int(counts[2 * n]),
                        sources=int(counts[2 * n + 1]),
                        entry=entry,
                    )
            pending = lost
        return [resolutions[position] for position in range(len(sightings))]

    async def _read(self, pairs: Sequence[str]) -> list[dict[bytes, bytes]]:
        """The entries of each pair, as stored."""
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            for pair in pairs:
                pipe.hgetall(self._keys(pair)[0])
            replies: list[dict[bytes, bytes]] = await pipe.execute()
        return replies

    def _decide(
        self, pair: str, read: dict[bytes, bytes], sightings: Sequence[Sighting]
    ) -> tuple[ScriptCall, list[tuple[dict[str, Any], bool, bool]]]:
        """Run :func:`decide` over one pair's sightings in order, each seeing the entries the
        ones before it left: the script that writes the result if the entries are still
        those ``read``, and what each sighting resolved to."""
        entries = {field.decode(): orjson.loads(value) for field, value in read.items()}
        changed: dict[str, None] = {}  # in the order first written, as one by one would
        decided = []
        keys = [self._keys(pair)[0]]
        counted: list[str] = []
        for s in sightings:
            entry, first, alert = decide(
                list(entries.values()), s.record, pair_of(s.record), s.article_id, s.wants_alert
            )
            entries[entry["key"]] = entry
            changed[entry["key"]] = None
            decided.append((entry, first, alert))
            keys.extend(self._keys(pair, entry["key"])[1:])
            counted.extend((s.article_id, s.source.casefold() if s.source else ""))
        args: list[str | bytes | int | float] = [len(read)]
        for field, value in read.items():
            args.extend((field, hashlib.sha1(value, usedforsecurity=False).hexdigest()))
        args.append(len(changed))
        for key in changed:
            args.extend((key, orjson.dumps(entries[key])))
        args.extend(counted)
        return ScriptCall(_COMMIT, keys, args), decided

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
    if match is not None:
        entry = dict(match)
    else:
        entry = _new_entry(record, parties, article_id, {e["key"] for e in entries})
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
        parties = pair_of(record)
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

    async def resolve_all(self, sightings: Sequence[Sighting]) -> list[Resolution]:
        """Resolve ``sightings`` one after the other, in order."""
        return [
            await self.resolve(s.record, s.article_id, s.source, s.wants_alert) for s in sightings
        ]


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
    record: AgreementRecord, parties: tuple[str, ...], article_id: str, taken: set[str]
) -> dict[str, Any]:
    key = agreement_key(parties, record.kind, record.title, record.signed_on)
    if key in taken:
        # another agreement with the same words and date ("memorandum", undated) that was
        # judged a different one: a key of its own, or it would replace the other's entry
        key += "~" + hashlib.blake2b(article_id.encode(), digest_size=4).hexdigest()
    return {
        "key": key,
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
