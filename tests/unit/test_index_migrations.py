"""Schema migrations, on both backends: an older index is upgraded in place and keeps its
data; an index newer than the code is refused with a message that says what to do."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from pactwatch_indexer.migrations import LATEST, POSTGRES, SQLITE, Migration, SchemaError
from pactwatch_indexer.postgres import PostgresStore
from pactwatch_indexer.queries import AgreementQuery, SearchQuery
from pactwatch_indexer.sqlite import SqliteStore
from pactwatch_indexer.store import IndexStore

from tests.unit.test_index_store import (
    BACKENDS,
    KEY,
    POSTGRES_URL,
    SHUSHA,
    backend_url,
    duplicate,
    index,
    postgres_schema,
    record,
    sighted,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    with postgres_schema() as name:
        yield name


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    schema = request.getfixturevalue("pg_schema") if request.param == "postgresql" else None
    return request.param, backend_url(request.param, tmp_path, schema)


def make_store(backend: tuple[str, str], steps: Sequence[Migration] | None = None) -> IndexStore:
    """A store of the backend whose code knows only ``steps`` (all of them by default)."""
    name, url = backend
    if name == "sqlite":
        return SqliteStore(Path(url.removeprefix("sqlite:///")), migrations=steps or SQLITE)
    return PostgresStore(url, migrations=steps or POSTGRES)


def steps_of(backend: tuple[str, str]) -> tuple[Migration, ...]:
    return SQLITE if backend[0] == "sqlite" else POSTGRES


TABLES_ADDED = {
    2: ("agreements", "agreement_parties", "agreement_sightings"),
    3: ("agreement_copies",),
}
"""The tables each step after the first created (PostgreSQL has no agreement_parties)."""
COUNT_SIGHTINGS_ONLY = """
UPDATE agreements SET
    mentions = (SELECT count(DISTINCT article_id) FROM agreement_sightings
                WHERE agreement_key = agreements.key),
    sources = (SELECT count(DISTINCT source_key) FROM agreement_sightings
               WHERE agreement_key = agreements.key)
"""
"""How versions before 3 counted mentions: the reporting articles alone."""


@contextmanager
def raw(backend: tuple[str, str]) -> Iterator[Callable[[str], list[tuple[Any, ...]]]]:
    """Run SQL on the backend's database directly (committed at the end)."""
    name, url = backend
    if name == "sqlite":
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            yield lambda sql: db.execute(sql).fetchall()
            db.commit()
        return
    with psycopg.connect(POSTGRES_URL) as conn:
        conn.execute(f'SET search_path = "{url.rsplit("%3D", 1)[1]}"')

        def run(sql: str) -> list[tuple[Any, ...]]:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

        yield run


def as_written_by(backend: tuple[str, str], version: int) -> None:
    """Make a current index what an indexer of schema ``version`` would have left holding the
    same data: the later steps' tables gone, their versions unrecorded, mentions counted as
    that version counted them. (Older code cannot write through today's store.)"""
    with raw(backend) as run:
        for later in sorted(TABLES_ADDED, reverse=True):
            if later > version:
                for table in TABLES_ADDED[later]:
                    run(f"DROP TABLE IF EXISTS {table}")
        # an int this module passes, never outside input
        run(f"DELETE FROM schema_version WHERE version > {int(version)}")  # noqa: S608
        if version == 2:
            run(COUNT_SIGHTINGS_ONLY)


def stored_counts(backend: tuple[str, str]) -> dict[str, tuple[int, int]]:
    with raw(backend) as run:
        rows = run("SELECT key, mentions, sources FROM agreements")
    return {key: (mentions, sources) for key, mentions, sources in rows}


async def test_a_new_index_gets_every_step(backend: tuple[str, str]) -> None:
    store = make_store(backend)
    await store.open()
    try:
        assert await store.schema_version() == LATEST
    finally:
        await store.close()
    # opening again applies nothing and changes nothing
    again = make_store(backend)
    await again.open()
    try:
        assert await again.schema_version() == LATEST
        await index(again, [SHUSHA])
    finally:
        await again.close()


async def test_an_older_index_is_upgraded_and_keeps_its_data(backend: tuple[str, str]) -> None:
    # an index of schema version 1 (articles and search, no agreement registry yet)
    written = make_store(backend)
    await written.open()
    try:
        await index(written, [SHUSHA])
    finally:
        await written.close()
    as_written_by(backend, 1)
    old = make_store(backend, steps_of(backend)[:1])
    await old.open()
    try:
        assert await old.schema_version() == 1
    finally:
        await old.close()
    # the current indexer opens it: upgraded, the article is still there and searchable
    new = make_store(backend)
    await new.open()
    try:
        assert await new.schema_version() == LATEST
        found = await new.article("a-shusha")
        assert found is not None
        assert found.title == SHUSHA.article.title
        page = await new.search(SearchQuery.build("Shusha", countries=["AZE"]))
        assert [h.id for h in page.hits] == ["a-shusha"]
        # and what the new version added works
        await index(new, [sighted(KEY, record(), "a-shusha")])
        listed = await new.agreements(AgreementQuery.build(parties=["AZE", "TUR"]))
        assert [a.key for a in listed.agreements] == [KEY]
    finally:
        await new.close()


async def test_an_index_of_version_2_counts_the_duplicates_it_holds(
    backend: tuple[str, str],
) -> None:
    written = make_store(backend)
    await written.open()
    try:
        await index(
            written,
            [
                SHUSHA,
                sighted(KEY, record(), "a-shusha", source="Azernews"),
                duplicate("c1", "a-shusha", "t", "x", source="Trend"),
                duplicate("c2", "c1", "t", "x", source="APA"),
                duplicate("c-other", "a-other", "t", "x", source="APA"),
            ],
        )
    finally:
        await written.close()
    as_written_by(backend, 2)
    assert stored_counts(backend) == {KEY: (1, 1)}
    new = make_store(backend)
    await new.open()
    try:
        assert await new.schema_version() == LATEST
        found = await new.agreement(KEY)
        assert found is not None
        assert (found.mentions, found.sources) == (3, 3)
        assert [[d.id for d in a.duplicates] for a in found.articles] == [["c1", "c2"]]
        # and the upgraded index keeps counting: one more copy
        await index(new, [duplicate("c3", "c2", "t", "x", source="Caliber")])
        again = await new.agreement(KEY)
        assert again is not None
        assert (again.mentions, again.sources) == (4, 4)
    finally:
        await new.close()


def test_the_test_knows_every_table_a_step_added() -> None:
    assert sorted(TABLES_ADDED) == list(range(2, LATEST + 1))


async def test_an_index_newer_than_the_code_is_refused(backend: tuple[str, str]) -> None:
    current = make_store(backend)
    await current.open()
    await current.close()
    # the code of version 1 meets a database of the latest version
    older_code = make_store(backend, steps_of(backend)[:1])
    with pytest.raises(SchemaError) as refused:
        await older_code.open()
    message = str(refused.value)
    assert f"has schema version {LATEST}" in message
    assert "knows versions up to 1 only" in message
    assert "newer pactwatch-indexer" in message
    assert "INDEX_URL" in message
    # nothing was changed by the refusal: the current code still opens it
    again = make_store(backend)
    await again.open()
    try:
        assert await again.schema_version() == LATEST
    finally:
        await again.close()


async def test_replicas_starting_together_migrate_once(backend: tuple[str, str]) -> None:
    stores = [make_store(backend) for _ in range(4)]
    async with anyio.create_task_group() as group:
        for store in stores:
            group.start_soon(store.open)
    try:
        for store in stores:
            assert await store.schema_version() == LATEST
    finally:
        for store in stores:
            await store.close()
    assert recorded_versions(backend) == list(range(1, LATEST + 1))


def recorded_versions(backend: tuple[str, str]) -> list[int]:
    name, url = backend
    if name == "sqlite":
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            rows = db.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    else:
        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect(POSTGRES_URL) as conn:
            conn.execute(f'SET search_path = "{schema}"')
            rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    return [int(r[0]) for r in rows]


def test_every_backend_has_the_same_versions_in_order() -> None:
    assert [m.version for m in SQLITE] == [m.version for m in POSTGRES]
    assert [m.version for m in SQLITE] == list(range(1, LATEST + 1))
