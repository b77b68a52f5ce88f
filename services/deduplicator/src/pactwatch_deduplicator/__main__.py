"""``python -m pactwatch_deduplicator``: run the deduplicator until SIGTERM/SIGINT."""

from pactwatch.service import run_worker

from pactwatch_deduplicator.app import app, settings


def main() -> None:
    run_worker("deduplicator", settings, app)


if __name__ == "__main__":
    main()
