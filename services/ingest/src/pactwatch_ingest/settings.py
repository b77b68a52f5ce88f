"""ingest's settings (environment variables, PACTWATCH_ prefix)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pactwatch.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

USER_AGENT = "pactwatch/0.1 (+https://github.com/pactwatch)"


class IngestSettings(ServiceSettings):
    """Limits on what one request may carry, how pages and feeds are fetched and polled."""

    http_host: str = "127.0.0.1"
    max_batch: int = Field(
        default=1000, ge=1, description="Articles per POST /articles or /articles/html at most."
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="Larger request bodies are refused (413)."
    )
    max_backlog: int = Field(
        default=100_000,
        ge=0,
        description="Articles the deduplicator may have unfinished (undelivered + pending) "
        "before ingest answers 429 with Retry-After (0: no limit).",
    )
    backlog_check_s: float = Field(
        default=1.0, gt=0, description="How often a process reads the backlog, at most."
    )
    retry_after_s: float = Field(
        default=5.0,
        gt=0,
        description="Retry-After of a 429 (backlog full) or 503 (Redis unavailable) answer.",
    )
    known_ttl_days: float = Field(
        default=30,
        ge=0,
        description="How long ingest remembers an article id to answer `known: true` when it "
        "comes again (0: never). Ingest publishes repeats anyway; the deduplicator decides.",
    )

    # --- every outbound fetch (feeds and pages) --------------------------------------------
    fetch_allow_private: bool = Field(
        default=False,
        description="Fetch from private, loopback and link-local addresses too (never multicast).",
    )
    fetch_allow_networks: Annotated[tuple[Network, ...], NoDecode] = Field(
        default=(),
        description="CIDRs allowed although not public (comma-separated), e.g. 127.0.0.1/32.",
    )
    fetch_connect_timeout_s: float = Field(default=5.0, gt=0, description="TCP + TLS set-up.")
    fetch_read_timeout_s: float = Field(default=15.0, gt=0, description="Silence between bytes.")
    fetch_total_timeout_s: float = Field(
        default=30.0, gt=0, description="Whole attempt, so that a slow drip cannot hold a fetch."
    )
    fetch_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="A response is cut here (stops reading)."
    )
    fetch_max_redirects: int = Field(default=5, ge=0, le=20, description="Hops followed at most.")
    fetch_retries: int = Field(
        default=2, ge=0, le=10, description="Retries of a transient failure (connect, 429, 5xx)."
    )
    fetch_backoff_s: float = Field(
        default=1.0, ge=0, description="First retry delay; doubles each time, with jitter."
    )
    fetch_backoff_max_s: float = Field(
        default=30.0, ge=0, description="Longest retry delay, and the most Retry-After honoured."
    )
    fetch_user_agent: str = Field(default=USER_AGENT, description="User-Agent of every fetch.")

    # --- feed polling ------------------------------------------------------------------------
    feeds_enabled: bool = Field(
        default=True, description="Poll the subscribed feeds in this process (every replica may)."
    )
    feed_prefix: str = Field(default="pactwatch:feeds", description="Prefix of the feed keys.")
    feed_default_every_s: int = Field(
        default=300, ge=1, description="Polling interval of a feed added without --every."
    )
    feed_min_every_s: int = Field(
        default=60, ge=1, description="Shortest polling interval a subscription may ask for."
    )
    feed_tick_s: float = Field(
        default=1.0, gt=0, description="How often the poller looks for feeds that are due."
    )
    feed_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="A replica holds a feed this long; renewed every third of it while it polls.",
    )
    feed_concurrency: int = Field(default=4, ge=1, le=256, description="Feeds polled at once.")
    feed_max_entries: int = Field(
        default=100, ge=1, description="Newest entries considered per poll; older ones wait."
    )
    feed_seen_ttl_days: float = Field(
        default=30,
        gt=0,
        description="An entry gone from its feed is forgotten after this; one still listed is not.",
    )
    feed_max_backoff_s: float = Field(
        default=6 * 3600.0, gt=0, description="Longest wait before retrying a failing feed."
    )

    @field_validator("fetch_allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(
                ipaddress.ip_network(part.strip(), strict=False)
                for part in value.split(",")
                if part.strip()
            )
        return value
