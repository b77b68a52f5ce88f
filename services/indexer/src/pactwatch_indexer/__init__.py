"""pactwatch indexer."""
