"""indexer's settings (environment variables, PACTWATCH_ prefix; INDEX_URL and PORT as is)."""

from pactwatch.settings import ServiceSettings
from pydantic import AliasChoices, Field, field_validator


class IndexerSettings(ServiceSettings):
    """Where the index lives and how the query API and the writer use it."""

    http_port: int = Field(
        default=8001,
        validation_alias=AliasChoices("PORT", "PACTWATCH_HTTP_PORT"),
        description="Port of the query API and health endpoints; honcho sets PORT.",
    )
    index_url: str = Field(
        default="sqlite:///.pactwatch/index.sqlite3",
        validation_alias=AliasChoices("INDEX_URL", "PACTWATCH_INDEX_URL"),
        description="sqlite:///path (embedded, the default) or postgresql://... (shared).",
    )
    pool_size: int = Field(
        default=8, ge=1, le=200, description="Database connections for queries (per process)."
    )
    query_timeout_s: float = Field(
        default=5.0, gt=0, description="A search or listing running longer is cut off (503)."
    )
    search_window: int = Field(
        default=10_000,
        ge=100,
        description="A search ranks at most this many matches, the most recent (speed bound).",
    )
    write_retry_s: float = Field(
        default=60.0,
        ge=0,
        description="How long a batch keeps retrying while the database is unavailable.",
    )
    sse_heartbeat_s: float = Field(
        default=4.0,
        gt=0,
        # the stream's XREAD blocks this long, and redis-py gives up on a read after 5 s
        le=4.0,
        description="A comment on /alerts/stream (the dashboard's live alerts) this often "
        "without an alert, so that proxies keep the connection open; at most 4 s.",
    )

    @field_validator("index_url")
    @classmethod
    def _known_backend(cls, url: str) -> str:
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("use sqlite:///path (embedded) or postgresql://... (shared)")
        return url
