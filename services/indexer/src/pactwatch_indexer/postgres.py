"""The shared backend: PostgreSQL, full-text search with a weighted tsvector and a GIN index.

Several indexer replicas and query servers share one database. Writers never lose each
other's updates: rows are written in key order (so two batches cannot deadlock on each other),
and an agreement's row is locked (``FOR UPDATE``) while its sightings are merged into it.
What counts as a mention (a sighting, or a duplicate below a reporting article) depends on
rows other batches write: a duplicate's link, another article's sighting. So each batch,
once its articles are written, takes one advisory lock (REGISTRY_LOCK) until it commits, and
only then reads the links and sightings its counts come from: every batch sees every earlier
one whole, and no count is computed from half of two concurrent writes. The lock is held for
the registry and counts alone (milliseconds); the articles and their tsvectors, most of a
batch's work, are written before it, side by side.
The tsvector is computed from accent-folded text (as SQLite's ``remove_diacritics``), so
"Turkiye" finds "Türkiye" on both backends.
"""

# SQL here is assembled only from this module's own fragments (WHERE clauses, placeholders);
# every value a caller supplies is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pactwatch_indexer import responses
from pactwatch_indexer.indexing import (
    AgreementState,
    ArticleRow,
    CopyChanges,
    Prepared,
    plan_copies,
)
from pactwatch_indexer.migrations import (
    POSTGRES,
    POSTGRES_MIGRATION_LOCK,
    POSTGRES_VERSION_TABLE,
    Migration,
    SchemaError,
    pending,
)
from pactwatch_indexer.queries import SEARCH_WINDOW, AgreementQuery, NetworkQuery, SearchQuery
from pactwatch_indexer.responses import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    AgreementDetail,
    AgreementPage,
    ArticleDetail,
    Network,
    SearchPage,
)
from pactwatch_indexer.searchsyntax import to_tsquery
from pactwatch_indexer.store import QueryTimeoutError, UnavailableError

REPORTERS_LISTED = 20
HEADLINE_CHARS = 200_000
"""ts_headline reparses the text: only the start of a very long article is used for snippets."""
HEADLINE_OPTIONS = (
    f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_END}, MaxWords=30, MinWords=12,"
    ' MaxFragments=2, FragmentDelimiter=" … "'
)

_ARTICLE_COLUMNS = """
    id, url, source, source_key, published, title, text, language, notes, entities,
    countries, agreements, skipped, truncated, ingested_at, indexed_at,
    duplicate_of, duplicate_method, duplicate_similarity, search
"""
_UPSERT_ARTICLE = f"""
INSERT INTO articles ({_ARTICLE_COLUMNS}) VALUES (
    %(id)s, %(url)s, %(source)s, %(source_key)s, %(published)s, %(title)s, %(text)s,
    %(language)s, %(notes)s::jsonb, %(entities)s::jsonb, %(countries)s,
    %(agreements)s::jsonb, %(skipped)s, %(truncated)s, %(ingested_at)s, %(indexed_at)s,
    %(duplicate_of)s, %(duplicate_method)s, %(duplicate_similarity)s,
    setweight(to_tsvector('english', %(search_title)s), 'A')
        || setweight(to_tsvector('english', %(search_text)s), 'B')
)
ON CONFLICT (id) DO UPDATE SET
    url = excluded.url, source = excluded.source, source_key = excluded.source_key,
    published = excluded.published, title = excluded.title, text = excluded.text,
    language = excluded.language, notes = excluded.notes, entities = excluded.entities,
    countries = excluded.countries, agreements = excluded.agreements,
    skipped = excluded.skipped, truncated = excluded.truncated,
    ingested_at = excluded.ingested_at, indexed_at = excluded.indexed_at,
    duplicate_of = excluded.duplicate_of, duplicate_method = excluded.duplicate_method,
    duplicate_similarity = excluded.duplicate_similarity, search = excluded.search
"""
# An article that went through extraction is an original: a duplicate verdict never
# overwrites it (the enriched upsert above, in turn, always wins).
_UPSERT_DUPLICATE = _UPSERT_ARTICLE + " WHERE articles.duplicate_of IS NOT NULL"

_AGREEMENT_VALUES = """
    %(key)s, %(parties)s::jsonb, %(countries)s, %(counterparts)s::jsonb, %(kind)s, %(title)s,
    %(signatories)s::jsonb, %(signed_on)s, %(signed_from)s, %(signed_to)s, %(sort_date)s,
    %(status)s, %(evidence)s::jsonb, %(confidence)s, %(first_seen_at)s, %(first_article_id)s,
    %(updated_at)s
"""
_INSERT_AGREEMENT = f"""
INSERT INTO agreements (
    key, parties, countries, counterparts, kind, title, signatories, signed_on, signed_from,
    signed_to, sort_date, status, evidence, confidence, first_seen_at, first_article_id,
    updated_at
) VALUES ({_AGREEMENT_VALUES})
ON CONFLICT (key) DO NOTHING
"""
_UPDATE_AGREEMENT = """
UPDATE agreements SET
    parties = %(parties)s::jsonb, countries = %(countries)s,
    counterparts = %(counterparts)s::jsonb, kind = %(kind)s, title = %(title)s,
    signatories = %(signatories)s::jsonb, signed_on = %(signed_on)s,
    signed_from = %(signed_from)s, signed_to = %(signed_to)s, sort_date = %(sort_date)s,
    status = %(status)s, evidence = %(evidence)s::jsonb, confidence = %(confidence)s,
    first_seen_at = %(first_seen_at)s, first_article_id = %(first_article_id)s,
    updated_at = %(updated_at)s
WHERE key = %(key)s
"""
_UPSERT_SIGHTING = """
INSERT INTO agreement_sightings (
    agreement_key, article_id, record_digest, article_url, article_source, source_key,
    article_published, article_title, record, seen_at, is_first, alerted,
    reported_mentions, reported_sources
) VALUES (
    %(key)s, %(article_id)s, %(digest)s, %(url)s, %(source)s, %(source_key)s, %(published)s,
    %(title)s, %(record)s::jsonb, %(seen_at)s, %(first)s, %(alerted)s, %(mentions)s,
    %(sources)s
)
ON CONFLICT (agreement_key, article_id, record_digest) DO UPDATE SET
    seen_at = least(agreement_sightings.seen_at, excluded.seen_at),
    is_first = agreement_sightings.is_first OR excluded.is_first,
    alerted = agreement_sightings.alerted OR excluded.alerted,
    reported_mentions = greatest(agreement_sightings.reported_mentions,
                                 excluded.reported_mentions),
    reported_sources = greatest(agreement_sightings.reported_sources, excluded.reported_sources)
"""
# mentions: the articles that reported it and the duplicates of those (agreement_copies)
_COUNT_MENTIONS = """
UPDATE agreements g SET mentions = c.mentions, sources = c.sources
FROM (
    SELECT agreement_key, count(DISTINCT article_id) AS mentions,
           count(DISTINCT source_key) AS sources
    FROM (
        SELECT agreement_key, article_id, source_key FROM agreement_sightings
        WHERE agreement_key = ANY(%(keys)s)
        UNION ALL
        SELECT agreement_key, article_id, source_key FROM agreement_copies
        WHERE agreement_key = ANY(%(keys)s)
    ) m
    GROUP BY agreement_key
) c
WHERE g.key = c.agreement_key
"""

REGISTRY_LOCK = 0x7061637478
"""Advisory lock each write holds from its registry part to its commit (see the docstring)."""

# what plan_copies (indexing.py) asks to read, for a list of article ids
_FETCHES = {
    "below": "SELECT id, duplicate_of, source_key FROM articles WHERE duplicate_of = ANY(%s)",
    "rows": "SELECT id, duplicate_of, source_key FROM articles WHERE id = ANY(%s)",
    "reported": "SELECT DISTINCT agreement_key, article_id FROM agreement_sightings"
    " WHERE article_id = ANY(%s)",
    "stored": "SELECT agreement_key, article_id, source_key FROM agreement_copies"
    " WHERE article_id = ANY(%s)",
}
_DUPLICATE_COLUMNS = (
    "id, url, source, published, title, duplicate_of, duplicate_method, duplicate_similarity,"
    " ingested_at"
)


def _article_params(row: ArticleRow, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "source": row.source,
        "source_key": row.source_key,
        "published": row.published,
        "title": row.title,
        "text": row.text,
        "language": row.language,
        "notes": row.notes,
        "entities": row.entities,
        "countries": list(row.countries),
        "agreements": row.agreements,
        "skipped": row.skipped,
        "truncated": row.truncated,
        "ingested_at": row.ingested_at,
        "indexed_at": now,
        "duplicate_of": row.duplicate_of,
        "duplicate_method": row.duplicate_method,
        "duplicate_similarity": row.duplicate_similarity,
        "search_title": row.search_title,
        "search_text": row.search_text,
    }


def _agreement_params(state: AgreementState, now: datetime) -> dict[str, Any]:
    return {**state.columns(), "countries": list(state.countries), "updated_at": now}


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _unavailable(exc: Exception) -> Exception:
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return QueryTimeoutError("the query took too long and was stopped")
    # OperationalError covers a full disk, a shutdown and lost connections; a server that
    # became a read-only replica in a failover answers ReadOnlySqlTransaction
    if isinstance(
        exc,
        psycopg.OperationalError
        | psycopg.InterfaceError
        | PoolTimeout
        | psycopg.errors.ReadOnlySqlTransaction,
    ):
        return UnavailableError(f"PostgreSQL: {exc}")
    return exc


class PostgresStore:
    """The index in a PostgreSQL database (see the module docstring)."""

    backend = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        query_timeout_s: float = 5.0,
        search_window: int = SEARCH_WINDOW,
        migrations: Sequence[Migration] = POSTGRES,
    ) -> None:
        self._url = url
        self.where = redact(url)
        self._pool_size = pool_size
        self._search_window = search_window
        self._migrations = migrations
        self._timeout_ms = str(int(query_timeout_s * 1000))
        self._pool: AsyncConnectionPool | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                await self._migrate(conn)
        except psycopg.Error as exc:
            raise _unavailable(exc) from exc
        # the writer takes one connection; queries share the rest
        pool = AsyncConnectionPool(
            self._url,
            min_size=1,
            max_size=self._pool_size + 1,
            kwargs={"autocommit": True},
            open=False,
            timeout=30,
            name="pactwatch-index",
        )
        try:
            await pool.open(wait=True, timeout=30)
        except PoolTimeout as exc:
            await pool.close()
            raise UnavailableError(f"PostgreSQL at {self.where}: no connection ({exc})") from exc
        self._pool = pool

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Apply the missing schema steps, once even when many replicas start together."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_MIGRATION_LOCK,))
            await conn.execute(POSTGRES_VERSION_TABLE)
            cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
            row = await cur.fetchone()
            current = int(row[0]) if row else 0
            for step in pending(current, self._migrations, self.where):
                for statement in step.statements:
                    try:
                        await conn.execute(statement)
                    except psycopg.errors.DatabaseError as exc:
                        raise SchemaError(
                            f"the index at {self.where} could not be upgraded to schema "
                            f"version {step.version} ({step.description}): {exc}"
                        ) from exc
                await conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                    (step.version, step.description),
                )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def _transaction(self, *, read: bool) -> AsyncIterator[psycopg.AsyncCursor[DictRow]]:
        if self._pool is None:
            raise RuntimeError("the store is not open")
        try:
            async with self._pool.connection() as conn, conn.transaction():
                cur = conn.cursor(row_factory=dict_row)
                if read:
                    await cur.execute(
                        "SELECT set_config('statement_timeout', %s, true)", (self._timeout_ms,)
                    )
                yield cur
        except (psycopg.Error, PoolTimeout) as exc:
            raise _unavailable(exc) from exc

    async def ping(self) -> None:
        async with self._transaction(read=True) as cur:
            await cur.execute("SELECT 1")

    async def schema_version(self) -> int:
        async with self._transaction(read=True) as cur:
            await cur.execute("SELECT max(version) AS version FROM schema_version")
            row = await cur.fetchone()
            return int(row["version"]) if row else 0

    # --- writing --------------------------------------------------------------------------

    async def write(self, batch: Prepared) -> None:
        now = datetime.now(UTC)
        async with self._transaction(read=False) as cur:
            if batch.articles:
                await cur.executemany(
                    _UPSERT_ARTICLE, [_article_params(r, now) for r in batch.articles]
                )
            if batch.duplicates:
                await cur.executemany(
                    _UPSERT_DUPLICATE, [_article_params(r, now) for r in batch.duplicates]
                )
            # the articles, the costly part, are written before the lock: replicas write
            # those side by side, and queue only for the registry and counts
            await cur.execute("SELECT pg_advisory_xact_lock(%s)", (REGISTRY_LOCK,))
            recount = await self._write_registry(cur, batch, now) if batch.agreements else set()
            recount.update(await self._write_copies(cur, batch))
            if recount:
                await cur.execute(_COUNT_MENTIONS, {"keys": sorted(recount)})

    async def _write_registry(
        self, cur: psycopg.AsyncCursor[DictRow], batch: Prepared, now: datetime
    ) -> set[str]:
        """Merge the agreements and store the sightings; return the keys to count again."""
        keys = [a.key for a in batch.agreements]
        await cur.executemany(
            _INSERT_AGREEMENT, [_agreement_params(a, now) for a in batch.agreements]
        )
        # lock the rows (in key order) so that another replica cannot merge in between
        await cur.execute(
            "SELECT * FROM agreements WHERE key = ANY(%s) ORDER BY key FOR UPDATE", (keys,)
        )
        known = {row["key"]: AgreementState.from_row(row) for row in await cur.fetchall()}
        merged = [known[a.key].merge(a) for a in batch.agreements]
        await cur.executemany(_UPDATE_AGREEMENT, [_agreement_params(m, now) for m in merged])
        await cur.executemany(
            _UPSERT_SIGHTING,
            [
                {
                    "key": s.key,
                    "article_id": s.article_id,
                    "digest": s.digest,
                    "url": s.url,
                    "source": s.source,
                    "source_key": s.source_key,
                    "published": s.published,
                    "title": s.title,
                    "record": s.record,
                    "seen_at": s.seen_at,
                    "first": s.first,
                    "alerted": s.alerted,
                    "mentions": s.mentions,
                    "sources": s.sources,
                }
                for s in batch.sightings
            ],
        )
        return set(keys)

    async def _write_copies(self, cur: psycopg.AsyncCursor[DictRow], batch: Prepared) -> list[str]:
        """Bring agreement_copies up to date with the batch; return the keys whose copies changed.

        The articles whose link the batch may have changed are every duplicate in it and any
        original that was counted as a copy until now (see :func:`plan_copies`).
        """
        relinked = {r.id for r in batch.duplicates}
        if batch.articles:
            await cur.execute(
                "SELECT DISTINCT article_id FROM agreement_copies WHERE article_id = ANY(%s)",
                ([r.id for r in batch.articles],),
            )
            relinked.update(r["article_id"] for r in await cur.fetchall())
        plan = plan_copies((s.article_id for s in batch.sightings), relinked)
        try:
            fetch = next(plan)
            while True:
                what, ids = fetch
                await cur.execute(_FETCHES[what], (ids,))
                fetch = plan.send([tuple(row.values()) for row in await cur.fetchall()])
        except StopIteration as done:
            changes: CopyChanges = done.value
        if changes.gone:
            await cur.executemany(
                "DELETE FROM agreement_copies WHERE agreement_key = %s AND article_id = %s",
                changes.gone,
            )
        if changes.new:
            await cur.executemany(
                "INSERT INTO agreement_copies (agreement_key, article_id, source_key)"
                " VALUES (%s, %s, %s)",
                changes.new,
            )
        return changes.keys

    # --- reading --------------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> SearchPage:
        tsquery = to_tsquery(query.expression)
        params: dict[str, Any] = {"tsquery": tsquery}
        filters = []
        if query.countries:
            filters.append("a.countries @> %(countries)s::text[]")
            params["countries"] = list(query.countries)
        if query.source:
            filters.append("a.source_key = %(source)s")
            params["source"] = query.source.casefold()
        if query.published_from:
            filters.append("a.published >= %(published_from)s")
            params["published_from"] = query.published_from
        if query.published_to:
            filters.append("a.published <= %(published_to)s")
            params["published_to"] = query.published_to
        if not query.duplicates:
            filters.append("a.duplicate_of IS NULL")
        matching = "a.search @@ q.query" + "".join(f" AND {f}" for f in filters)
        if query.after is not None:
            matching += " AND a.seq >= %(floor)s"
            params.update(floor=query.after.floor, score=query.after.score, seq=query.after.seq)
        keyset = (
            " WHERE score < %(score)s::real OR (score = %(score)s::real AND seq < %(seq)s)"
            if query.after
            else ""
        )
        async with self._transaction(read=True) as cur:
            # the newest matches first (the window), then ts_rank over the window only
            await cur.execute(
                f"""
                WITH q AS (SELECT to_tsquery('english', %(tsquery)s) AS query),
                recent AS MATERIALIZED (
                    SELECT a.seq, a.id, a.search FROM articles a, q WHERE {matching}
                    ORDER BY a.seq DESC LIMIT %(window)s
                ),
                ranked AS (
                    SELECT recent.seq, recent.id, ts_rank(recent.search, q.query) AS score,
                           min(recent.seq) OVER () AS floor
                    FROM recent, q
                )
                SELECT seq, id, score, floor FROM ranked{keyset}
                ORDER BY score DESC, seq DESC LIMIT %(limit)s
                """,
                {**params, "window": self._search_window, "limit": query.limit + 1},
            )
            ranked = await cur.fetchall()
            more = len(ranked) > query.limit
            ranked = ranked[: query.limit]
            if not ranked:
                return SearchPage(hits=[], next_cursor=None)
            await cur.execute(
                "SELECT a.id, a.url, a.source, a.published, a.title, a.countries,"
                " a.duplicate_of, ts_headline('english', left(a.text, %(chars)s), q.query,"
                " %(options)s) AS snippet"
                " FROM articles a, to_tsquery('english', %(tsquery)s) AS q(query)"
                " WHERE a.id = ANY(%(ids)s)",
                {
                    "chars": HEADLINE_CHARS,
                    "options": HEADLINE_OPTIONS,
                    "tsquery": tsquery,
                    "ids": [r["id"] for r in ranked],
                },
            )
            details = {row["id"]: row for row in await cur.fetchall()}
        hits = [
            responses.hit({**details[r["id"]], "score": r["score"]}, details[r["id"]]["snippet"])
            for r in ranked
        ]
        if not more:
            return SearchPage(hits=hits, next_cursor=None)
        floor = query.after.floor if query.after else int(ranked[0]["floor"])
        last = ranked[-1]
        return SearchPage(
            hits=hits,
            next_cursor=query.cursor_after(float(last["score"]), int(last["seq"]), floor),
        )

    async def article(self, article_id: str) -> ArticleDetail | None:
        async with self._transaction(read=True) as cur:
            await cur.execute("SELECT * FROM articles WHERE id = %s", (article_id,))
            row = await cur.fetchone()
            if row is None:
                return None
            await cur.execute(
                f"SELECT {_DUPLICATE_COLUMNS} FROM articles WHERE duplicate_of = %s"
                " ORDER BY ingested_at, id",
                (article_id,),
            )
            duplicates = await cur.fetchall()
            await cur.execute(
                "SELECT agreement_key FROM agreement_sightings WHERE article_id = %(id)s"
                " UNION SELECT agreement_key FROM agreement_copies WHERE article_id = %(id)s"
                " ORDER BY agreement_key",
                {"id": article_id},
            )
            keys = [k["agreement_key"] for k in await cur.fetchall()]
        return responses.article(row, duplicates, keys)

    async def agreements(self, query: AgreementQuery) -> AgreementPage:
        params: dict[str, Any] = {"limit": query.limit + 1}
        where = _registry_filters(query, params)
        if query.after:
            where.append(
                "(g.sort_date, g.first_seen_at, g.key) < (%(sort_date)s, %(first_seen)s, %(key)s)"
            )
            params["sort_date"] = query.after.sort_date
            params["first_seen"] = query.after.first_seen_at
            params["key"] = query.after.key
        async with self._transaction(read=True) as cur:
            await cur.execute(
                f"SELECT * FROM agreements g WHERE {' AND '.join(where)}"
                " ORDER BY g.sort_date DESC, g.first_seen_at DESC, g.key DESC LIMIT %(limit)s",
                params,
            )
            rows = await cur.fetchall()
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            reporters: dict[str, list[responses.Row]] = {row["key"]: [] for row in rows}
            if rows:
                await cur.execute(
                    """
                    SELECT * FROM (
                        SELECT s.*, row_number() OVER (
                            PARTITION BY agreement_key ORDER BY seen_at, article_id) AS n
                        FROM (
                            SELECT agreement_key, article_id, min(seen_at) AS seen_at,
                                   max(article_url) AS article_url,
                                   max(article_source) AS article_source,
                                   max(article_published) AS article_published,
                                   max(article_title) AS article_title
                            FROM agreement_sightings WHERE agreement_key = ANY(%(keys)s)
                            GROUP BY agreement_key, article_id
                        ) s
                    ) listed WHERE n <= %(listed)s ORDER BY agreement_key, seen_at, article_id
                    """,
                    {"keys": list(reporters), "listed": REPORTERS_LISTED},
                )
                for r in await cur.fetchall():
                    reporters[r["agreement_key"]].append(r)
        page = [responses.agreement_summary(row, reporters[row["key"]]) for row in rows]
        cursor = None
        if more:
            last = rows[-1]
            cursor = query.cursor_after(last["sort_date"], last["first_seen_at"], last["key"])
        return AgreementPage(agreements=page, next_cursor=cursor)

    async def agreement(self, key: str) -> AgreementDetail | None:
        async with self._transaction(read=True) as cur:
            await cur.execute("SELECT * FROM agreements WHERE key = %s", (key,))
            row = await cur.fetchone()
            if row is None:
                return None
            await cur.execute(
                "SELECT * FROM agreement_sightings WHERE agreement_key = %s"
                " ORDER BY seen_at, article_id, record_digest",
                (key,),
            )
            sightings = await cur.fetchall()
            await cur.execute(
                f"SELECT {_DUPLICATE_COLUMNS} FROM agreement_copies c"
                " JOIN articles ON articles.id = c.article_id WHERE c.agreement_key = %s"
                " ORDER BY ingested_at, id",
                (key,),
            )
            copies = await cur.fetchall()
        return responses.agreement_detail(row, sightings, copies)

    async def network(self, query: NetworkQuery) -> Network:
        params: dict[str, Any] = {}
        where = " AND ".join(_registry_filters(query, params))
        async with self._transaction(read=True) as cur:
            # codes compare byte by byte, as in SQLite, whatever the database's locale
            await cur.execute(
                f"""
                SELECT x.a, y.b, g.kind, count(*) AS agreements, max(g.signed_to) AS latest
                FROM agreements g
                CROSS JOIN LATERAL unnest(g.countries) AS x(a)
                CROSS JOIN LATERAL unnest(g.countries) AS y(b)
                WHERE x.a COLLATE "C" < y.b COLLATE "C" AND {where}
                GROUP BY x.a, y.b, g.kind
                """,
                params,
            )
            pairs = await cur.fetchall()
            await cur.execute(
                f"""
                SELECT x.party, count(*) AS agreements
                FROM agreements g CROSS JOIN LATERAL unnest(g.countries) AS x(party)
                WHERE cardinality(g.countries) > 1 AND {where}
                GROUP BY x.party
                """,
                params,
            )
            nodes = await cur.fetchall()
        return responses.network(pairs, nodes, query.limit)


def _registry_filters(query: AgreementQuery | NetworkQuery, params: dict[str, Any]) -> list[str]:
    """The WHERE conditions on agreements ``g`` that both the listing and the network use."""
    where = ["true"]
    if query.parties:
        where.append("g.countries @> %(parties)s::text[]")
        params["parties"] = list(query.parties)
    if query.kind:
        where.append("g.kind = %(kind)s")
        params["kind"] = query.kind
    if query.status:
        where.append("g.status = %(status)s")
        params["status"] = query.status
    if query.signed_from:
        where.append("g.signed_to >= %(signed_from)s")
        params["signed_from"] = query.signed_from
    if query.signed_to:
        where.append("g.signed_from <= %(signed_to)s")
        params["signed_to"] = query.signed_to
    return where
