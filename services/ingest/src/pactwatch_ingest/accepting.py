"""The one path every article takes into the pipeline, whoever sent it: normalise, publish,
report each item's fate. POST /articles, POST /articles/html and the feed poller all use it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

import anyio
from pactwatch.contracts import Article

from pactwatch_ingest.intake import Candidate, UnusableItemError, to_article


class Publisher(Protocol):
    async def publish(self, articles: Sequence[Article], ingested_at: datetime) -> list[bool]: ...


class Gate(Protocol):
    async def check(self) -> None:
        """Return when the pipeline can take more; raise BacklogFullError when it cannot."""
        ...


class BacklogFullError(Exception):
    """The pipeline is too far behind to take more now: the sender should come back later."""

    def __init__(self, backlog: int, limit: int, retry_after_s: float) -> None:
        self.backlog = backlog
        self.limit = limit
        self.retry_after_s = retry_after_s
        super().__init__(
            f"the pipeline is {backlog} articles behind (limit {limit}); nothing from this "
            f"request was accepted: send it again in {retry_after_s:g}s"
        )


@dataclass(frozen=True)
class Outcome:
    """What became of one candidate: published as ``article``, or refused with ``errors``."""

    index: int
    article: Article | None = None
    known: bool = False
    errors: tuple[dict[str, str], ...] = ()


class Intake:
    """Normalises candidates (in a worker thread: language detection and cleaning are CPU
    work) and publishes the good ones in one round trip; answers once Redis has them."""

    def __init__(self, publisher: Publisher, gate: Gate | None = None) -> None:
        self._publisher = publisher
        self._gate = gate

    async def check_capacity(self) -> None:
        """Raise BacklogFullError while the pipeline's backlog is past its limit."""
        if self._gate is not None:
            await self._gate.check()

    async def accept(self, candidates: Sequence[Candidate]) -> list[Outcome]:
        """One outcome per candidate, in the candidates' order. Raises BacklogFullError
        (nothing published) while the pipeline is too far behind."""
        if not candidates:
            return []
        await self.check_capacity()
        now = datetime.now(UTC)
        outcomes = await anyio.to_thread.run_sync(normalise_all, candidates, now.date())
        published = [o for o in outcomes if o.article is not None]
        known = await self._publisher.publish([o.article for o in published if o.article], now)
        flags = {id(o): k for o, k in zip(published, known, strict=True)}
        return [
            Outcome(o.index, o.article, flags[id(o)], o.errors) if id(o) in flags else o
            for o in outcomes
        ]


def normalise_all(candidates: Sequence[Candidate], today: date) -> list[Outcome]:
    """Each candidate as an Article, or the reason it holds none."""
    outcomes: list[Outcome] = []
    for candidate in candidates:
        try:
            article = to_article(candidate.item, today, candidate.notes, candidate.origin)
        except UnusableItemError as exc:
            outcomes.append(
                Outcome(candidate.index, errors=({"field": exc.field, "message": str(exc)},))
            )
        else:
            outcomes.append(Outcome(candidate.index, article))
    return outcomes
