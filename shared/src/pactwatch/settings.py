"""Settings common to every service, read from environment variables only.

Each service subclasses :class:`ServiceSettings`; defaults work on a laptop.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def consumer_name() -> str:
    """A consumer name unique per process, so that replicas in one group share the work."""
    return f"{socket.gethostname()}-{os.getpid()}"


class ServiceSettings(BaseSettings):
    """What every service reads: where Redis is, how to log, where to serve HTTP."""

    model_config = SettingsConfigDict(env_prefix="PACTWATCH_", extra="ignore")

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "PACTWATCH_REDIS_URL"),
        description="Redis for the streams; rediss:// and passwords work here.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: str = Field(
        default="auto", description="json, console, or auto (console on a terminal)."
    )
    http_host: str = Field(default="127.0.0.1", description="Interface of the HTTP endpoints.")
    http_port: int = Field(
        default=8080,
        validation_alias=AliasChoices("PORT", "PACTWATCH_HTTP_PORT"),
        description="Port of the HTTP endpoints (health, metrics, APIs); honcho sets PORT.",
    )
    batch_size: int = Field(default=64, ge=1, le=10_000, description="Messages read at once.")
    consumers_per_stream: int = Field(
        default=1,
        ge=1,
        le=32,
        description="Consumers of each stream in one process (one group, names <host>-<pid>-<n>). "
        "Above 1, a worker whose handler waits on Redis reads and handles the next batch "
        "meanwhile; a CPU-bound worker (the extractor) gains nothing from it.",
    )
    poll_ms: int = Field(default=100, ge=1, description="How long a read blocks waiting (ms).")
    shutdown_grace_s: float = Field(
        default=20.0, description="How long a graceful shutdown may take to finish in-flight work."
    )

    # --- delivery (pactwatch.delivery): at least once, nothing lost ---------------------------
    claim_idle_ms: int = Field(
        default=30_000,
        ge=100,
        description="An entry pending this long (its consumer died, or its handler failed) is "
        "claimed and delivered again, by any replica.",
    )
    max_deliveries: int = Field(
        default=5,
        ge=1,
        description="After this many failed deliveries an entry moves to <stream>.dlq.",
    )
    stream_keep_s: float = Field(
        default=3600.0,
        ge=0,
        description="Entries every group has acknowledged are trimmed from the pipeline's "
        "streams once older than this; unacknowledged entries are never trimmed.",
    )
    consumer_stale_s: float = Field(
        default=3600.0,
        gt=0,
        description="A consumer idle this long with nothing pending is deleted from its group.",
    )
    fail_article_ids: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="FOR FAULT-INJECTION TESTS ONLY: the handler fails on every message about "
        "one of these article ids (comma-separated). Empty, the default, in any real use.",
    )

    # --- access control (pactwatch.http) ------------------------------------------------------
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        repr=False,
        description="Comma-separated keys; when set, writes and administration over HTTP need "
        "`Authorization: Bearer <key>`.",
    )
    open_reads: bool = Field(
        default=True,
        description="With api_keys set, reads (GET searches, alerts) stay open to anyone.",
    )

    @field_validator("api_keys", "fail_article_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
