"""``pactwatch``: the command line. Each command lives in its own module with ``register()``.

A command module adds its sub-parser and sets ``handler`` (a function of the parsed
arguments returning the exit code). Heavy imports (spaCy) happen inside handlers, so that
``pactwatch --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "pactwatch_cli.running",  # run: the whole pipeline locally
    "pactwatch_cli.query",  # search, agreements: ask the indexer's HTTP API
    "pactwatch_cli.ingesting",  # ingest: articles from files and directories
    "pactwatch_cli.feeds",  # feeds add/list/remove: RSS/Atom subscriptions
    "pactwatch_cli.alerts",  # alerts tail: follow the alert stream from Redis
    "pactwatch_cli.subscriptions",  # subscribe, subscriptions, unsubscribe: webhooks
    "pactwatch_cli.extraction",  # extract, eval: the extractor offline, scored on a corpus
    "pactwatch_cli.dedup",  # dedup: the deduplicator offline
    "pactwatch_cli.dlq",  # dlq list/replay: dead-lettered messages
    "pactwatch_cli.status",  # status: streams, groups, lag and dead letters from Redis
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pactwatch",
        description="Watch news streams for new bilateral agreements.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away ("pactwatch alerts tail | head"): stop quietly, as cat does;
        # stdout points at nothing from now on, so that the flush at exit cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command a pipe closed on
    return code


if __name__ == "__main__":
    sys.exit(main())
