"""Schema migrations, on both backends: an older index is upgraded in place and keeps its
data; an index newer than the code is refused with a message that says what to do."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

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
    # an indexer of schema version 1 (articles and search, no agreement registry yet)
    old = make_store(backend, steps_of(backend)[:1])
    await old.open()
    try:
        assert await old.schema_version() == 1
        await index(old, [SHUSHA])
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
