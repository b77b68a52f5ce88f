"""pactwatch extractor."""
