"""pactwatch cli."""
