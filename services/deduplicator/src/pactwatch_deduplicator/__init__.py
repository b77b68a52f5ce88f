"""deduplicator: routes repeated articles aside so that they never reach the NLP."""
