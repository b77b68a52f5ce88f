"""``pactwatch status``: the pipeline's backlog on one screen, read straight from Redis.

Every stream of the pipeline (the contracts' streams, the public alert stream, the notifier's
webhook queue) with its length and the entries added in the last minute; every consumer group
on it with its lag, pending count and consumers (with how long each has been idle); and the
dead-letter streams. It needs no pactwatch service, only Redis. How lag and the last minute
are measured: :mod:`pactwatch.backlog`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from pactwatch.backlog import Backlog, GroupState, StreamState
    from redis.asyncio import Redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CLEAR_SCREEN = "\x1b[H\x1b[2J"

EXIT_CODES = """\
exit status:
  0    the status was printed (with --watch: stopped with Ctrl-C)
  3    Redis could not be reached or read (without --watch; --watch keeps retrying)
"""


def _interval(text: str) -> float:
    value = float(text)
    if value < 0.1:
        raise argparse.ArgumentTypeError("must be 0.1 or more")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser(
        "status",
        help="streams, consumer groups, lag and dead letters at a glance",
        description="Every stream's length and entries added in the last minute; every "
        "consumer group's lag, pending entries and consumers (with idle times); dead letters. "
        "Read from Redis: no service needs to run.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument(
        "--watch", action="store_true", help="refresh every --interval seconds until Ctrl-C"
    )
    status.add_argument(
        "--interval",
        type=_interval,
        default=2.0,
        metavar="S",
        help="seconds between refreshes with --watch (default: %(default)s)",
    )
    status.add_argument(
        "--json",
        action="store_true",
        help="one JSON document (with --watch: one per line, per refresh)",
    )
    status.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        help="the pipeline's Redis (default: $REDIS_URL, else %(default)s)",
    )
    status.set_defaults(handler=show_status)


def show_status(args: argparse.Namespace) -> int:
    """Print the status once, or every ``--interval`` seconds with ``--watch``."""
    try:
        return asyncio.run(_run(args, sys.stdout))
    except KeyboardInterrupt:
        return 0 if args.watch else 130


def pipeline_streams() -> list[str]:
    """The streams ``pactwatch status`` shows, in the order articles flow through them."""
    from pactwatch.contracts import (
        AGREEMENTS_SIGHTED,
        ALERTS_STREAM,
        ARTICLES_DUPLICATES,
        ARTICLES_ENRICHED,
        ARTICLES_INGESTED,
        ARTICLES_UNIQUE,
        CONSUMED_STREAMS,
    )
    from pactwatch_notifier.webhook_worker import WEBHOOK_DELIVERIES

    ordered = [
        ARTICLES_INGESTED,
        ARTICLES_UNIQUE,
        ARTICLES_DUPLICATES,
        ARTICLES_ENRICHED,
        AGREEMENTS_SIGHTED,
        ALERTS_STREAM,
        WEBHOOK_DELIVERIES,
    ]
    # a stream a later contract adds is shown too, after the known ones
    extra = sorted({s for streams in CONSUMED_STREAMS.values() for s in streams} - set(ordered))
    return [*ordered, *extra]


def redacted(url: str) -> str:
    """``url`` without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    from pactwatch.backlog import dead_letter_stream, find_dead_letter_streams
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    redis = Redis.from_url(args.redis_url, socket_connect_timeout=5, socket_timeout=10)
    streams = pipeline_streams()
    dead_letters = [dead_letter_stream(s) for s in streams]
    scanned = False
    tty = out.isatty()
    try:
        while True:
            try:
                if not scanned:
                    # SCAN walks every key: once, for the dead letters of streams not listed
                    found = await find_dead_letter_streams(redis)
                    dead_letters = sorted({*dead_letters, *found})
                    scanned = True
                screen = await _screen(redis, args, streams, dead_letters)
            except (RedisError, OSError) as exc:
                message = f"pactwatch status: cannot read {redacted(args.redis_url)}: {exc}"
                if not args.watch:
                    print(message, file=sys.stderr)
                    return 3
                if args.json:  # stdout stays one JSON document per line
                    print(f"{message}; retrying", file=sys.stderr, flush=True)
                    screen = ""
                else:
                    screen = f"{message}; retrying\n"
            if args.watch and tty and not args.json:
                out.write(CLEAR_SCREEN)
            out.write(screen)
            if args.watch and screen and not tty and not args.json:
                out.write("\n")  # screens one after another in a file or a pipe
            out.flush()
            if not args.watch:
                return 0
            await asyncio.sleep(args.interval)
    finally:
        await redis.aclose()


async def _screen(
    redis: Redis, args: argparse.Namespace, streams: list[str], dead_letters: list[str]
) -> str:
    from pactwatch.backlog import read_backlog

    backlog = await read_backlog(redis, [*streams, *dead_letters])
    pipeline = [backlog.stream(s) for s in streams]
    letters = [backlog.stream(s) for s in dead_letters]
    if args.json:
        return to_json(backlog, pipeline, letters, redacted(args.redis_url)) + "\n"
    return render(backlog, pipeline, letters, redacted(args.redis_url))


def to_json(
    backlog: Backlog, streams: list[StreamState], dead_letters: list[StreamState], redis_url: str
) -> str:
    """The status as one JSON document (see ``pactwatch status --json``)."""
    import orjson
    from pactwatch.backlog import DEAD_LETTER_SUFFIX

    document: dict[str, Any] = {
        "redis": redis_url,
        "taken_at": _when(backlog.taken_at_ms).isoformat(timespec="milliseconds"),
        "streams": [asdict(s) for s in streams],
        "dead_letters": [
            {
                "stream": s.name,
                "source": s.name.removesuffix(DEAD_LETTER_SUFFIX),
                "length": s.length,
            }
            for s in dead_letters
            if s.exists
        ],
    }
    return orjson.dumps(document).decode()


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def idle(ms: int) -> str:
    """A duration in milliseconds as a person reads it: 0.4s, 12s, 5m03s, 2h10m, 3d04h."""
    seconds = ms / 1000
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _count(value: int | None, capped: bool) -> str:
    if value is None:
        return "-"
    return f">={value}" if capped else str(value)


def _consumers(group: GroupState) -> list[str]:
    if not group.consumers:
        return ["(none)"]
    return [
        f"{c.name} idle {idle(c.idle_ms)}" + (f", {c.pending} pending" if c.pending else "")
        for c in group.consumers
    ]


def render(
    backlog: Backlog, streams: list[StreamState], dead_letters: list[StreamState], redis_url: str
) -> str:
    """The status as a screen of text."""
    header = ["STREAM", "LENGTH", "LAST MIN", "GROUP", "LAG", "PENDING", "CONSUMERS"]
    rows: list[list[str]] = []
    for stream in streams:
        first = [
            stream.name,
            str(stream.length) if stream.exists else "-",
            _count(stream.last_minute, stream.last_minute_capped) if stream.exists else "-",
        ]
        if not stream.groups:
            rows.append([*first, "(no stream)" if not stream.exists else "(no group)", "", "", ""])
            continue
        for index, group in enumerate(stream.groups):
            lead = first if index == 0 else ["", "", ""]
            consumers = _consumers(group)
            rows.append(
                [
                    *lead,
                    group.name,
                    _count(group.lag, group.lag_capped),
                    str(group.pending),
                    consumers[0],
                ]
            )
            rows.extend(["", "", "", "", "", "", more] for more in consumers[1:])
    right = {1, 2, 4, 5}  # numbers are right-aligned
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(padded).rstrip()

    taken = _when(backlog.taken_at_ms).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"pactwatch status · {redis_url} · {taken}", "", line(header)]
    lines += [line(r) for r in rows]
    lines += ["", "DEAD LETTERS"]
    existing = [s for s in dead_letters if s.exists]
    if existing:
        width = max(len(s.name) for s in existing)
        lines += [f"{s.name.ljust(width)}  {s.length}" for s in existing]
    else:
        lines.append("(none)")
    return "\n".join(lines) + "\n"
