"""The registry in a real Redis, a batch at a time: the same outcome as one sighting after the
other, one alert per agreement when replicas race, a few round trips per batch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import anyio
import redis
from pactwatch.contracts import AgreementRecord
from pactwatch.streams import connect
from pactwatch_notifier.alerting import process_batch
from pactwatch_notifier.channels import AlertChannels
from pactwatch_notifier.registry import MemoryRegistry, Registry, Resolution, Sighting

from tests.integration.test_notify_harness import enriched


def record(
    title: str,
    parties: tuple[str, str] = ("KEN", "TZA"),
    *,
    kind: str = "memorandum",
    signed_on: str | None = "2021-12-10",
    status: str = "signed",
) -> AgreementRecord:
    return AgreementRecord(
        parties=parties,
        kind=kind,
        title=title,
        signed_on=signed_on,
        status=status,
        bilateral=True,
        confidence=0.9,
    )


def seen(title: str, article_id: str, source: str = "S", **kw: Any) -> Sighting:
    """A sighting of ``record(title, **kw)``; only a signing may alert."""
    reported = record(title, **kw)
    return Sighting(reported, article_id, source, wants_alert=reported.status == "signed")


def summary(resolutions: Sequence[Resolution]) -> list[tuple[str, bool, bool, int, int]]:
    return [(r.key, r.first, r.alert, r.mentions, r.sources) for r in resolutions]


def in_redis(redis_url: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """``work`` on a client of its own, as each replica has."""

    async def run() -> Any:
        client = connect(redis_url)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return anyio.run(run)


BATCH = [
    seen("immigration", "a1", "Dispatch"),
    seen("prisons", "a1", "Dispatch", kind="agreement"),
    seen("visa exemption", "a1", "Dispatch", parties=("AZE", "TUR"), status="planned"),
    seen("immigration", "a2", "Daily", signed_on=None),
    seen("visa exemption", "a3", "Mail", parties=("AZE", "TUR")),
    seen("immigration", "a1", "Dispatch"),  # a1 again: a redelivery claims its alert again
    seen("correctional services", "a4", "Daily"),
    seen("transfer of sentenced persons", "a4", "Daily", kind="agreement"),
]


def test_a_batch_resolves_as_its_sightings_would_one_after_the_other(redis_url: str) -> None:
    async def sequential() -> list[Resolution]:
        memory = MemoryRegistry()
        return [
            await memory.resolve(s.record, s.article_id, s.source, s.wants_alert) for s in BATCH
        ]

    expected = summary(anyio.run(sequential))
    assert summary(in_redis(redis_url, lambda r: Registry(r).resolve_all(BATCH))) == expected
    # the same batch again (a redelivery): the same entries and alerts, no mention counted twice
    final = {key: (mentions, sources) for key, _, _, mentions, sources in expected}
    again = summary(in_redis(redis_url, lambda r: Registry(r).resolve_all(BATCH)))
    assert again == [(key, False, alert, *final[key]) for key, _, alert, _, _ in expected]


class Overtaken(Registry):
    """A replica that another one overtakes, once, between its read and its write."""

    def __init__(self, client: Any, rival: Callable[[], Awaitable[Any]]) -> None:
        super().__init__(client)
        self.rival: Callable[[], Awaitable[Any]] | None = rival
        self.reads = 0

    async def _read(self, pairs: Sequence[str]) -> list[dict[bytes, bytes]]:
        read = await super()._read(pairs)
        self.reads += 1
        if self.rival is not None:
            rival, self.rival = self.rival, None
            await rival()
        return read


def test_a_replica_overtaken_between_read_and_write_decides_again(redis_url: str) -> None:
    async def race(client: Any) -> tuple[list[Resolution], list[Resolution], int]:
        theirs: list[Resolution] = []

        async def rival() -> None:  # another replica, its own connection
            other = connect(redis_url)
            try:
                theirs.extend(await Registry(other).resolve_all([seen("immigration", "b1")]))
            finally:
                await other.aclose()

        mine = Overtaken(client, rival)
        ours = await mine.resolve_all([seen("immigration", "a1"), seen("tourism", "a1")])
        return theirs, ours, mine.reads

    theirs, ours, reads = in_redis(redis_url, race)
    assert [(r.first, r.alert, r.mentions) for r in theirs] == [(True, True, 1)]
    assert [(r.first, r.alert, r.mentions) for r in ours] == [(False, False, 2), (True, True, 1)]
    assert ours[0].key == theirs[0].key
    assert reads == 2  # the pair read again, once


def test_a_rival_changing_an_entry_in_place_is_seen_too(redis_url: str) -> None:
    """The rival adds no entry (the pair keeps its size): it claims the alert of one a planned
    report created; the content check, not a count, sees it."""
    planned = seen("immigration", "p0", status="planned", signed_on=None)
    in_redis(redis_url, lambda r: Registry(r).resolve_all([planned]))

    async def race(client: Any) -> tuple[list[Resolution], list[Resolution]]:
        theirs: list[Resolution] = []

        async def rival() -> None:
            other = connect(redis_url)
            try:
                theirs.extend(await Registry(other).resolve_all([seen("immigration", "b1")]))
            finally:
                await other.aclose()

        ours = await Overtaken(client, rival).resolve_all([seen("immigration", "a1")])
        return theirs, ours

    theirs, ours = in_redis(redis_url, race)
    assert [(r.first, r.alert, r.mentions) for r in theirs] == [(False, True, 2)]
    assert [(r.first, r.alert, r.mentions) for r in ours] == [(False, False, 3)]


def test_replicas_resolving_one_agreement_at_once_alert_it_once(redis_url: str) -> None:
    """Two replicas (a connection each) resolve reports of one agreement from 40 articles, in
    interleaved batches of four: one alert, and each article's mention counted once."""

    async def replicas(_: Any) -> list[Resolution]:
        clients = [connect(redis_url), connect(redis_url)]
        try:
            registries = [Registry(c) for c in clients]
            batches = [
                [seen("immigration", f"a{n}-{i}", f"S{i}") for i in range(4)] for n in range(10)
            ]
            results = await asyncio.gather(
                *(registries[n % 2].resolve_all(batch) for n, batch in enumerate(batches))
            )
            return [r for batch in results for r in batch]
        finally:
            for c in clients:
                await c.aclose()

    resolutions: list[Resolution] = in_redis(redis_url, replicas)
    assert sum(r.alert for r in resolutions) == 1
    assert sum(r.first for r in resolutions) == 1
    assert len({r.key for r in resolutions}) == 1
    assert sorted(r.mentions for r in resolutions) == list(range(1, 41))
    assert max(r.sources for r in resolutions) == 4


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats = cast(dict[str, dict[str, Any]], client.info("commandstats"))
    return {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}


def test_a_batch_costs_a_read_and_a_write_per_pair_and_a_script_per_publication(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """No WATCH/MULTI/EXEC, no SCRIPT EXISTS: per batch, one HGETALL and one script per pair
    (each pipelined with the others), then one script per alert and per update."""
    messages = [
        enriched("a-1", title="agreement on cooperation in tourism"),
        enriched("a-2", title="agreement on cooperation in tourism", source="Trend"),  # update
        enriched("a-3", parties=("DEU", "FRA"), title="treaty on energy transit"),
        enriched("a-4", parties=("ARM", "GEO"), title="agreement on visas"),
    ]

    async def handle(client: Any) -> int:
        outcome = await process_batch(Registry(client), messages, lookback_days=365)
        await AlertChannels(client, retention_days=90).publish(outcome.alerts, outcome.updates)
        return len(outcome.alerts) + len(outcome.updates)

    in_redis(redis_url, handle)  # scripts loaded (Redis lost them: see the next test)
    redis_client.flushdb()
    redis_client.config_resetstat()
    publications = in_redis(redis_url, handle)
    calls = command_calls(redis_client)
    assert publications == 4
    assert calls.get("hgetall") == 3
    assert calls.get("evalsha") == 3 + 4
    for absent in ("watch", "multi", "exec", "script|exists", "script|load", "eval"):
        assert absent not in calls, absent


def test_scripts_redis_lost_are_loaded_again(redis_url: str, redis_client: redis.Redis) -> None:
    redis_client.script_flush()
    first = in_redis(
        redis_url, lambda r: process_batch(Registry(r), [enriched("a-1")], lookback_days=365)
    )

    async def publish(client: Any) -> list[tuple[Any, str, bool]]:
        return await AlertChannels(client, retention_days=90).publish(first.alerts, [])

    assert [new for *_, new in in_redis(redis_url, publish)] == [True]
    redis_client.script_flush()
    assert [new for *_, new in in_redis(redis_url, publish)] == [False]  # still once
    again = in_redis(
        redis_url, lambda r: process_batch(Registry(r), [enriched("a-2")], lookback_days=365)
    )
    assert [(s.first, s.mentions) for s in again.sightings] == [(False, 2)]
