"""``python -m pactwatch_notifier``: run the notifier until SIGTERM/SIGINT."""

from pactwatch.service import run_worker

from pactwatch_notifier.app import app, settings


def main() -> None:
    run_worker("notifier", settings, app)


if __name__ == "__main__":
    main()
