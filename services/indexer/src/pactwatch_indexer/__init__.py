"""indexer: stores articles and agreements, and serves search and the registry over HTTP."""
