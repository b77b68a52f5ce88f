"""The write path around the store: retried while the database is away; one bad message
cannot hold back the rest of its batch."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pactwatch_indexer.indexing import IndexMessage, Prepared, prepare
from pactwatch_indexer.queries import SearchQuery
from pactwatch_indexer.sqlite import SqliteStore
from pactwatch_indexer.store import UnavailableError
from pactwatch_indexer.writing import Indexer, IndexingError

from tests.unit.test_index_store import duplicate, enriched

pytestmark = pytest.mark.anyio


class Flaky:
    """A real store that is unavailable for the first ``outages`` writes and refuses any
    batch holding the article ``poison``."""

    def __init__(self, store: SqliteStore, outages: int = 0) -> None:
        self.store = store
        self.outages = outages
        self.writes = 0

    async def write(self, batch: Prepared) -> None:
        self.writes += 1
        if self.outages:
            self.outages -= 1
            raise UnavailableError("SQLite: database is locked")
        if any(row.id == "poison" for row in batch.articles):
            raise ValueError("a row the database refuses")
        await self.store.write(batch)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "index.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


async def ids(store: SqliteStore, q: str) -> list[str]:
    return sorted(h.id for h in (await store.search(SearchQuery.build(q))).hits)


async def test_a_batch_is_retried_while_the_database_is_unavailable(store: SqliteStore) -> None:
    flaky = Flaky(store, outages=2)
    await Indexer(flaky, retry_s=10).index([enriched("a", "Accord", "accord")])
    assert flaky.writes == 3
    assert await ids(store, "accord") == ["a"]


async def test_retrying_gives_up_after_its_time(store: SqliteStore) -> None:
    flaky = Flaky(store, outages=1000)
    with pytest.raises(UnavailableError):
        await Indexer(flaky, retry_s=0.3).index([enriched("a", "Accord", "accord")])
    assert 2 <= flaky.writes < 1000


async def test_one_bad_message_does_not_hold_back_its_batch(store: SqliteStore) -> None:
    flaky = Flaky(store)
    batch: list[IndexMessage] = [
        enriched("good-1", "Accord", "accord"),
        enriched("poison", "Accord", "accord"),
        duplicate("good-2", "good-1", "Accord", "accord"),
    ]
    with pytest.raises(IndexingError, match=r"1 of 3 messages could not be indexed: \['poison'\]"):
        await Indexer(flaky).index(batch)
    assert await ids(store, "accord") == ["good-1", "good-2"]


async def test_a_batch_of_reingests_writes_nothing(store: SqliteStore) -> None:
    flaky = Flaky(store)
    prepared = await Indexer(flaky).index([duplicate("a", "a", "Accord", "accord")])
    assert prepared.reingested == 1
    assert flaky.writes == 0


async def test_a_full_disk_is_an_outage_not_a_bad_message(store: SqliteStore) -> None:
    await store.write(prepare([enriched("a", "Accord", "accord")]))
    writer = store._writer
    assert writer is not None
    # the file may not grow by a page: SQLite answers "database or disk is full"
    (pages,) = writer.execute("PRAGMA page_count").fetchone()
    writer.execute(f"PRAGMA max_page_count = {pages}")
    big = enriched("b", "Accord", "accord " + "word " * 50_000)
    with pytest.raises(UnavailableError, match="full"):
        await store.write(prepare([big]))


async def test_a_reader_that_cannot_open_the_file_is_an_outage(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    opened = SqliteStore(tmp_path / "data" / "index.sqlite3")
    await opened.open()
    try:
        shutil.rmtree(tmp_path / "data")  # the volume went away under the service
        with pytest.raises(UnavailableError, match="unable to open"):
            await ids(opened, "accord")
    finally:
        await opened.close()
