"""The index's one small interface, and the choice of backend from INDEX_URL.

Two backends implement :class:`IndexStore` and pass the same test suite:

- SQLite with FTS5 (``sqlite:///path``), the embedded default: zero set-up, one file.
- PostgreSQL with tsvector/GIN (``postgresql://...``): several indexer replicas and query
  servers share one database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pactwatch_indexer.indexing import Prepared
from pactwatch_indexer.migrations import SchemaError
from pactwatch_indexer.queries import SEARCH_WINDOW, AgreementQuery, NetworkQuery, SearchQuery
from pactwatch_indexer.responses import (
    AgreementDetail,
    AgreementPage,
    ArticleDetail,
    Network,
    SearchPage,
)

__all__ = ["IndexStore", "QueryTimeoutError", "SchemaError", "UnavailableError", "open_store"]


class UnavailableError(RuntimeError):
    """The database cannot be reached or is busy right now; the same call may work later."""


class QueryTimeoutError(UnavailableError):
    """A query ran past its time limit and was cut off."""


class IndexStore(Protocol):
    """Articles, duplicates and the agreement registry, with full-text search."""

    backend: str
    where: str
    """The database, for messages (never with a password)."""

    async def open(self) -> None:
        """Connect, and bring the schema up to date (raise SchemaError when it is newer)."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise unless the database answers."""

    async def schema_version(self) -> int: ...

    async def write(self, batch: Prepared) -> None:
        """Write one prepared batch in one transaction; idempotent."""

    async def search(self, query: SearchQuery) -> SearchPage: ...

    async def article(self, article_id: str) -> ArticleDetail | None: ...

    async def agreements(self, query: AgreementQuery) -> AgreementPage: ...

    async def agreement(self, key: str) -> AgreementDetail | None: ...

    async def network(self, query: NetworkQuery) -> Network:
        """Country pairs and the agreements between them (every pair among the countries
        party to each agreement), most agreements first."""


def open_store(
    url: str,
    *,
    pool_size: int = 8,
    query_timeout_s: float = 5.0,
    search_window: int = SEARCH_WINDOW,
) -> IndexStore:
    """The backend ``url`` names (not yet opened): ``sqlite:///path`` or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        from pactwatch_indexer.sqlite import SqliteStore

        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        if not path or path == ":memory:":
            raise ValueError(
                f"INDEX_URL {url!r}: name a file (sqlite:///path/to/index.sqlite3); "
                "an in-memory index would be lost on restart and cannot be shared"
            )
        return SqliteStore(
            Path(path),
            readers=pool_size,
            query_timeout_s=query_timeout_s,
            search_window=search_window,
        )
    if url.startswith(("postgresql://", "postgres://")):
        from pactwatch_indexer.postgres import PostgresStore

        return PostgresStore(
            url, pool_size=pool_size, query_timeout_s=query_timeout_s, search_window=search_window
        )
    raise ValueError(
        f"INDEX_URL {url!r}: use sqlite:///path (embedded) or postgresql://... (shared)"
    )
