"""``python -m pactwatch_extractor``: run the extractor until SIGTERM/SIGINT."""

from pactwatch.service import run_worker

from pactwatch_extractor.app import app, settings


def main() -> None:
    run_worker("extractor", settings, app)


if __name__ == "__main__":
    main()
