"""The indexer's write path: a batch of stream messages in, one transaction out.

This is what the subscribers call and what a benchmark can call directly
(``await Indexer(store).index(messages)``); it knows nothing of Redis or FastStream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import anyio
import structlog

from pactwatch_indexer.indexing import IndexMessage, Prepared, prepare
from pactwatch_indexer.store import UnavailableError

log = structlog.get_logger()

MAX_RETRY_DELAY_S = 5.0


class BatchWriter(Protocol):
    """What the write path needs of a store (every IndexStore is one)."""

    async def write(self, batch: Prepared) -> None: ...


class IndexingError(RuntimeError):
    """Some messages of a batch could not be stored; the others were."""


class Indexer:
    """Indexes batches of messages into a store.

    While the database is unavailable a batch is retried with backoff (up to ``retry_s``)
    rather than dropped. A batch the database refuses for any other reason is written again
    message by message, so that one bad message cannot hold back the rest; the bad ones are
    logged and reported by raising :class:`IndexingError`, which leaves the batch
    unacknowledged in its stream (the good messages, already stored, are idempotent).
    """

    def __init__(self, store: BatchWriter, *, retry_s: float = 60.0) -> None:
        self.store = store
        self.retry_s = retry_s

    async def index(self, messages: Sequence[IndexMessage]) -> Prepared:
        """Store ``messages`` (any mix of the three kinds); return what was written."""
        batch = prepare(messages)
        if batch.empty:
            return batch
        try:
            await self._write(batch)
        except UnavailableError:
            raise
        except Exception:
            if len(messages) == 1:
                raise
            await self._one_by_one(messages)
        log.debug(
            "index.batch",
            articles=len(batch.articles),
            duplicates=len(batch.duplicates),
            sightings=len(batch.sightings),
            reingested=batch.reingested,
        )
        return batch

    async def _one_by_one(self, messages: Sequence[IndexMessage]) -> None:
        failed: list[str] = []
        for message in messages:
            try:
                await self._write(prepare([message]))
            except UnavailableError:
                raise
            except Exception as exc:
                failed.append(message.article.id)
                log.error(
                    "index.message_failed",
                    article_id=message.article.id,
                    message_type=type(message).__name__,
                    error=f"{type(exc).__name__}: {exc}",
                )
        if failed:
            raise IndexingError(
                f"{len(failed)} of {len(messages)} messages could not be indexed: {failed}"
            )

    async def _write(self, batch: Prepared) -> None:
        delay = 0.1
        deadline = anyio.current_time() + self.retry_s
        while True:
            try:
                await self.store.write(batch)
                return
            except UnavailableError as exc:
                if anyio.current_time() + delay > deadline:
                    raise
                log.warning("index.retrying", reason=str(exc), delay_s=delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_S)
