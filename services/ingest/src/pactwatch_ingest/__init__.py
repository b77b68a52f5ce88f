"""ingest: accepts articles and publishes them to ``articles.ingested``."""
