"""``python -m pactwatch_indexer``: index the streams and serve the query API until SIGTERM."""

import sys

import anyio
import structlog
from pactwatch.http import serve
from pactwatch.logs import configure_logging

from pactwatch_indexer.app import create_app, settings, store
from pactwatch_indexer.store import SchemaError, UnavailableError

log = structlog.get_logger()


async def prepare_index() -> int:
    """Create or upgrade the schema before serving; say clearly why when that is refused."""
    try:
        await store.open()
    except SchemaError as exc:
        log.error("index.schema_refused", reason=str(exc))
        return 2
    except UnavailableError as exc:
        log.error("index.unavailable", where=store.where, reason=str(exc))
        return 1
    version = await store.schema_version()
    await store.close()
    log.info("index.ready", backend=store.backend, where=store.where, schema_version=version)
    return 0


def main() -> None:
    configure_logging("indexer", settings.log_level, settings.log_format)
    code = anyio.run(prepare_index)
    if code:
        sys.exit(code)
    serve("indexer", settings, create_app)


if __name__ == "__main__":
    main()
