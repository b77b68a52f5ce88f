"""ingest's settings (environment variables, PACTWATCH_ prefix)."""

from pactwatch.settings import ServiceSettings
from pydantic import Field


class IngestSettings(ServiceSettings):
    """Limits on what one request may carry."""

    http_host: str = "127.0.0.1"
    max_batch: int = Field(default=1000, ge=1, description="Articles per POST /articles at most.")
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="Larger request bodies are refused (413)."
    )
