"""The index's schema, one numbered step at a time, for each backend.

A database records every step applied to it in ``schema_version``. Opening it applies the
steps it lacks, in order, in one transaction (an older database is upgraded in place); a
database that records a step this code does not know was written by a newer indexer, and
opening it is refused rather than risk writing rows that newer code would misread.

Rules for a new step: append it to both lists with the next number; never edit a released
step (databases that applied it would not see the change).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


class SchemaError(RuntimeError):
    """The database cannot be used by this version of the indexer."""


def pending(current: int, steps: Sequence[Migration], where: str) -> list[Migration]:
    """The steps to apply to a database at version ``current``; refuse a newer database."""
    latest = steps[-1].version
    if current > latest:
        raise SchemaError(
            f"the index at {where} has schema version {current}, but this indexer knows "
            f"versions up to {latest} only: it was written by a newer pactwatch-indexer. "
            "Run that version (or newer), or point INDEX_URL at another database."
        )
    return [step for step in steps if step.version > current]


def _check(steps: Sequence[Migration]) -> tuple[Migration, ...]:
    numbers = [step.version for step in steps]
    if numbers != list(range(1, len(steps) + 1)):
        raise AssertionError(f"migration versions must be 1..n in order, not {numbers}")
    return tuple(steps)


SQLITE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""

SQLITE = _check(
    [
        Migration(
            1,
            "articles and duplicates with FTS5 full-text search",
            (
                """
                CREATE TABLE articles (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    url TEXT,
                    source TEXT,
                    source_key TEXT,
                    published TEXT,
                    title TEXT NOT NULL,
                    text TEXT NOT NULL,
                    language TEXT,
                    notes TEXT NOT NULL,
                    entities TEXT NOT NULL,
                    countries TEXT NOT NULL,
                    agreements TEXT NOT NULL,
                    skipped TEXT,
                    truncated INTEGER NOT NULL,
                    ingested_at TEXT NOT NULL,
                    indexed_at TEXT NOT NULL,
                    duplicate_of TEXT,
                    duplicate_method TEXT,
                    duplicate_similarity REAL
                )
                """,
                # search filters read this small covering index, never the wide rows
                "CREATE INDEX articles_filters"
                " ON articles (seq, source_key, published, duplicate_of)",
                "CREATE INDEX articles_duplicate_of ON articles (duplicate_of)"
                " WHERE duplicate_of IS NOT NULL",
                # external content: the text is stored once, in articles; porter stems English
                # ("signed" finds "signing"), remove_diacritics folds "Türkiye" to "turkiye".
                # The countries column makes a country filter one more FTS term, merged with
                # the words' doclists, instead of a lookup per match.
                """
                CREATE VIRTUAL TABLE articles_fts USING fts5 (
                    title, text, countries,
                    content = 'articles', content_rowid = 'seq',
                    tokenize = 'porter unicode61 remove_diacritics 2'
                )
                """,
                """
                CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
                    INSERT INTO articles_fts (rowid, title, text, countries)
                    VALUES (new.seq, new.title, new.text, new.countries);
                END
                """,
                """
                CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
                    INSERT INTO articles_fts (articles_fts, rowid, title, text, countries)
                    VALUES ('delete', old.seq, old.title, old.text, old.countries);
                END
                """,
                # a redelivery rewrites the row with the same text: leave the index alone
                """
                CREATE TRIGGER articles_fts_update
                AFTER UPDATE OF title, text, countries ON articles
                WHEN old.title IS NOT new.title OR old.text IS NOT new.text
                    OR old.countries IS NOT new.countries
                BEGIN
                    INSERT INTO articles_fts (articles_fts, rowid, title, text, countries)
                    VALUES ('delete', old.seq, old.title, old.text, old.countries);
                    INSERT INTO articles_fts (rowid, title, text, countries)
                    VALUES (new.seq, new.title, new.text, new.countries);
                END
                """,
            ),
        ),
        Migration(
            2,
            "agreement registry: agreements, their parties and every sighting",
            (
                """
                CREATE TABLE agreements (
                    key TEXT PRIMARY KEY,
                    parties TEXT NOT NULL,
                    counterparts TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    title TEXT NOT NULL,
                    signatories TEXT NOT NULL,
                    signed_on TEXT,
                    signed_from TEXT NOT NULL,
                    signed_to TEXT NOT NULL,
                    sort_date TEXT NOT NULL,
                    status TEXT NOT NULL,
                    evidence TEXT NOT NULL,
                    confidence REAL NOT NULL,
                    first_seen_at TEXT NOT NULL,
                    first_article_id TEXT NOT NULL,
                    mentions INTEGER NOT NULL DEFAULT 0,
                    sources INTEGER NOT NULL DEFAULT 0,
                    updated_at TEXT NOT NULL
                )
                """,
                "CREATE INDEX agreements_newest ON agreements (sort_date, first_seen_at, key)",
                """
                CREATE TABLE agreement_parties (
                    party TEXT NOT NULL,
                    agreement_key TEXT NOT NULL,
                    PRIMARY KEY (party, agreement_key)
                ) WITHOUT ROWID
                """,
                """
                CREATE TABLE agreement_sightings (
                    agreement_key TEXT NOT NULL,
                    article_id TEXT NOT NULL,
                    record_digest TEXT NOT NULL,
                    article_url TEXT,
                    article_source TEXT,
                    source_key TEXT,
                    article_published TEXT,
                    article_title TEXT NOT NULL,
                    record TEXT NOT NULL,
                    seen_at TEXT NOT NULL,
                    is_first INTEGER NOT NULL,
                    alerted INTEGER NOT NULL,
                    reported_mentions INTEGER NOT NULL,
                    reported_sources INTEGER NOT NULL,
                    PRIMARY KEY (agreement_key, article_id, record_digest)
                )
                """,
                "CREATE INDEX agreement_sightings_article ON agreement_sightings (article_id)",
            ),
        ),
        Migration(
            3,
            "duplicates count as mentions of what their original reported",
            (
                # one row per agreement and duplicate article that counts for it: a copy (or a
                # copy of a copy) of an article that reported it. Kept as rows, not derived at
                # each count, so that a writer knows what a re-linked article counted for.
                """
                CREATE TABLE agreement_copies (
                    agreement_key TEXT NOT NULL,
                    article_id TEXT NOT NULL,
                    source_key TEXT,
                    PRIMARY KEY (agreement_key, article_id)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX agreement_copies_article ON agreement_copies (article_id)",
                """
                WITH RECURSIVE down(agreement_key, reporter, article_id) AS (
                    SELECT s.agreement_key, s.article_id, a.id
                    FROM agreement_sightings s JOIN articles a ON a.duplicate_of = s.article_id
                    UNION
                    SELECT down.agreement_key, down.reporter, a.id
                    FROM down JOIN articles a ON a.duplicate_of = down.article_id
                )
                INSERT INTO agreement_copies (agreement_key, article_id, source_key)
                SELECT DISTINCT down.agreement_key, down.article_id, a.source_key
                FROM down JOIN articles a ON a.id = down.article_id
                WHERE down.article_id <> down.reporter
                """,
                """
                UPDATE agreements SET
                    mentions = (SELECT count(*) FROM (
                        SELECT article_id FROM agreement_sightings
                        WHERE agreement_key = agreements.key
                        UNION
                        SELECT article_id FROM agreement_copies
                        WHERE agreement_key = agreements.key)),
                    sources = (SELECT count(DISTINCT source_key) FROM (
                        SELECT source_key FROM agreement_sightings
                        WHERE agreement_key = agreements.key
                        UNION ALL
                        SELECT source_key FROM agreement_copies
                        WHERE agreement_key = agreements.key))
                """,
            ),
        ),
    ]
)


POSTGRES_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

POSTGRES_MIGRATION_LOCK = 0x7061637477
"""Advisory lock held while migrating: replicas starting together upgrade the schema once."""

# Keys, ids and sort dates compare byte by byte (COLLATE "C"), as in SQLite: the same order on
# both backends, whatever the database's locale.
POSTGRES = _check(
    [
        Migration(
            1,
            "articles and duplicates with tsvector full-text search",
            (
                """
                CREATE TABLE articles (
                    id text COLLATE "C" PRIMARY KEY,
                    -- arrival order, as SQLite's rowid: the search window takes the newest
                    -- matches (deliberately unindexed, so the planner keeps to the GIN index)
                    seq bigint GENERATED ALWAYS AS IDENTITY,
                    url text,
                    source text,
                    source_key text,
                    published date,
                    title text NOT NULL,
                    text text NOT NULL,
                    language text,
                    notes jsonb NOT NULL,
                    entities jsonb NOT NULL,
                    countries text[] NOT NULL,
                    agreements jsonb NOT NULL,
                    skipped text,
                    truncated boolean NOT NULL,
                    ingested_at timestamptz NOT NULL,
                    indexed_at timestamptz NOT NULL,
                    duplicate_of text,
                    duplicate_method text,
                    duplicate_similarity double precision,
                    search tsvector NOT NULL
                )
                """,
                "CREATE INDEX articles_search ON articles USING gin (search)",
                "CREATE INDEX articles_countries ON articles USING gin (countries)",
                "CREATE INDEX articles_published ON articles (published)",
                "CREATE INDEX articles_source ON articles (source_key)",
                "CREATE INDEX articles_duplicate_of ON articles (duplicate_of)"
                " WHERE duplicate_of IS NOT NULL",
            ),
        ),
        Migration(
            2,
            "agreement registry: agreements, their parties and every sighting",
            (
                """
                CREATE TABLE agreements (
                    key text COLLATE "C" PRIMARY KEY,
                    parties jsonb NOT NULL,
                    countries text[] NOT NULL,
                    counterparts jsonb NOT NULL,
                    kind text NOT NULL,
                    title text NOT NULL,
                    signatories jsonb NOT NULL,
                    signed_on text,
                    signed_from date NOT NULL,
                    signed_to date NOT NULL,
                    sort_date text COLLATE "C" NOT NULL,
                    status text NOT NULL,
                    evidence jsonb NOT NULL,
                    confidence double precision NOT NULL,
                    first_seen_at timestamptz NOT NULL,
                    first_article_id text NOT NULL,
                    mentions integer NOT NULL DEFAULT 0,
                    sources integer NOT NULL DEFAULT 0,
                    updated_at timestamptz NOT NULL
                )
                """,
                "CREATE INDEX agreements_newest"
                " ON agreements (sort_date DESC, first_seen_at DESC, key DESC)",
                "CREATE INDEX agreements_countries ON agreements USING gin (countries)",
                """
                CREATE TABLE agreement_sightings (
                    agreement_key text COLLATE "C" NOT NULL,
                    article_id text COLLATE "C" NOT NULL,
                    record_digest text COLLATE "C" NOT NULL,
                    article_url text,
                    article_source text,
                    source_key text,
                    article_published date,
                    article_title text NOT NULL,
                    record jsonb NOT NULL,
                    seen_at timestamptz NOT NULL,
                    is_first boolean NOT NULL,
                    alerted boolean NOT NULL,
                    reported_mentions integer NOT NULL,
                    reported_sources integer NOT NULL,
                    PRIMARY KEY (agreement_key, article_id, record_digest)
                )
                """,
                "CREATE INDEX agreement_sightings_article ON agreement_sightings (article_id)",
            ),
        ),
        Migration(
            3,
            "duplicates count as mentions of what their original reported",
            (
                """
                CREATE TABLE agreement_copies (
                    agreement_key text COLLATE "C" NOT NULL,
                    article_id text COLLATE "C" NOT NULL,
                    source_key text,
                    PRIMARY KEY (agreement_key, article_id)
                )
                """,
                "CREATE INDEX agreement_copies_article ON agreement_copies (article_id)",
                # duplicate_of has the database's collation: compared in it, its index serves.
                # A copy is below a reporting article, never the reporting article itself.
                """
                WITH RECURSIVE down(agreement_key, reporter, article_id) AS (
                    SELECT s.agreement_key, s.article_id, a.id
                    FROM agreement_sightings s
                    JOIN articles a ON a.duplicate_of = s.article_id COLLATE "default"
                    UNION
                    SELECT down.agreement_key, down.reporter, a.id
                    FROM down JOIN articles a ON a.duplicate_of = down.article_id COLLATE "default"
                )
                INSERT INTO agreement_copies (agreement_key, article_id, source_key)
                SELECT DISTINCT down.agreement_key, down.article_id, a.source_key
                FROM down JOIN articles a ON a.id = down.article_id
                WHERE down.article_id <> down.reporter
                """,
                """
                UPDATE agreements g SET mentions = c.mentions, sources = c.sources
                FROM (
                    SELECT agreement_key, count(DISTINCT article_id) AS mentions,
                           count(DISTINCT source_key) AS sources
                    FROM (
                        SELECT agreement_key, article_id, source_key FROM agreement_sightings
                        UNION ALL
                        SELECT agreement_key, article_id, source_key FROM agreement_copies
                    ) m
                    GROUP BY agreement_key
                ) c
                WHERE g.key = c.agreement_key
                """,
            ),
        ),
    ]
)

LATEST = SQLITE[-1].version
if POSTGRES[-1].version != LATEST:
    raise AssertionError("both backends must have the same schema versions")
