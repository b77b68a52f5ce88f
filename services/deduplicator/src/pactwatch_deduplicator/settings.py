"""deduplicator's settings (environment variables, PACTWATCH_ prefix)."""

from pactwatch.settings import ServiceSettings
from pydantic import Field


class DeduplicatorSettings(ServiceSettings):
    """How long an article is remembered, and where."""

    window_days: float = Field(
        default=30, gt=0, description="An article is remembered this long; older claims expire."
    )
    key_prefix: str = Field(default="pactwatch:dedup:", description="Prefix of the claim keys.")
    near_threshold: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Jaccard similarity of 5-word shingles from which a text is a near-duplicate.",
    )
    consumers_per_stream: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Consumers of articles.ingested in one process: while one batch waits on "
        "its Redis claims, the next one is fingerprinted.",
    )
