"""Settings common to every service, read from environment variables only.

Each service subclasses :class:`ServiceSettings`; defaults work on a laptop.
"""

from __future__ import annotations

import os
import socket

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    poll_ms: int = Field(default=100, ge=1, description="How long a read blocks waiting (ms).")
    shutdown_grace_s: float = Field(
        default=20.0, description="How long a graceful shutdown may take to finish in-flight work."
    )
