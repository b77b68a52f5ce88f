"""The embedded backend: one SQLite file in WAL mode, full-text search with FTS5.

sqlite3 blocks, so every call runs in a worker thread. One writer connection takes each batch
in a single ``BEGIN IMMEDIATE`` transaction (statements prepared once and run with
``executemany``); queries use a small pool of reader connections, which WAL lets read while
the writer writes. Several indexer processes may share the file: the busy timeout makes a
writer wait for another's transaction instead of failing.
"""

# SQL here is assembled only from this module's own fragments (WHERE clauses, placeholders);
# every value a caller supplies is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from pactwatch_indexer import responses
from pactwatch_indexer.indexing import (
    AgreementState,
    ArticleRow,
    CopyChanges,
    Prepared,
    dumps,
    plan_copies,
)
from pactwatch_indexer.migrations import (
    SQLITE,
    SQLITE_VERSION_TABLE,
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
from pactwatch_indexer.searchsyntax import QueryError, has_prefix, to_fts5
from pactwatch_indexer.store import QueryTimeoutError, UnavailableError

T = TypeVar("T")

BM25 = "bm25(articles_fts, 4.0, 1.0, 0.0)"
"""A word in the title counts four times one in the text; the countries column not at all."""
SNIPPET_TOKENS = 24
REPORTERS_LISTED = 20
CHUNK = 500
"""Keys per IN (...) list, well under SQLite's limit on bound parameters."""


def _ts(moment: datetime) -> str:
    """Fixed-width UTC text, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


_UPSERT_ARTICLE = """
INSERT INTO articles (
    id, url, source, source_key, published, title, text, language, notes, entities,
    countries, agreements, skipped, truncated, ingested_at, indexed_at,
    duplicate_of, duplicate_method, duplicate_similarity
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    url = excluded.url, source = excluded.source, source_key = excluded.source_key,
    published = excluded.published, title = excluded.title, text = excluded.text,
    language = excluded.language, notes = excluded.notes, entities = excluded.entities,
    countries = excluded.countries, agreements = excluded.agreements,
    skipped = excluded.skipped, truncated = excluded.truncated,
    ingested_at = excluded.ingested_at, indexed_at = excluded.indexed_at,
    duplicate_of = excluded.duplicate_of, duplicate_method = excluded.duplicate_method,
    duplicate_similarity = excluded.duplicate_similarity
"""
# An article that went through extraction is an original: a duplicate verdict never
# overwrites it (the enriched upsert above, in turn, always wins).
_UPSERT_DUPLICATE = _UPSERT_ARTICLE + " WHERE articles.duplicate_of IS NOT NULL"

_UPSERT_AGREEMENT = """
INSERT INTO agreements (
    key, parties, counterparts, kind, title, signatories, signed_on, signed_from, signed_to,
    sort_date, status, evidence, confidence, first_seen_at, first_article_id, updated_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    parties = excluded.parties, counterparts = excluded.counterparts, kind = excluded.kind,
    title = excluded.title, signatories = excluded.signatories,
    signed_on = excluded.signed_on, signed_from = excluded.signed_from,
    signed_to = excluded.signed_to, sort_date = excluded.sort_date, status = excluded.status,
    evidence = excluded.evidence, confidence = excluded.confidence,
    first_seen_at = excluded.first_seen_at, first_article_id = excluded.first_article_id,
    updated_at = excluded.updated_at
"""

_UPSERT_SIGHTING = """
INSERT INTO agreement_sightings (
    agreement_key, article_id, record_digest, article_url, article_source, source_key,
    article_published, article_title, record, seen_at, is_first, alerted,
    reported_mentions, reported_sources
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (agreement_key, article_id, record_digest) DO UPDATE SET
    seen_at = min(seen_at, excluded.seen_at),
    is_first = max(is_first, excluded.is_first),
    alerted = max(alerted, excluded.alerted),
    reported_mentions = max(reported_mentions, excluded.reported_mentions),
    reported_sources = max(reported_sources, excluded.reported_sources)
"""

# mentions: the articles that reported it and the duplicates of those (agreement_copies)
_COUNT_MENTIONS = """
UPDATE agreements SET
    mentions = (SELECT count(*) FROM (
        SELECT article_id FROM agreement_sightings WHERE agreement_key = agreements.key
        UNION
        SELECT article_id FROM agreement_copies WHERE agreement_key = agreements.key)),
    sources = (SELECT count(DISTINCT source_key) FROM (
        SELECT source_key FROM agreement_sightings WHERE agreement_key = agreements.key
        UNION ALL
        SELECT source_key FROM agreement_copies WHERE agreement_key = agreements.key))
WHERE key = ?
"""

# what plan_copies (indexing.py) asks to read, for a list of article ids ({ids})
_FETCHES = {
    "below": "SELECT id, duplicate_of, source_key FROM articles WHERE duplicate_of IN ({ids})",
    "rows": "SELECT id, duplicate_of, source_key FROM articles WHERE id IN ({ids})",
    "reported": "SELECT DISTINCT agreement_key, article_id FROM agreement_sightings"
    " WHERE article_id IN ({ids})",
    "stored": "SELECT agreement_key, article_id, source_key FROM agreement_copies"
    " WHERE article_id IN ({ids})",
}


def _article_params(row: ArticleRow, now: str) -> tuple[Any, ...]:
    return (
        row.id,
        row.url,
        row.source,
        row.source_key,
        _day(row.published),
        row.title,
        row.text,
        row.language,
        row.notes,
        row.entities,
        dumps(list(row.countries)),
        row.agreements,
        row.skipped,
        int(row.truncated),
        _ts(row.ingested_at),
        now,
        row.duplicate_of,
        row.duplicate_method,
        row.duplicate_similarity,
    )


def _agreement_params(state: AgreementState, now: str) -> tuple[Any, ...]:
    c = state.columns()
    return (
        c["key"],
        c["parties"],
        c["counterparts"],
        c["kind"],
        c["title"],
        c["signatories"],
        c["signed_on"],
        _day(c["signed_from"]),
        _day(c["signed_to"]),
        c["sort_date"],
        c["status"],
        c["evidence"],
        c["confidence"],
        _ts(c["first_seen_at"]),
        c["first_article_id"],
        now,
    )


_UNAVAILABLE = ("locked", "busy", "unable to open", "disk is full", "disk i/o error", "readonly")
"""SQLite's words for a file that cannot be written now (busy, locked, its disk full or
failing, mounted read-only): the messages wait, they are not at fault."""


def _unavailable(exc: sqlite3.Error) -> Exception:
    """A database that cannot be used now is worth retrying; anything else is a bug to
    surface."""
    message = str(exc)
    if "interrupted" in message:
        return QueryTimeoutError("the query took too long and was stopped")
    if isinstance(exc, sqlite3.OperationalError) and any(
        word in message.lower() for word in _UNAVAILABLE
    ):
        return UnavailableError(f"SQLite: {message}")
    return exc


class SqliteStore:
    """The index in one SQLite file (see the module docstring)."""

    backend = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        readers: int = 8,
        query_timeout_s: float = 5.0,
        search_window: int = SEARCH_WINDOW,
        busy_timeout_s: float = 10.0,
        migrations: Sequence[Migration] = SQLITE,
    ) -> None:
        self.path = path
        self.where = f"sqlite:///{path}"
        self._readers = readers
        self._query_timeout_s = query_timeout_s
        self._busy_timeout_s = busy_timeout_s
        self._search_window = search_window
        self._migrations = migrations
        self._writer: sqlite3.Connection | None = None
        self._idle: list[sqlite3.Connection] = []
        self._opened: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._read_limiter: anyio.CapacityLimiter | None = None
        self._write_limiter: anyio.CapacityLimiter | None = None

    # --- connections ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_s,
            isolation_level=None,  # explicit BEGIN/COMMIT: one transaction per batch
            check_same_thread=False,  # used by one worker thread at a time, never two
            cached_statements=256,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous = NORMAL")  # durable in WAL mode up to a power cut
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB of page cache per connection
        return conn

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = self._connect()
        try:
            self._use_wal(writer)
            self._migrate(writer)
        except BaseException:
            writer.close()
            raise
        self._writer = writer

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Switching the journal mode fails at once, without the busy handler's wait, while
        # another process opening the same new file switches it too: retry for as long.
        deadline = time.monotonic() + self._busy_timeout_s
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.02)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it
        try:
            conn.execute(SQLITE_VERSION_TABLE)
            current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
            for step in pending(current.fetchone()[0], self._migrations, self.where):
                for statement in step.statements:
                    try:
                        conn.execute(statement)
                    except sqlite3.Error as exc:
                        raise SchemaError(
                            f"the index at {self.where} could not be upgraded to schema "
                            f"version {step.version} ({step.description}): {exc}"
                        ) from exc
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at)"
                    " VALUES (?, ?, ?)",
                    (step.version, step.description, _ts(datetime.now(UTC))),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _reader(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._idle:
                return self._idle.pop()
        conn = self._connect()
        conn.execute("PRAGMA query_only = ON")
        with self._pool_lock:
            self._opened.append(conn)
        return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            self._idle.append(conn)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                conn = self._reader()
            except sqlite3.Error as exc:  # the file gone or unreadable: 503, not 500
                raise _unavailable(exc) from exc
            deadline = time.monotonic() + self._query_timeout_s
            # SQLite calls this every few thousand steps; a non-zero answer interrupts it
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            try:
                return work(conn)
            except sqlite3.Error as exc:
                raise _unavailable(exc) from exc
            finally:
                conn.set_progress_handler(None, 0)
                self._release(conn)

        if self._read_limiter is None:
            raise RuntimeError("the store is not open")
        return await anyio.to_thread.run_sync(run, limiter=self._read_limiter)

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        self._read_limiter = anyio.CapacityLimiter(self._readers)
        self._write_limiter = anyio.CapacityLimiter(1)
        try:
            await anyio.to_thread.run_sync(self._open_sync)
        except sqlite3.Error as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        with self._pool_lock:
            connections, self._opened, self._idle = self._opened, [], []
        if self._writer is not None:
            connections.append(self._writer)
            self._writer = None
        for conn in connections:
            conn.close()

    async def ping(self) -> None:
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())

    async def schema_version(self) -> int:
        def version(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])

        return await self._read(version)

    # --- writing --------------------------------------------------------------------------

    async def write(self, batch: Prepared) -> None:
        if self._write_limiter is None or self._writer is None:
            raise RuntimeError("the store is not open")
        writer = self._writer

        def run() -> None:
            try:
                self._write_sync(writer, batch)
            except sqlite3.Error as exc:
                raise _unavailable(exc) from exc

        await anyio.to_thread.run_sync(run, limiter=self._write_limiter)

    def _write_sync(self, c: sqlite3.Connection, batch: Prepared) -> None:
        now = _ts(datetime.now(UTC))
        c.execute("BEGIN IMMEDIATE")
        try:
            if batch.articles:
                c.executemany(_UPSERT_ARTICLE, [_article_params(r, now) for r in batch.articles])
            if batch.duplicates:
                c.executemany(
                    _UPSERT_DUPLICATE, [_article_params(r, now) for r in batch.duplicates]
                )
            recount = self._write_registry(c, batch, now) if batch.agreements else set()
            recount.update(self._write_copies(c, batch))
            c.executemany(_COUNT_MENTIONS, [(key,) for key in sorted(recount)])
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise

    def _write_registry(self, c: sqlite3.Connection, batch: Prepared, now: str) -> set[str]:
        """Merge the agreements and store the sightings; return the keys to count again."""
        keys = [a.key for a in batch.agreements]
        known: dict[str, AgreementState] = {}
        for chunk in _chunks(keys):
            rows = c.execute(f"SELECT * FROM agreements WHERE key IN ({_marks(len(chunk))})", chunk)
            known.update((row["key"], AgreementState.from_row(row)) for row in rows)
        merged = [known[a.key].merge(a) if a.key in known else a for a in batch.agreements]
        c.executemany(_UPSERT_AGREEMENT, [_agreement_params(m, now) for m in merged])
        c.executemany(
            "INSERT OR IGNORE INTO agreement_parties (party, agreement_key) VALUES (?, ?)",
            [(code, m.key) for m in merged for code in m.countries],
        )
        c.executemany(
            _UPSERT_SIGHTING,
            [
                (
                    s.key,
                    s.article_id,
                    s.digest,
                    s.url,
                    s.source,
                    s.source_key,
                    _day(s.published),
                    s.title,
                    s.record,
                    _ts(s.seen_at),
                    int(s.first),
                    int(s.alerted),
                    s.mentions,
                    s.sources,
                )
                for s in batch.sightings
            ],
        )
        return set(keys)

    def _write_copies(self, c: sqlite3.Connection, batch: Prepared) -> list[str]:
        """Bring agreement_copies up to date with the batch; return the keys whose copies changed.

        The articles whose link the batch may have changed are every duplicate in it and any
        original that was counted as a copy until now (see :func:`plan_copies`).
        """
        relinked = {r.id for r in batch.duplicates}
        for chunk in _chunks([r.id for r in batch.articles]):
            relinked.update(
                row[0]
                for row in c.execute(
                    "SELECT DISTINCT article_id FROM agreement_copies"
                    f" WHERE article_id IN ({_marks(len(chunk))})",
                    chunk,
                )
            )
        plan = plan_copies((s.article_id for s in batch.sightings), relinked)
        try:
            fetch = next(plan)
            while True:
                what, ids = fetch
                rows = [
                    tuple(row)
                    for chunk in _chunks(ids)
                    for row in c.execute(_FETCHES[what].format(ids=_marks(len(chunk))), chunk)
                ]
                fetch = plan.send(rows)
        except StopIteration as done:
            changes: CopyChanges = done.value
        c.executemany(
            "DELETE FROM agreement_copies WHERE agreement_key = ? AND article_id = ?",
            changes.gone,
        )
        c.executemany(
            "INSERT INTO agreement_copies (agreement_key, article_id, source_key) VALUES (?, ?, ?)",
            changes.new,
        )
        return changes.keys

    # --- reading --------------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> SearchPage:
        return await self._read(lambda conn: _search(conn, query, self._search_window))

    async def article(self, article_id: str) -> ArticleDetail | None:
        return await self._read(lambda conn: _article(conn, article_id))

    async def agreements(self, query: AgreementQuery) -> AgreementPage:
        return await self._read(lambda conn: _agreements(conn, query))

    async def agreement(self, key: str) -> AgreementDetail | None:
        return await self._read(lambda conn: _agreement(conn, key))

    async def network(self, query: NetworkQuery) -> Network:
        return await self._read(lambda conn: _network(conn, query))


def _search(conn: sqlite3.Connection, query: SearchQuery, window: int) -> SearchPage:
    # the words are looked for in the title and text only; each country is one more term
    match = f"{{title text}} : ({to_fts5(query.expression)})" + "".join(
        f' AND countries : "{code.lower()}"' for code in query.countries
    )
    params: dict[str, Any] = {"match": match}
    filters = []
    columns = []
    if query.source:
        columns.append("a.source_key = :source")
        params["source"] = query.source.casefold()
    if query.published_from:
        columns.append("a.published >= :published_from")
        params["published_from"] = query.published_from.isoformat()
    if query.published_to:
        columns.append("a.published <= :published_to")
        params["published_to"] = query.published_to.isoformat()
    if not query.duplicates:
        columns.append("a.duplicate_of IS NULL")
    if columns:
        # the covering index: the planner would rather read the wide rows by rowid
        filters.append(
            "EXISTS (SELECT 1 FROM articles a INDEXED BY articles_filters"
            f" WHERE a.seq = articles_fts.rowid AND {' AND '.join(columns)})"
        )
    matching = "articles_fts MATCH :match" + "".join(f" AND {f}" for f in filters)
    if query.after is not None:
        matching += " AND rowid >= :floor"
        params.update(floor=query.after.floor, score=query.after.score, seq=query.after.seq)
    keyset = " WHERE score < :score OR (score = :score AND seq < :seq)" if query.after else ""
    try:
        # One pass: FTS5 hands over matches newest first, so bm25 is computed for the
        # window only, however common the words; then the window is sorted by score.
        ranked = conn.execute(
            f"""
            WITH recent AS MATERIALIZED (
                SELECT rowid AS seq, -{BM25} AS score FROM articles_fts
                WHERE {matching} ORDER BY rowid DESC LIMIT :window
            )
            SELECT seq, score, min(seq) OVER () AS floor FROM recent{keyset}
            ORDER BY score DESC, seq DESC LIMIT :limit
            """,
            {**params, "window": window, "limit": query.limit + 1},
        ).fetchall()
        more = len(ranked) > query.limit
        ranked = ranked[: query.limit]
        if not ranked:
            return SearchPage(hits=[], next_cursor=None)
        snippets = _snippets(conn, match, [r["seq"] for r in ranked], has_prefix(query.expression))
    except sqlite3.OperationalError as exc:
        # to_fts5 quotes every word, so this is a safety net, not a path we expect
        if "fts5" in str(exc):
            raise QueryError(f"q: the search expression could not be run ({exc})") from exc
        raise
    details = {
        row["seq"]: row
        for row in conn.execute(
            "SELECT seq, id, url, source, published, title, countries, duplicate_of"
            f" FROM articles WHERE seq IN ({_marks(len(ranked))})",
            [r["seq"] for r in ranked],
        )
    }
    hits = [
        responses.hit({**dict(details[r["seq"]]), "score": r["score"]}, snippets.get(r["seq"], ""))
        for r in ranked
    ]
    if not more:
        return SearchPage(hits=hits, next_cursor=None)
    floor = query.after.floor if query.after else int(ranked[0]["floor"])
    last = ranked[-1]
    return SearchPage(
        hits=hits, next_cursor=query.cursor_after(float(last["score"]), int(last["seq"]), floor)
    )


_SNIPPET = (
    f"snippet(articles_fts, 1, char({ord(HIGHLIGHT_START)}), char({ord(HIGHLIGHT_END)}),"
    f" '…', {SNIPPET_TOKENS})"
)


def _snippets(
    conn: sqlite3.Connection, match: str, seqs: Sequence[int], prefix: bool
) -> dict[int, str]:
    """The highlighted passage of each hit, by the cheaper of two routes.

    A plain query seeks each hit (a lookup each). A prefix query cannot seek: every lookup
    would expand the prefix over the whole index again, so one pass walks the hits' rowid
    range instead (the ``+`` keeps SQLite from turning the IN list back into lookups).
    """
    if not prefix:
        sql = f"SELECT {_SNIPPET} FROM articles_fts WHERE articles_fts MATCH ? AND rowid = ?"
        return {seq: (conn.execute(sql, (match, seq)).fetchone() or [""])[0] for seq in seqs}
    rows = conn.execute(
        f"SELECT rowid, {_SNIPPET} FROM articles_fts WHERE articles_fts MATCH ?"
        f" AND rowid BETWEEN ? AND ? AND +rowid IN ({_marks(len(seqs))})",
        [match, min(seqs), max(seqs), *seqs],
    )
    return {row[0]: row[1] for row in rows}


_DUPLICATE_COLUMNS = (
    "id, url, source, published, title, duplicate_of, duplicate_method, duplicate_similarity,"
    " ingested_at"
)


def _article(conn: sqlite3.Connection, article_id: str) -> ArticleDetail | None:
    row = conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
    if row is None:
        return None
    duplicates = conn.execute(
        f"SELECT {_DUPLICATE_COLUMNS} FROM articles WHERE duplicate_of = ?"
        " ORDER BY ingested_at, id",
        (article_id,),
    ).fetchall()
    keys = conn.execute(
        "SELECT agreement_key FROM agreement_sightings WHERE article_id = ?"
        " UNION SELECT agreement_key FROM agreement_copies WHERE article_id = ?"
        " ORDER BY agreement_key",
        (article_id, article_id),
    ).fetchall()
    return responses.article(row, duplicates, [k[0] for k in keys])


def _registry_filters(query: AgreementQuery | NetworkQuery, params: dict[str, Any]) -> list[str]:
    """The WHERE conditions on agreements ``g`` that both the listing and the network use."""
    where = ["1 = 1"]
    for i, code in enumerate(query.parties):
        where.append(
            f"EXISTS (SELECT 1 FROM agreement_parties WHERE party = :party{i}"
            " AND agreement_key = g.key)"
        )
        params[f"party{i}"] = code
    if query.kind:
        where.append("g.kind = :kind")
        params["kind"] = query.kind
    if query.status:
        where.append("g.status = :status")
        params["status"] = query.status
    if query.signed_from:
        where.append("g.signed_to >= :signed_from")
        params["signed_from"] = query.signed_from.isoformat()
    if query.signed_to:
        where.append("g.signed_from <= :signed_to")
        params["signed_to"] = query.signed_to.isoformat()
    return where


def _agreements(conn: sqlite3.Connection, query: AgreementQuery) -> AgreementPage:
    params: dict[str, Any] = {"limit": query.limit + 1}
    where = _registry_filters(query, params)
    if query.after:
        where.append("(g.sort_date, g.first_seen_at, g.key) < (:sort_date, :first_seen, :key)")
        params["sort_date"] = query.after.sort_date
        params["first_seen"] = _ts(query.after.first_seen_at)
        params["key"] = query.after.key
    rows = conn.execute(
        f"SELECT * FROM agreements g WHERE {' AND '.join(where)}"
        " ORDER BY g.sort_date DESC, g.first_seen_at DESC, g.key DESC LIMIT :limit",
        params,
    ).fetchall()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    reporters: dict[str, list[responses.Row]] = {row["key"]: [] for row in rows}
    if rows:
        listed = conn.execute(
            f"""
            SELECT * FROM (
                SELECT s.*, row_number() OVER (
                    PARTITION BY agreement_key ORDER BY seen_at, article_id) AS n
                FROM (
                    SELECT agreement_key, article_id, min(seen_at) AS seen_at,
                           max(article_url) AS article_url, max(article_source) AS article_source,
                           max(article_published) AS article_published,
                           max(article_title) AS article_title
                    FROM agreement_sightings WHERE agreement_key IN ({_marks(len(rows))})
                    GROUP BY agreement_key, article_id
                ) s
            ) WHERE n <= {REPORTERS_LISTED} ORDER BY agreement_key, seen_at, article_id
            """,
            [row["key"] for row in rows],
        )
        for r in listed:
            reporters[r["agreement_key"]].append(r)
    page = [responses.agreement_summary(row, reporters[row["key"]]) for row in rows]
    cursor = None
    if more:
        last = page[-1]
        cursor = query.cursor_after(rows[-1]["sort_date"], last.first_seen_at, last.key)
    return AgreementPage(agreements=page, next_cursor=cursor)


def _agreement(conn: sqlite3.Connection, key: str) -> AgreementDetail | None:
    row = conn.execute("SELECT * FROM agreements WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    sightings = conn.execute(
        "SELECT * FROM agreement_sightings WHERE agreement_key = ?"
        " ORDER BY seen_at, article_id, record_digest",
        (key,),
    ).fetchall()
    copies = conn.execute(
        f"SELECT {_DUPLICATE_COLUMNS} FROM agreement_copies c"
        " JOIN articles ON articles.id = c.article_id WHERE c.agreement_key = ?"
        " ORDER BY ingested_at, id",
        (key,),
    ).fetchall()
    return responses.agreement_detail(row, sightings, copies)


def _network(conn: sqlite3.Connection, query: NetworkQuery) -> Network:
    params: dict[str, Any] = {}
    where = " AND ".join(_registry_filters(query, params))
    pairs = conn.execute(
        f"""
        SELECT a.party AS a, b.party AS b, g.kind AS kind, count(*) AS agreements,
               max(g.signed_to) AS latest
        FROM agreements g
        JOIN agreement_parties a ON a.agreement_key = g.key
        JOIN agreement_parties b ON b.agreement_key = g.key AND a.party < b.party
        WHERE {where}
        GROUP BY a.party, b.party, g.kind
        """,
        params,
    ).fetchall()
    nodes = conn.execute(
        f"""
        SELECT p.party AS party, count(*) AS agreements
        FROM agreements g JOIN agreement_parties p ON p.agreement_key = g.key
        WHERE {where} AND EXISTS (
            SELECT 1 FROM agreement_parties o
            WHERE o.agreement_key = g.key AND o.party <> p.party)
        GROUP BY p.party
        """,
        params,
    ).fetchall()
    return responses.network(pairs, nodes, query.limit)
