"""``python -m pactwatch_notifier``: serve the notifier until SIGTERM/SIGINT."""

from pactwatch.http import serve

from pactwatch_notifier.app import create_app, settings


def main() -> None:
    serve("notifier", settings, create_app)


if __name__ == "__main__":
    main()
