"""``python -m pactwatch_ingest``: serve the ingest API until SIGTERM/SIGINT."""

from pactwatch.http import serve

from pactwatch_ingest.app import create_app, settings


def main() -> None:
    serve("ingest", settings, create_app)


if __name__ == "__main__":
    main()
